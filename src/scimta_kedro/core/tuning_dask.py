"""The tuning study's trials as tasks on a Dask cluster.

The study lives on the scheduler, in ``optuna_integration.DaskStorage`` (which wraps the
configured storage: in memory, or the SQLite file that makes a study resumable). This
process asks the study for each trial, so the TPE sampler runs in one place; a worker trains
the trial, reports its losses to the shared storage and asks the pruner there, so pruning
sees the trials of every worker. This process then tells the study the result, and reports
each finished trial once (``on_trial_finished``: the nested MLflow run).

Workers reach the study through the scheduler only: no worker needs a database or a shared
file system. A trial whose worker dies is rescheduled by Dask on another worker; it finds
that it was started already and fails, so the study records it FAILED and goes on.

Unlike the in-process study, trials finish in any order, so the sampler's later suggestions
(and the study's best trial) can differ between two runs of the same seed.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from distributed.diagnostics.plugin import WorkerPlugin

from .dask_cluster import worker_count
from .tuning import (
    TRIAL_ERRORS,
    ObjectiveConfig,
    SearchDimension,
    StudyConfig,
    TrialResult,
    TuningData,
    create_study,
    local_storage_url,
    pruner,
    record_parts,
    suggested_options,
    train_and_score,
    trials_to_run,
)

logger = logging.getLogger(__name__)

# User attribute of a trial: the address of the worker that runs it.
WORKER_ATTRIBUTE = "dask_worker"


class TrialWorkerLost(RuntimeError):
    """The worker running a trial died; Dask started the trial again elsewhere."""


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial: the shared study and the trial's options."""

    study_name: str
    storage: Any  # the DaskStorage: it pickles as its name and finds the scheduler's copy
    data_plugin: str  # the name of the worker plugin that holds the study's TuningData
    trial_id: int
    options: dict[str, Any]
    objective_config: ObjectiveConfig
    study_config: StudyConfig


class StudyData(WorkerPlugin):
    """A study's :class:`TuningData` on every worker, on workers that join later too (a
    nanny restarts a killed worker with the scheduler's plugins).

    A scattered future lives in the scheduler's bookkeeping: when a worker that held a
    replica died, the scheduler could drop the data and cancel every trial depending on it,
    trials running on live workers included (the killed-worker test: all three trials
    FAILED in 2 of 3 full-suite runs).
    """

    def __init__(self, data: TuningData):
        self.data = data


def run_trial_on_worker(task: TrialTask) -> TrialResult:
    """A Dask task: train and score one trial that this process's study asked for."""
    from distributed import get_worker

    data = get_worker().plugins[task.data_plugin].data
    study = optuna.load_study(
        study_name=task.study_name, storage=task.storage, pruner=pruner(task.study_config)
    )
    trial = optuna.Trial(study, task.trial_id)
    started_on = trial.user_attrs.get(WORKER_ATTRIBUTE)
    if started_on:
        raise TrialWorkerLost(
            f"trial {trial.number} was running on worker {started_on}, which died; it is "
            "not started again."
        )
    trial.set_user_attr(WORKER_ATTRIBUTE, get_worker().address)
    trial.set_user_attr("worker_pid", os.getpid())
    try:
        return train_and_score(trial, task.options, data, task.objective_config, task.study_config)
    finally:
        gc.collect()


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError
    from distributed.scheduler import KilledWorker

    # The queue cancels futures only when it stops; a future that comes back cancelled was
    # dropped by the scheduler ("already forgotten") after its worker died mid-trial.
    return (TrialWorkerLost, KilledWorker, CommClosedError, FutureCancelledError)


def run_study_on_dask(
    data: TuningData,
    dimensions: list[SearchDimension],
    parameters: dict[str, Any],
    *,
    objective_config: ObjectiveConfig,
    study_config: StudyConfig,
    client,
    on_trial_finished: Callable[[optuna.trial.FrozenTrial, TrialResult | None], None] | None = None,
) -> optuna.Study:
    """Run (or resume) the study with its trials spread over ``client``'s workers, as many
    at a time as the workers have threads; arguments as
    :func:`scimta_kedro.core.tuning.run_study`.

    Returns the study copied into memory, so that it outlives the client.
    """
    from optuna_integration import DaskStorage

    storage = DaskStorage(local_storage_url(study_config.storage), client=client)
    study = create_study(study_config, storage)
    remaining = trials_to_run(study, dimensions, parameters, study_config)
    if remaining > 0:
        logger.info("Running %d trials on %d Dask workers.", remaining, worker_count(client))
        data_plugin = f"scimta-tuning-data-{study.study_name}-{os.urandom(4).hex()}"
        client.register_plugin(StudyData(data), name=data_plugin)
        try:
            _TrialQueue(study, client, remaining).run(
                lambda trial: TrialTask(
                    study.study_name,
                    storage,
                    data_plugin,
                    trial._trial_id,
                    suggested_options(trial, dimensions, parameters),
                    objective_config,
                    study_config,
                ),
                study_config.timeout_minutes,
                on_trial_finished,
            )
        finally:
            client.unregister_worker_plugin(data_plugin)
    in_memory = optuna.storages.InMemoryStorage()
    optuna.copy_study(from_study_name=study.study_name, from_storage=storage, to_storage=in_memory)
    return optuna.load_study(
        study_name=study.study_name, storage=in_memory, pruner=pruner(study_config)
    )


@dataclass
class _TrialQueue:
    """Keeps every worker busy with one trial until ``remaining`` trials have started."""

    study: optuna.Study
    client: Any
    remaining: int
    started: int = 0
    running: dict[str, tuple[optuna.Trial, Any]] = field(default_factory=dict)

    def run(self, make_task, timeout_minutes, on_trial_finished) -> None:
        from distributed import as_completed

        deadline = None if timeout_minutes is None else time.monotonic() + 60 * timeout_minutes

        def may_start() -> bool:
            out_of_time = deadline is not None and time.monotonic() >= deadline
            return self.started < self.remaining and not out_of_time

        finished = as_completed()

        def start() -> None:
            trial = self.study.ask()
            future = self.client.submit(
                run_trial_on_worker,
                make_task(trial),
                pure=False,
                key=f"scimta-trial-{self.study.study_name}-{trial.number}-{os.urandom(4).hex()}",
            )
            self.running[future.key] = (trial, future)
            finished.add(future)
            self.started += 1

        try:
            while may_start() and len(self.running) < worker_count(self.client):
                start()
            for future in finished:
                trial, _ = self.running.pop(future.key)
                frozen, result = _tell(self.study, trial, future)
                if on_trial_finished is not None:
                    on_trial_finished(frozen, result)
                if may_start():
                    start()
        except BaseException:
            for trial, pending in self.running.values():
                self.client.cancel(pending)
                self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise


def _tell(
    study: optuna.Study, trial: optuna.Trial, future
) -> tuple[optuna.trial.FrozenTrial, TrialResult | None]:
    """Record a finished task's trial in the study: COMPLETE, PRUNED or FAILED."""
    try:
        result = future.result()
    except optuna.TrialPruned:
        return study.tell(trial, state=optuna.trial.TrialState.PRUNED), None
    except (*TRIAL_ERRORS, *_lost_worker_errors()) as error:
        logger.warning("Trial %d failed: %s", trial.number, error)
        return study.tell(trial, state=optuna.trial.TrialState.FAIL), None
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    record_parts(trial, result)
    return study.tell(trial, result.objective), result
