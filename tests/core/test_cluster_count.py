import itertools

import igraph as ig
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core import cluster_count
from scimta_kedro.core.cluster_count import partition_with_cluster_count


def _blobs(centres, per_blob=30, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    truth = np.repeat(np.arange(len(centres)), per_blob)
    points = np.asarray(centres, dtype=float)[truth] + rng.normal(
        scale=spread, size=(truth.size, len(centres[0]))
    )
    return points.astype(np.float32), truth


def _no_graph(n):
    return sp.csr_matrix((n, n))


@pytest.mark.parametrize("as_sparse", [False, True])
def test_splits_recover_the_groups_that_a_partition_merged(as_sparse):
    points, truth = _blobs([[0, 0], [0, 6], [20, 0], [20, 6]])
    merged = truth // 2  # blobs 0+1 and 2+3 together
    split = partition_with_cluster_count(
        merged,
        4,
        features=sp.csr_matrix(points) if as_sparse else points,
        adjacency=_no_graph(truth.size),
    )
    assert adjusted_rand_score(split, truth) == 1.0
    assert sorted(np.unique(split)) == [0, 1, 2, 3]


def test_the_split_taken_is_the_one_that_lowers_the_sum_of_squares_most():
    # Cluster "a" holds two blobs 10 apart, cluster "b" two blobs 2 apart.
    points, truth = _blobs([[0, 0], [10, 0], [50, 0], [52, 0]])
    partition = np.where(truth < 2, "a", "b")
    split = partition_with_cluster_count(
        partition, 3, features=points, adjacency=_no_graph(truth.size)
    )
    assert adjusted_rand_score(split, np.minimum(truth, 2)) == 1.0  # "a" split, "b" kept


def _planted_graph(sizes, within, between_pairs):
    """Weighted graph of cliques of ``sizes`` (weight ``within``) and, per listed pair of
    groups, ``weight`` on every edge between them."""
    truth = np.repeat(np.arange(len(sizes)), sizes)
    weights = np.where(truth[:, None] == truth[None, :], within, 0.0)
    for (a, b), weight in between_pairs.items():
        weights[np.ix_(truth == a, truth == b)] = weight
        weights[np.ix_(truth == b, truth == a)] = weight
    np.fill_diagonal(weights, 0.0)
    return sp.csr_matrix(weights), truth


def _modularity(adjacency, labels):
    upper = sp.triu(adjacency, k=1).tocoo()
    graph = ig.Graph(n=adjacency.shape[0], edges=np.column_stack([upper.row, upper.col]))
    return graph.modularity(labels.tolist(), weights=upper.data.tolist())


def test_a_merge_joins_the_pair_whose_union_keeps_the_most_modularity():
    adjacency, truth = _planted_graph(
        [10, 12, 8, 15], within=1.0, between_pairs={(0, 1): 0.3, (2, 3): 0.1, (1, 2): 0.05}
    )
    merged = partition_with_cluster_count(
        truth, 3, features=np.zeros((truth.size, 1)), adjacency=adjacency
    )
    # Every single merge, scored by igraph's modularity: ours is the best one.
    best = max(
        _modularity(adjacency, np.where(truth == b, a, truth))
        for a, b in itertools.combinations(range(4), 2)
    )
    assert _modularity(adjacency, merged) == pytest.approx(best)
    assert adjusted_rand_score(merged, np.where(truth == 1, 0, truth)) == 1.0
    # Two merges: the next best pair (2, 3) follows.
    twice = partition_with_cluster_count(
        truth, 2, features=np.zeros((truth.size, 1)), adjacency=adjacency
    )
    assert adjusted_rand_score(twice, truth // 2) == 1.0


def test_merges_summed_block_by_block_match_one_block(monkeypatch):
    adjacency, truth = _planted_graph(
        [10, 12, 8, 15, 9], within=1.0, between_pairs={(0, 1): 0.3, (2, 3): 0.2, (3, 4): 0.25}
    )
    features = np.zeros((truth.size, 1))
    whole = partition_with_cluster_count(truth, 2, features=features, adjacency=adjacency)
    monkeypatch.setattr(cluster_count, "ROWS_PER_BLOCK", 7)  # 54 rows: 8 blocks
    blocked = partition_with_cluster_count(truth, 2, features=features, adjacency=adjacency)
    np.testing.assert_array_equal(blocked, whole)
    assert np.unique(whole).size == 2


def test_a_partition_of_the_asked_size_is_kept():
    labels = np.array(["x", "y", "y", "z", "x"])
    kept = partition_with_cluster_count(
        labels, 3, features=np.eye(5), adjacency=_no_graph(5), random_state=3
    )
    assert adjusted_rand_score(kept, labels) == 1.0


@pytest.mark.filterwarnings(
    "ignore:Number of distinct clusters:sklearn.exceptions.ConvergenceWarning"
)
def test_identical_rows_that_cannot_be_split_are_an_error_naming_the_fix():
    points = np.zeros((6, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="lower training.n_clusters"):
        partition_with_cluster_count(
            np.zeros(6, dtype=int), 3, features=points, adjacency=_no_graph(6)
        )


def test_weights_between_clusters_are_the_graph_summed_over_cluster_pairs(monkeypatch):
    rng = np.random.default_rng(3)
    adjacency = sp.random(40, 40, density=0.2, random_state=4, dtype=np.float32)
    adjacency = sp.csr_matrix(adjacency + adjacency.T)
    labels = rng.integers(0, 4, size=40)
    membership = np.eye(4)[labels]
    expected = membership.T @ adjacency.toarray().astype(np.float64) @ membership
    monkeypatch.setattr(cluster_count, "ROWS_PER_BLOCK", 9)
    between = cluster_count.weights_between_clusters(adjacency, labels, 4)
    assert between.dtype == np.float64
    np.testing.assert_allclose(between, expected)


def test_partition_modularity_is_igraphs():
    adjacency, truth = _planted_graph(
        [10, 12, 8, 15], within=1.0, between_pairs={(0, 1): 0.3, (2, 3): 0.1, (1, 2): 0.05}
    )
    partitions = [truth, truth // 2, np.zeros_like(truth), np.arange(truth.size) % 3]
    for labels in partitions:
        assert cluster_count.partition_modularity(adjacency, labels) == pytest.approx(
            _modularity(adjacency, labels), abs=1e-12
        )
    string_labels = np.array(["x", "y"])[truth % 2]
    assert cluster_count.partition_modularity(adjacency, string_labels) == pytest.approx(
        _modularity(adjacency, truth % 2), abs=1e-12
    )
