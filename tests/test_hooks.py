"""The parameter checks that run before the first node: every key at every level."""

from __future__ import annotations

import os

import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset

from scimta_kedro.core.validate import InputError
from scimta_kedro.hooks import RunChecks
from scimta_kedro.pipelines.training.pipeline import create_pipeline as training

from .pipelines.conftest import PROJECT_ROOT


def _shipped_parameters() -> dict:
    parameters = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters*.yml")):
        parameters.update(yaml.safe_load(path.read_text()))
    return parameters


@pytest.fixture(autouse=True)
def _project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the lock and the data folder are the project's


def _check(parameters: dict) -> None:
    catalog = DataCatalog(datasets={"parameters": MemoryDataset(parameters)})
    checks = RunChecks()
    checks.before_pipeline_run(run_params={}, pipeline=training(), catalog=catalog)
    checks.after_pipeline_run(run_params={}, run_result={}, pipeline=training(), catalog=catalog)


def test_the_shipped_parameters_pass():
    _check(_shipped_parameters())


@pytest.mark.parametrize(
    ("section", "change", "named"),
    [
        ("training", {"target_frequency_exponent": -1.0}, "target_frequency_exponent must be"),
        ("training", {"n_clusters": 1}, "n_clusters must be"),
        ("training", {"latnt_dim": 8}, "unknown parameter training.latnt_dim"),
        # Sections the run's pipeline does not read are checked too: a typo anywhere stops it.
        ("imputation", {"value": "median"}, "imputation.value must be one of"),
        (
            "data_processing",
            {"preprocessing": {"min_genes": 5}},
            "unknown parameter data_processing.preprocessing.min_genes",
        ),
        (
            "graph_construction",
            {"gene_graph": {"metrc": "cosine"}},
            "unknown parameter graph_construction.gene_graph.metrc",
        ),
    ],
)
def test_a_bad_value_or_key_fails_naming_it_and_the_fix(section, change, named):
    parameters = _shipped_parameters()
    parameters[section] = {**parameters[section], **change}
    with pytest.raises(InputError, match="Invalid parameters") as raised:
        _check(parameters)
    assert named in str(raised.value) and "--params <section>.<key>=<value>" in str(raised.value)


def test_an_unknown_top_level_key_is_refused():
    # A mistyped input_path would otherwise analyse the built-in simulator instead.
    with pytest.raises(InputError, match="unknown parameter input_pth"):
        _check({**_shipped_parameters(), "input_pth": "cells.h5ad"})


def test_a_run_holds_the_project_lock_until_it_ends(tmp_path):
    catalog = DataCatalog(datasets={"parameters": MemoryDataset(_shipped_parameters())})
    first, second = RunChecks(), RunChecks()
    run_params = {"project_path": str(tmp_path)}
    first.before_pipeline_run(run_params=run_params, pipeline=training(), catalog=catalog)
    assert (tmp_path / ".scimta_run.lock").read_text().splitlines()[0] == str(os.getpid())
    # The same process may not run twice at once either: a second session would mix files.
    first.on_pipeline_error(error=None, run_params=run_params, pipeline=training(), catalog=catalog)
    assert not (tmp_path / ".scimta_run.lock").exists()
    second.before_pipeline_run(run_params=run_params, pipeline=training(), catalog=catalog)
    second.after_pipeline_run(
        run_params=run_params, run_result={}, pipeline=training(), catalog=catalog
    )
    assert not (tmp_path / ".scimta_run.lock").exists()


def test_the_mlflow_run_of_a_killed_run_is_ended_as_failed_by_the_next(tmp_path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        client = mlflow.MlflowClient()
        experiment = client.create_experiment("scimta_kedro")
        killed = client.create_run(experiment).info.run_id  # RUNNING, its process gone
        (tmp_path / ".scimta_run.lock").write_text(f"999999999\n{killed}")
        catalog = DataCatalog(datasets={"parameters": MemoryDataset(_shipped_parameters())})
        checks, run_params = RunChecks(), {"project_path": str(tmp_path)}
        checks.before_pipeline_run(run_params=run_params, pipeline=training(), catalog=catalog)
        assert client.get_run(killed).info.status == "FAILED"
        checks.after_pipeline_run(
            run_params=run_params, run_result={}, pipeline=training(), catalog=catalog
        )
    finally:
        mlflow.set_tracking_uri("")


def test_a_corrupt_mlflow_store_is_named_with_its_fix(tmp_path):
    from scimta_kedro.hooks import check_tracking_store

    store = tmp_path / "mlflow.db"
    check_tracking_store(store)  # absent: MLflow creates it
    store.write_bytes(b"not a database at all")
    with pytest.raises(InputError, match=r"mlflow.db is not an SQLite database.*Move it away"):
        check_tracking_store(store)


def test_a_read_only_mlflow_store_is_named_with_its_fix(tmp_path):
    from scimta_kedro.hooks import check_tracking_store

    store = tmp_path / "mlflow.db"
    store.write_bytes(b"SQLite format 3\x00" + bytes(100))
    store.chmod(0o400)
    try:
        if os.access(store, os.W_OK):
            pytest.skip("this user may write read-only files (root)")
        with pytest.raises(InputError, match="is not writable by this user"):
            check_tracking_store(store)
    finally:
        store.chmod(0o600)


def test_kedros_dataset_lines_come_back_with_scimta_verbose(monkeypatch):
    import logging

    from scimta_kedro.hooks import DATASET_LOGGERS, QuietLogs

    previous = {name: logging.getLogger(name).level for name in DATASET_LOGGERS}
    try:
        for name in DATASET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        monkeypatch.delenv("SCIMTA_VERBOSE", raising=False)
        QuietLogs().after_context_created(None)
        assert all(logging.getLogger(n).level == logging.WARNING for n in DATASET_LOGGERS)
        monkeypatch.setenv("SCIMTA_VERBOSE", "1")
        QuietLogs().after_context_created(None)
        assert all(logging.getLogger(n).level == logging.INFO for n in DATASET_LOGGERS)
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)


def test_quick_exit_registers_the_freeze_once_per_process(monkeypatch):
    import atexit
    import gc

    from scimta_kedro.hooks import QuickExit

    registered = []
    monkeypatch.setattr(atexit, "register", registered.append)
    monkeypatch.setattr(QuickExit, "registered", False)
    QuickExit().after_pipeline_run()
    QuickExit().after_pipeline_run()
    assert registered == [gc.freeze]


EXIT_PROBE = """
import gc, sys
gc.disable()
class Cycle:
    def __del__(self):
        print("collected", flush=True)
node = Cycle()
node.self = node
del node
if sys.argv[1] == "after a run":
    from scimta_kedro.hooks import QuickExit
    QuickExit().after_pipeline_run()
"""


@pytest.mark.parametrize(("when", "collected"), [("after a run", False), ("no run", True)])
def test_after_a_run_the_exit_skips_the_cycle_collector(when, collected):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, when], capture_output=True, text=True, check=True
    )
    assert ("collected" in result.stdout) == collected


@pytest.fixture
def ahead_module(tmp_path, monkeypatch):
    """A module that no test has imported, standing in for umap-learn."""
    import sys

    from scimta_kedro.hooks import ImportAhead

    name = "import_ahead_probe"
    (tmp_path / f"{name}.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(ImportAhead, "MODULE", name)
    monkeypatch.delitem(sys.modules, name, raising=False)
    yield name
    sys.modules.pop(name, None)


def _run_hook_over(pipeline) -> object:
    from scimta_kedro.hooks import ImportAhead

    hook = ImportAhead()
    hook.before_pipeline_run(run_params={}, pipeline=pipeline, catalog=None)
    for node in pipeline.nodes:
        hook.before_node_run(node=node)
    if hook.thread is not None:
        hook.thread.join(timeout=30)
    return hook


def test_import_ahead_loads_the_module_when_training_starts_in_a_run_that_draws_a_umap(
    ahead_module,
):
    import sys

    from scimta_kedro.pipelines.clustering.pipeline import create_pipeline as clustering

    hook = _run_hook_over(training() + clustering())
    assert hook.thread is not None and not hook.thread.is_alive()
    assert sys.modules[ahead_module].LOADED


def test_import_ahead_leaves_runs_without_a_umap_alone(ahead_module):
    import sys

    hook = _run_hook_over(training())
    assert hook.thread is None
    assert ahead_module not in sys.modules


def test_a_failed_import_ahead_raises_nothing_on_its_thread(ahead_module, tmp_path, monkeypatch):
    import sys
    import threading

    from scimta_kedro.pipelines.clustering.pipeline import create_pipeline as clustering

    (tmp_path / f"{ahead_module}.py").write_text("raise ImportError('no such library')\n")
    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    hook = _run_hook_over(training() + clustering())
    assert hook.thread is not None
    assert failures == []
    assert ahead_module not in sys.modules
