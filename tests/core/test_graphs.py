import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.graphs import (
    GraphConfig,
    build_ppmi_graph,
    keep_top_entries_per_row,
    knn_adjacency,
    random_surf,
)
from scimta_kedro.core.validate import InputError


def dense_reference(adjacency: np.ndarray, steps: int, restart: float) -> np.ndarray:
    """The published dense computation (DNGR surfing + PPMI), then D^-1/2 (W + I) D^-1/2."""
    n = adjacency.shape[0]
    transition = adjacency / adjacency.sum(axis=1, keepdims=True)
    alpha = 1.0 - restart
    state, total = np.eye(n), np.zeros((n, n))
    for _ in range(steps):
        state = alpha * state @ transition + (1 - alpha) * np.eye(n)
        total += state
    np.fill_diagonal(total, 0.0)
    total /= total.sum(axis=1, keepdims=True)
    rows, cols = total.sum(axis=1, keepdims=True), total.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore"):
        pmi = np.log(total.sum() * total / (rows @ cols))
    pmi[~np.isfinite(pmi) | (pmi < 0)] = 0.0
    weights = (pmi + pmi.T) / 2 + np.eye(n)
    degree = weights.sum(axis=1)
    return weights / np.sqrt(np.outer(degree, degree))


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(80, 6)).astype(np.float32)


@pytest.mark.parametrize(("steps", "restart", "block_size"), [(1, 0.02, 4096), (3, 0.1, 13)])
def test_sparse_graph_equals_dense_reference(points, steps, restart, block_size):
    config = GraphConfig(
        n_neighbors=6,
        surf_steps=steps,
        restart_probability=restart,
        max_entries_per_row=points.shape[0],
        block_size=block_size,
    )
    graph = build_ppmi_graph(points, config)
    expected = dense_reference(graph.knn.toarray(), steps, restart)
    np.testing.assert_allclose(graph.connectivities.toarray(), expected, atol=1e-6)


def test_graphs_are_sparse_symmetric_and_non_negative(points):
    graph = build_ppmi_graph(points, GraphConfig(n_neighbors=5, max_entries_per_row=20))
    for matrix in (graph.knn, graph.ppmi, graph.connectivities):
        assert sp.issparse(matrix)
        assert abs(matrix - matrix.T).max() < 1e-6
        assert matrix.min() >= 0
    assert graph.knn.diagonal().sum() == 0 and graph.ppmi.diagonal().sum() == 0
    assert np.all(graph.connectivities.diagonal() > 0)  # self loops


def test_pruning_bounds_entries_per_row(points):
    bound = 10
    surf = random_surf(
        knn_adjacency(points, GraphConfig(n_neighbors=6, max_entries_per_row=bound)),
        GraphConfig(n_neighbors=6, surf_steps=3, max_entries_per_row=bound),
    )
    assert np.diff(surf.indptr).max() <= bound
    graph = build_ppmi_graph(
        points, GraphConfig(n_neighbors=6, surf_steps=3, max_entries_per_row=bound)
    )
    # Symmetrising can at most double a row.
    assert graph.ppmi.nnz <= 2 * bound * points.shape[0]


def test_knn_connectivities_are_scanpys_weights_of_the_same_neighbours(points):
    import anndata as ad
    import scanpy as sc

    graph = build_ppmi_graph(points, GraphConfig(n_neighbors=7, knn_method="exact"))
    cells = ad.AnnData(np.zeros((points.shape[0], 1), dtype=np.float32))
    cells.obsm["X_pca"] = points
    # scanpy counts each cell among its own n_neighbors.
    sc.pp.neighbors(cells, n_neighbors=8, use_rep="X_pca")
    scanpy_weights = cells.obsp["connectivities"]
    assert abs(graph.knn_connectivities - scanpy_weights).max() < 1e-5
    assert (graph.knn_connectivities > 0).toarray().tolist() == (graph.knn > 0).toarray().tolist()


def test_knn_rows_hold_at_least_k_neighbours(points):
    knn = knn_adjacency(points, GraphConfig(n_neighbors=7))
    assert np.diff(knn.indptr).min() >= 7
    assert set(np.unique(knn.data)) == {1.0}


def test_approximate_knn_agrees_with_exact():
    points = np.random.default_rng(1).normal(size=(400, 5)).astype(np.float32)
    exact = knn_adjacency(points, GraphConfig(n_neighbors=10, knn_method="exact"))
    approximate = knn_adjacency(points, GraphConfig(n_neighbors=10, knn_method="approximate"))
    overlap = exact.multiply(approximate).nnz / exact.nnz
    assert overlap > 0.95


def test_keep_top_entries_keeps_the_largest_values():
    matrix = sp.csr_matrix(np.array([[5.0, 1.0, 3.0, 4.0], [0.0, 2.0, 0.0, 1.0]]))
    pruned = keep_top_entries_per_row(matrix, 2).toarray()
    np.testing.assert_array_equal(pruned, [[5.0, 0.0, 0.0, 4.0], [0.0, 2.0, 0.0, 1.0]])


def test_the_same_code_builds_a_gene_graph(points):
    """Genes reuse the cell code: any rows x features embedding works."""
    gene_embedding = np.random.default_rng(2).normal(size=(40, 8)).astype(np.float32)
    graph = build_ppmi_graph(gene_embedding, GraphConfig(n_neighbors=4, max_entries_per_row=10))
    assert graph.connectivities.shape == (40, 40)


def test_too_few_rows_for_k_is_a_clear_error(points):
    with pytest.raises(InputError, match=r"only 80 rows.*n_neighbors=100"):
        build_ppmi_graph(points, GraphConfig(n_neighbors=100, max_entries_per_row=200))


@pytest.mark.parametrize(
    "overrides",
    [
        {"surf_steps": 0},
        {"restart_probability": 1.0},
        {"max_entries_per_row": 5},
        {"knn_method": "x"},
    ],
)
def test_invalid_graph_parameters_are_rejected(overrides):
    with pytest.raises(ValueError):
        GraphConfig(**overrides)


def _top_entries_row_by_row(matrix: sp.csr_matrix, max_entries: int) -> np.ndarray:
    dense = matrix.toarray()
    pruned = np.zeros_like(dense)
    for row, values in enumerate(dense):
        stored = np.flatnonzero(values)
        # Largest first; among equal values the lower column (a stable sort of -value).
        kept = stored[np.argsort(-values[stored], kind="stable")[:max_entries]]
        pruned[row, kept] = values[kept]
    return pruned


def test_keep_top_entries_equals_a_row_by_row_selection_with_ties():
    rng = np.random.default_rng(4)
    # Values from a small set, so that many rows hold ties at their cut-off.
    dense = rng.integers(0, 4, size=(60, 80)).astype(np.float32) * (rng.random((60, 80)) < 0.5)
    matrix = sp.csr_matrix(dense)
    pruned = keep_top_entries_per_row(matrix, 7)
    np.testing.assert_array_equal(pruned.toarray(), _top_entries_row_by_row(matrix, 7))
    assert pruned.has_sorted_indices
    assert np.diff(pruned.indptr).max() == 7


def test_keep_top_entries_refuses_negative_values():
    matrix = sp.csr_matrix(np.array([[1.0, -2.0, 3.0]]))
    with pytest.raises(ValueError, match="non-negative"):
        keep_top_entries_per_row(matrix, 2)


@pytest.mark.parametrize("n_batches", [None, 3])
def test_knn_weights_are_umap_learns(n_batches):
    """The NumPy weights equal umap-learn's numba ``fuzzy_simplicial_set`` (what scanpy's
    ``sc.pp.neighbors`` weights with), within its bisection tolerance."""
    from umap.umap_ import fuzzy_simplicial_set

    from scimta_kedro.core.graphs import nearest_neighbour_table, umap_connectivities

    rng = np.random.default_rng(4)
    embedding = rng.normal(size=(400, 8)).astype(np.float32)
    embedding[:150] += 3.0
    batches = None if n_batches is None else rng.integers(0, n_batches, 400)
    table = nearest_neighbour_table(embedding, GraphConfig(n_neighbors=9), batches)
    n_rows, width = table.indices.shape
    own = np.arange(n_rows)[:, None]
    directed = sp.csr_matrix((n_rows, n_rows), dtype=np.float32)
    for start in range(0, width, table.block_width):
        block = slice(start, start + table.block_width)
        weights, _, _ = fuzzy_simplicial_set(
            sp.coo_matrix((n_rows, 1)),
            table.block_width + 1,
            None,
            None,
            knn_indices=np.hstack([own, table.indices[:, block]]),
            knn_dists=np.hstack([np.zeros((n_rows, 1), np.float32), table.distances[:, block]]),
            apply_set_operations=False,
        )
        directed = directed + sp.csr_matrix(weights)
    expected = directed + directed.T - directed.multiply(directed.T)
    ours = umap_connectivities(table)
    assert ours.nnz == sp.csr_matrix(expected).nnz
    np.testing.assert_allclose(ours.toarray(), expected.toarray(), atol=2e-5)


def test_smooth_knn_scales_give_each_row_log2_k_of_weight():
    from scimta_kedro.core.graphs.fuzzy import membership_strengths, smooth_knn_scales

    rng = np.random.default_rng(5)
    distances = np.sort(rng.gamma(2.0, size=(50, 11)).astype(np.float32), axis=1)
    distances[:, 0] = 0.0  # each row itself first, as scanpy passes it
    distances[7, 1:4] = 0.0  # duplicates of row 7: rho is its first positive distance
    sigma, rho = smooth_knn_scales(distances)
    assert rho[7] == distances[7, 4] and rho[0] == distances[0, 1]
    indices = np.tile(np.arange(100, 111), (50, 1))
    indices[:, 0] = np.arange(50)  # column 0 is the row itself: weight 0
    weights = membership_strengths(indices, distances)
    assert (weights[:, 0] == 0).all() and (sigma > 0).all()
    assert (weights[7, 1:5] == 1).all()  # at or below rho
    others = np.arange(50) != 7  # row 7's four weights of 1 already exceed log2(11)
    np.testing.assert_allclose(weights[others, 1:].sum(axis=1), np.log2(11), atol=1e-4)
