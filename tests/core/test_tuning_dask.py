"""The tuning study on a Dask cluster of two local workers, started and stopped here."""

from __future__ import annotations

import os
import signal
import threading
import time

import optuna
import pytest

from scimta_kedro.core.dask_cluster import DaskConfig, dask_client
from scimta_kedro.core.params import section_config
from scimta_kedro.core.tuning import StudyConfig, local_storage_url, parse_search_space
from scimta_kedro.core.tuning_dask import WORKER_ATTRIBUTE, run_study_on_dask
from scimta_kedro.core.validate import InputError

from .conftest import TINY_OBJECTIVE
from .test_tuning import PARAMETERS, SPACE


def _run(client, tuning_data, study_config, finished):
    return run_study_on_dask(
        tuning_data,
        parse_search_space(SPACE, PARAMETERS),
        PARAMETERS,
        objective_config=TINY_OBJECTIVE,
        study_config=study_config,
        client=client,
        on_trial_finished=lambda trial, result: finished.append((trial, result)),
    )


def test_trials_are_spread_over_both_workers_and_reported_once(
    dask_client_of_two, tuning_data, tmp_path
):
    finished = []
    config = StudyConfig(n_trials=4, study_name="spread", storage=f"sqlite:///{tmp_path}/s.db")
    study = _run(dask_client_of_two, tuning_data, config, finished)

    assert sorted(trial.number for trial, _ in finished) == [0, 1, 2, 3]
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in study.trials)
    workers = {trial.user_attrs[WORKER_ATTRIBUTE] for trial in study.trials}
    assert workers == set(dask_client_of_two.scheduler_info()["workers"])
    # The first trial is the current parameters, as in the in-process study.
    assert study.trials[0].params["graph_construction.n_neighbors"] == 10
    for trial, result in finished:
        assert result.objective == pytest.approx(trial.value)
        assert trial.user_attrs["likelihood_gain"] == pytest.approx(result.likelihood_gain)
    # The study was kept in the SQLite file the scheduler opened: it resumes in-process.
    resumed = optuna.load_study(study_name="spread", storage=config.storage)
    assert len(resumed.trials) == 4


def test_the_pruner_on_a_worker_sees_the_trials_of_the_study(
    dask_client_of_two, tuning_data, tmp_path
):
    """Three finished trials with an unreachable training score: a new trial, trained on a
    worker, is below their median at its first report and is pruned there."""
    storage = f"sqlite:///{tmp_path}/pruned.db"
    config = StudyConfig(n_trials=5, study_name="pruned", storage=storage, pruning_warmup_epochs=0)
    earlier = optuna.create_study(study_name="pruned", storage=storage, direction="maximize")
    for _ in range(3):
        earlier.add_trial(
            optuna.trial.create_trial(value=1e9, intermediate_values={9: 1e9, 19: 1e9})
        )
    finished = []
    study = _run(dask_client_of_two, tuning_data, config, finished)

    new = [trial for trial in study.trials if trial.number >= 3]
    assert len(new) == 2
    assert all(trial.state == optuna.trial.TrialState.PRUNED for trial in new)
    assert all(list(trial.intermediate_values) == [9] for trial in new)
    assert [outcome for _, outcome in finished] == [None, None]


def test_a_worker_killed_mid_trial_leaves_that_trial_failed(
    dask_client_of_two, tuning_data, tmp_path
):
    storage = f"sqlite:///{tmp_path}/killed.db"
    config = StudyConfig(n_trials=3, study_name="killed", storage=storage)
    killed = {}
    # Created before the run, so that the thread below never races its schema creation.
    optuna.create_study(study_name="killed", storage=storage, direction="maximize")

    def kill_the_first_running_trial() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for trial in optuna.load_study(study_name="killed", storage=storage).trials:
                pid = trial.user_attrs.get("worker_pid")
                if trial.state == optuna.trial.TrialState.RUNNING and pid:
                    os.kill(pid, signal.SIGKILL)
                    killed["number"] = trial.number
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_first_running_trial)
    killer.start()
    finished = []
    study = _run(dask_client_of_two, tuning_data, config, finished)
    killer.join()

    states = {trial.number: trial.state for trial in study.trials}
    assert states[killed["number"]] == optuna.trial.TrialState.FAIL
    assert list(states.values()).count(optuna.trial.TrialState.COMPLETE) == 2, states
    assert len(finished) == 3
    dask_client_of_two.wait_for_workers(2, timeout=120)  # the nanny restarted the killed worker


@pytest.mark.parametrize(
    ("dask", "message"),
    [
        ({"scheduler_address": "tcp://10.0.0.5:8786", "n_workers": 2}, "not both"),
        ({"n_workers": 0}, "n_workers must be at least 1"),
    ],
)
def test_an_unusable_cluster_setting_is_named(dask, message):
    with pytest.raises(InputError, match=rf"tuning\.dask\.{message}|tuning\.dask.*{message}"):
        section_config("tuning", {"dask": dask})


def test_a_relative_sqlite_study_is_opened_at_the_same_file_by_the_scheduler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = local_storage_url("sqlite:///data/06_models/study.db")
    assert url == f"sqlite:///{tmp_path / 'data/06_models/study.db'}"
    assert (tmp_path / "data/06_models").is_dir()
    assert local_storage_url(None) is None
    assert local_storage_url("postgresql://host/db") == "postgresql://host/db"


def test_a_running_cluster_is_used_by_its_address_and_left_running(dask_client_of_two, tuning_data):
    address = dask_client_of_two.scheduler.address
    finished = []
    with dask_client(DaskConfig(scheduler_address=address)) as client:
        study = _run(client, tuning_data, StudyConfig(n_trials=2, study_name="remote"), finished)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    # Only the connection was closed: the cluster's workers are still there.
    assert len(dask_client_of_two.scheduler_info()["workers"]) == 2


def test_a_trial_whose_task_the_scheduler_forgot_is_failed_not_raised():
    from distributed.client import FutureCancelledError

    from scimta_kedro.core.tuning_dask import _tell

    class ForgottenTask:
        def result(self):
            raise FutureCancelledError("scimta-trial-0", "already forgotten")

    study = optuna.create_study(direction="maximize")
    frozen, result = _tell(study, study.ask(), ForgottenTask())
    assert frozen.state == optuna.trial.TrialState.FAIL and result is None
