import numpy as np
import pytest

from scimta_kedro.core.cluster import relabel_by_size
from scimta_kedro.core.metrics import clustering_scores


def test_scores_of_a_perfect_and_a_random_clustering():
    rng = np.random.default_rng(0)
    truth = np.repeat([0, 1, 2], 50)
    embedding = rng.normal(size=(150, 2)) + truth[:, None] * 10
    perfect = clustering_scores(embedding, truth, truth)
    assert perfect["ari"] == pytest.approx(1.0) and perfect["nmi"] == pytest.approx(1.0)
    assert perfect["silhouette"] > 0.8 and perfect["n_clusters"] == 3
    shuffled = clustering_scores(embedding, rng.permutation(truth), truth)
    assert abs(shuffled["ari"]) < 0.1 and shuffled["silhouette"] < 0.1


def test_without_labels_only_label_free_scores():
    scores = clustering_scores(np.eye(4), np.array([0, 0, 1, 1]))
    assert set(scores) == {"n_clusters", "silhouette"}


def test_single_cluster_has_no_silhouette():
    assert np.isnan(clustering_scores(np.eye(4), np.zeros(4))["silhouette"])


def test_relabel_by_size_numbers_the_largest_cluster_zero():
    np.testing.assert_array_equal(relabel_by_size(np.array([7, 3, 3, 3, 7, 9])), [1, 0, 0, 0, 1, 2])


def test_equal_size_clusters_are_numbered_by_their_first_cell_whatever_their_labels():
    # The same partition under two labellings (as two runs' DEC heads may number it).
    first = relabel_by_size(np.array([5, 5, 2, 2, 8]))
    second = relabel_by_size(np.array([1, 1, 4, 4, 0]))
    np.testing.assert_array_equal(first, [0, 0, 1, 1, 2])
    np.testing.assert_array_equal(second, first)
