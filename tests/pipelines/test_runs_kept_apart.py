"""End to end: runs in one project folder cannot silently mix (a killed run, two at once)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import mlflow
import pytest

from .conftest import KEDRO, assert_succeeded, make_project_copy, run_kedro

pytestmark = pytest.mark.slow

EMBEDDED = "data/07_model_output/embedded_cells.h5ad"
# Long enough that the run is surely still training when it is killed.
LONG_TRAINING = "training.pretrain_epochs=100000"


def _start_kedro(root, *arguments: str) -> subprocess.Popen:
    environment = {**os.environ, "DO_NOT_TRACK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [KEDRO, "run", *arguments],
        cwd=root,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(process: subprocess.Popen, text: str, timeout: float = 600) -> str:
    """Read ``process``'s output until ``text`` appears; return what was read."""
    seen, deadline = [], time.monotonic() + timeout
    for line in process.stdout:
        seen.append(line)
        if text in line or time.monotonic() > deadline:
            break
    output = "".join(seen)
    assert text in output, output[-3000:]
    return output


def _runs(root):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("scimta_kedro")
    return client.search_runs([experiment.experiment_id], order_by=["start_time ASC"])


def test_a_run_killed_during_training_leaves_no_mix_that_clustering_accepts(tmp_path):
    root = make_project_copy(tmp_path)
    assert_succeeded(run_kedro(root))  # a finished analysis: every file is its own
    embedded_before = (root / EMBEDDED).read_bytes()

    # A new analysis (another seed), killed by its PID while it trains.
    process = _start_kedro(root, "--params", f"random_state=3,{LONG_TRAINING}")
    _wait_for(process, "pretraining")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    # Its early stages' files are the new analysis's, the embedding still the old one's.
    assert (root / EMBEDDED).read_bytes() == embedded_before

    result = run_kedro(root, "--pipelines", "clustering")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "come from different analyses" in output, output[-3000:]
    # The next run took over the killed run's lock and ended its MLflow run.
    statuses = [run.info.status for run in _runs(root)]
    assert statuses[0] == "FINISHED" and "RUNNING" not in statuses, statuses


def test_a_second_run_in_the_same_folder_is_refused_at_once(tmp_path):
    root = make_project_copy(tmp_path)
    first = _start_kedro(root, "--params", LONG_TRAINING)
    try:
        _wait_for(first, "pretraining")
        second = run_kedro(root)
        output = " ".join((second.stdout + second.stderr).split())
        assert second.returncode != 0
        assert f"another kedro run (PID {first.pid}) is running in this project folder" in output
        assert first.poll() is None  # the first run goes on
    finally:
        first.kill()
        first.wait(timeout=60)
