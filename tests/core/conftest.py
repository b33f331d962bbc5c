"""Fixtures of the core tests that need a trained model: trained once for all of them."""

from __future__ import annotations

import time
from dataclasses import replace

import psutil
import pytest

from scimta_kedro.core.dask_cluster import DaskConfig, dask_client
from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import simulate_counts
from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.tuning import ObjectiveConfig, TuningData

from ..simulated import FAST, SMALL_SIMULATION


@pytest.fixture(scope="package")
def planted():
    """Preprocessed cells of three well separated planted groups (with their counts before
    dropout), and their graph."""
    cells = preprocess_counts(
        simulate_counts(replace(SMALL_SIMULATION, keep_pre_dropout_counts=True)),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    graph = build_ppmi_graph(
        cells.obsm["X_pca"], GraphConfig(n_neighbors=10, max_entries_per_row=30)
    )
    # The encoder reads the PCA, as with the default training.encoder_input.
    data = GraphData.from_graph(cells.obsm["X_pca"], cells.layers[COUNTS_LAYER], graph)
    return cells, data


@pytest.fixture(scope="package")
def trained(planted):
    return train_graph_autoencoder(planted[1], TrainingConfig(**FAST))


# The tuning tests' objective and preprocessing: small, so that a trial takes seconds.
TINY_OBJECTIVE = ObjectiveConfig(evaluation_cells=100)
TUNING_PREPROCESSING = PreprocessConfig(n_pcs=10)


@pytest.fixture(scope="package")
def tuning_data():
    """The counts split of the planted groups, as every tuning trial shares it."""
    cells = preprocess_counts(
        simulate_counts(SMALL_SIMULATION),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    return TuningData.from_counts(cells.layers[COUNTS_LAYER], TINY_OBJECTIVE, TUNING_PREPROCESSING)


TWO_WORKERS = DaskConfig(n_workers=2, memory_limit="3GiB")


def _dask_processes() -> list[psutil.Process]:
    """Worker processes started by this test process. Python's multiprocessing resource
    tracker is left out: it is started once and lives until the interpreter exits."""
    processes = []
    for child in psutil.Process().children(recursive=True):
        command = " ".join(child.cmdline())
        if "multiprocessing" in command and "resource_tracker" not in command:
            processes.append(child)
    return processes


@pytest.fixture(scope="package")
def dask_client_of_two():
    """A local Dask cluster of two one-thread workers, for every Dask test; the fixture
    checks that closing it leaves no worker process behind."""
    before = {process.pid for process in _dask_processes()}
    with dask_client(TWO_WORKERS) as started:
        started.wait_for_workers(2, timeout=120)
        yield started
    deadline = time.monotonic() + 30
    while {p.pid for p in _dask_processes()} - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not {p.pid for p in _dask_processes()} - before, "the cluster left processes"
