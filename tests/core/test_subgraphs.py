import numpy as np
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.train import TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.train.subgraphs import SubgraphSampler, partition_cells

from ..simulated import FAST


def _blobs(n_cells: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(4, 5))
    return (centres[rng.integers(0, 4, n_cells)] + rng.normal(size=(n_cells, 5))).astype(np.float32)


def test_small_graphs_are_one_part_and_every_step_sees_all_of_them():
    features = _blobs(200)
    graph = build_ppmi_graph(features, GraphConfig(n_neighbors=8, max_entries_per_row=20))
    assert partition_cells(features, max_cells=200) is None
    sampler = SubgraphSampler(graph.connectivities, graph.ppmi, None, 200, np.random.default_rng(0))
    subgraph = sampler.sample()
    np.testing.assert_array_equal(subgraph.cells, np.arange(200))
    assert (subgraph.connectivities != graph.connectivities).nnz == 0


def test_subgraphs_are_bounded_keep_most_edges_and_their_row_scale():
    features = _blobs(3000)
    graph = build_ppmi_graph(features, GraphConfig(n_neighbors=10, max_entries_per_row=30))
    parts = partition_cells(features, max_cells=500, random_state=0)
    assert np.unique(parts).size == 60  # 3000 cells x 10 parts per step / 500
    sampler = SubgraphSampler(
        graph.connectivities, graph.ppmi, parts, 500, np.random.default_rng(0)
    )
    full_rows = np.asarray(graph.connectivities.sum(axis=1)).ravel()
    seen = np.zeros(3000, dtype=bool)
    for _ in range(20):
        subgraph = sampler.sample()
        cells = subgraph.cells
        seen[cells] = True
        # Parts are added until the bound is reached: one part may overshoot it.
        assert 500 <= cells.size < 500 + np.bincount(parts).max()
        assert np.all(np.diff(cells) > 0)
        np.testing.assert_allclose(
            np.asarray(subgraph.connectivities.sum(axis=1)).ravel(), full_rows[cells], rtol=1e-5
        )
        # KMeans parts follow the kNN structure: most edge weight stays inside a subgraph
        # (a random 1/6 of the cells would keep about 1/6 of it).
        inside = graph.ppmi[cells][:, cells].sum() / graph.ppmi[cells].sum()
        assert inside > 0.5
        assert subgraph.edges.shape == (cells.size, cells.size)
    assert seen.mean() > 0.95


def test_mini_batch_training_recovers_the_planted_groups_like_full_batch(planted, trained):
    cells, data = planted
    result = train_graph_autoencoder(data, TrainingConfig(**FAST, max_cells_per_step=120))
    truth = cells.obs["cell_type"]
    mini_batch_ari = adjusted_rand_score(truth, result.soft_assignment.argmax(axis=1))
    full_batch_ari = adjusted_rand_score(truth, trained.soft_assignment.argmax(axis=1))
    assert mini_batch_ari > 0.85
    assert mini_batch_ari > full_batch_ari - 0.1
    assert result.latent.shape == trained.latent.shape


def test_mini_batch_training_is_reproducible(planted):
    config = TrainingConfig(
        **{**FAST, "pretrain_epochs": 10, "finetune_epochs": 6}, max_cells_per_step=120
    )
    first = train_graph_autoencoder(planted[1], config)
    second = train_graph_autoencoder(planted[1], config)
    np.testing.assert_allclose(first.latent, second.latent, atol=1e-5)
    assert sp.issparse(planted[1].connectivities)
