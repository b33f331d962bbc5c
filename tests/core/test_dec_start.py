"""The label-free number of clusters and DEC's start, on simulated data with a known k."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core import dec_start
from scimta_kedro.core.dec_start import dec_start_partition, estimated_cluster_count
from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import simulate_counts
from scimta_kedro.core.train import GraphData, TrainingConfig

from ..simulated import SMALL_SIMULATION


@pytest.fixture(scope="module")
def six_groups():
    """600 cells of six planted groups of unequal size (known k = 6) and their graphs."""
    simulation = replace(SMALL_SIMULATION, n_cells=600, n_groups=6)
    cells = preprocess_counts(
        simulate_counts(simulation),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    graph = build_ppmi_graph(
        cells.obsm["X_pca"], GraphConfig(n_neighbors=10, max_entries_per_row=30)
    )
    data = GraphData.from_graph(cells.obsm["X_pca"], cells.layers[COUNTS_LAYER], graph)
    return cells.obs["cell_type"].to_numpy(), data


@pytest.mark.parametrize("count_graph", ["knn", "ppmi"])
def test_the_default_count_finds_the_planted_number_of_groups(six_groups, count_graph):
    labels, data = six_groups
    config = TrainingConfig(cluster_count_graph=count_graph)
    assert estimated_cluster_count(data, config) == np.unique(labels).size == 6


def test_the_start_recovers_the_planted_groups_for_k_found_and_k_given(six_groups):
    labels, data = six_groups
    found = dec_start_partition(data, TrainingConfig())
    assert adjusted_rand_score(labels, found) > 0.95
    # Asked for more clusters than planted, the start splits groups rather than mixing them.
    split = dec_start_partition(data, TrainingConfig(n_clusters=8))
    assert np.unique(split).size == 8
    for cluster in np.unique(split):
        assert np.unique(labels[split == cluster]).size == 1


def test_a_graph_that_stays_whole_at_the_coarse_resolution_is_split_at_a_finer_one(
    six_groups, caplog
):
    _, data = six_groups
    n_cells = data.features.shape[0]
    # One clique: a single cluster at 0.3, split only at a resolution above 1.
    clique = replace(data, knn_connectivities=sp.csr_matrix(np.ones((n_cells, n_cells))))
    with caplog.at_level("INFO", logger="scimta_kedro.core.dec_start"):
        assert estimated_cluster_count(clique, TrainingConfig()) >= 2
    assert "single cluster in the kNN graph at resolution 0.3; trying 0.6" in caplog.text


def test_a_single_cluster_at_every_resolution_asks_for_k(six_groups, monkeypatch):
    _, data = six_groups
    monkeypatch.setattr(
        dec_start, "ensemble_leiden", lambda graph, **_: np.zeros(graph.shape[0], dtype=int)
    )
    with pytest.raises(ValueError, match="up to resolution 16; set training.n_clusters"):
        estimated_cluster_count(data, TrainingConfig())


def recorded_leiden_calls(monkeypatch, option: str) -> list:
    """The ``option`` of every Leiden call DEC's start makes from now on (Leiden still runs)."""
    calls = []
    original = dec_start.ensemble_leiden

    def recorded(graph, **options):
        calls.append(options[option])
        return original(graph, **options)

    monkeypatch.setattr(dec_start, "ensemble_leiden", recorded)
    return calls


def test_the_count_on_the_ppmi_graph_reuses_the_start_partition(six_groups, monkeypatch):
    _, data = six_groups
    calls = recorded_leiden_calls(monkeypatch, "resolution")
    start = dec_start_partition(data, TrainingConfig(cluster_count_graph="ppmi"))
    assert calls == [TrainingConfig().start_resolution]  # Leiden ran once, not twice
    assert np.unique(start).size == 6


def test_above_the_ensemble_limit_the_start_is_one_leiden_run(six_groups, monkeypatch, caplog):
    _, data = six_groups
    runs = recorded_leiden_calls(monkeypatch, "runs")
    n_cells = data.edges.shape[0]
    with caplog.at_level("INFO", logger="scimta_kedro.core.dec_start"):
        dec_start_partition(data, TrainingConfig(n_clusters=6, start_ensemble_max_cells=n_cells))
        dec_start_partition(
            data, TrainingConfig(n_clusters=6, start_ensemble_max_cells=n_cells - 1)
        )
    assert runs == [TrainingConfig().start_ensemble_runs, 1]
    assert f"more than training.start_ensemble_max_cells ({n_cells - 1})" in caplog.text
