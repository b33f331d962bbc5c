"""A throw-away copy of the Kedro project with tiny settings, for end-to-end runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    environment = {**os.environ, "DO_NOT_TRACK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
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
