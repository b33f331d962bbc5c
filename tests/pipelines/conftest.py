"""A throw-away copy of the Kedro project with tiny settings, for end-to-end runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kedro.io import MemoryDataset

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEDRO = str(Path(sys.executable).with_name("kedro"))

TINY_PARAMETERS = {
    "data_processing": {
        "simulation": {
            "n_cells": 240,
            "n_genes": 300,
            "n_groups": 3,
            "genes_per_programme": 30,
            "de_log_fold": 2.0,
            "library_log_mean": 7.0,
        },
        "preprocessing": {"min_genes_per_cell": 10, "n_top_genes": 200, "n_pcs": 15},
    },
    "graph_construction": {"n_neighbors": 10, "max_entries_per_row": 30},
    "training": {
        "hidden_units": [32],
        "decoder_units": [32],
        "latent_dim": 8,
        "pretrain_epochs": 12,
        "finetune_epochs": 6,
        "target_update_interval": 3,
        "expression_batch_size": 128,
    },
    "clustering": {"umap_neighbors": 10},
    "tuning": {
        "study": {"n_trials": 3, "pruning_warmup_epochs": 4, "report_every": 2},
        "objective": {"evaluation_cells": 100},
    },
}


def make_project_copy(root: Path) -> Path:
    """Copy the project's configuration into ``root`` and add tiny local parameters."""
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf")
    (root / "src").mkdir()  # the package itself is the installed one
    (root / "conf" / "local").mkdir(exist_ok=True)
    (root / "conf" / "local" / "parameters.yml").write_text(yaml.safe_dump(TINY_PARAMETERS))
    return root


def run_kedro(root: Path, *arguments: str) -> subprocess.CompletedProcess:
    """``kedro run ARGUMENTS`` in ``root``, exactly as a user types it; output captured.

    Each run is its own process, as on the command line (kedro-mlflow keeps per-process
    state, so several sessions in one process would share an MLflow run).
    """
    # Without the Makefile's TF_CPP_MIN_LOG_LEVEL: the project must quiet TensorFlow itself.
    environment = {
        **{name: value for name, value in os.environ.items() if name != "TF_CPP_MIN_LOG_LEVEL"},
        "DO_NOT_TRACK": "1",
    }
    return subprocess.run(
        [KEDRO, "run", *arguments],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def assert_succeeded(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def tiny_project(tmp_path_factory) -> Path:
    return make_project_copy(tmp_path_factory.mktemp("project"))


def _merged(base: dict, overrides: dict) -> dict:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merged(base[key], value)
        else:
            merged[key] = value
    return merged


def tiny_parameters(**overrides) -> dict:
    """conf/base's parameters with the tiny settings (and ``overrides``) merged in, as Kedro
    merges conf/local into conf/base."""
    parameters = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters*.yml")):
        parameters.update(yaml.safe_load(path.read_text()))
    return _merged(_merged(parameters, TINY_PARAMETERS), overrides)


class KeptDataset(MemoryDataset):
    """An in-memory dataset the runner cannot release, so a test reads every output."""

    def __init__(self, *data):
        super().__init__(*data, copy_mode="assign")

    def _release(self) -> None:
        pass


def run_slice(pipeline, parameters: dict, datasets: dict) -> dict:
    """Run ``pipeline`` with Kedro's ``SequentialRunner`` on an in-memory catalog holding
    ``datasets`` and the ``params:`` entries of ``parameters``; return every output.

    A transcoded dataset (``preprocessed_cells@counts``) is one object under all its names,
    as it is one file on disk.
    """
    from kedro.io import DataCatalog
    from kedro.runner import SequentialRunner

    entries = {"parameters": parameters, **{f"params:{k}": v for k, v in parameters.items()}}
    for name, value in datasets.items():
        entries[name] = value
        if name == "preprocessed_cells":
            for way in ("anndata", "annotations", "counts"):
                entries[f"preprocessed_cells@{way}"] = value
    catalog = DataCatalog(datasets={name: KeptDataset(value) for name, value in entries.items()})
    for output in pipeline.all_outputs():
        if output not in catalog:
            catalog[output] = KeptDataset()
    SequentialRunner().run(pipeline, catalog)
    outputs = {name.split("@")[0]: catalog.load(name) for name in pipeline.all_outputs()}
    return outputs


def run_stages(parameters: dict, stages: list[str]) -> dict:
    """The outputs of ``stages`` run one after another, each on what the earlier ones made."""
    from kedro.framework.project import configure_project, pipelines

    configure_project("scimta_kedro")
    datasets: dict = {}
    for stage in stages:
        datasets.update(run_slice(pipelines[stage], parameters, datasets))
    return datasets


UPSTREAM = ["data_processing", "graph_construction", "training", "clustering"]


@pytest.fixture(scope="session")
def tiny_run() -> tuple[dict, dict]:
    """The tiny parameters and the in-memory outputs of the stages up to clustering."""
    parameters = tiny_parameters()
    return parameters, run_stages(parameters, UPSTREAM)


@pytest.fixture(scope="session")
def tiny_batch_run() -> tuple[dict, dict]:
    """The same on simulated data with three batches and a strong, known batch effect."""
    parameters = tiny_parameters(
        batch_key="batch", data_processing={"simulation": {"n_batches": 3}}
    )
    return parameters, run_stages(parameters, UPSTREAM)
