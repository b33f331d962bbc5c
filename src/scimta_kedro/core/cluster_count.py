"""Bring a partition to a given number of clusters (DEC's start when the user sets k).

Leiden on the PPMI cell graph finds DEC's start; a number of clusters the user asks for rarely
matches its count. With too few clusters, the cluster whose 2-means split lowers the
within-cluster sum of squares of the encoder input most is split, one at a time (the step of
scikit-learn's ``BisectingKMeans(bisecting_strategy="largest_sse")``, started from the
Leiden clusters instead of from one cluster). With too many, the two clusters whose union
lowers the graph's modularity least are merged, one pair at a time (the step of Clauset,
Newman and Moore's greedy agglomeration, started from the Leiden clusters instead of from
single cells). Both keep what Leiden found and change only as much as the count needs.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans

# Rows of the graph whose weights are summed at once when clusters are merged.
ROWS_PER_BLOCK = 200_000


def partition_with_cluster_count(
    labels: np.ndarray,
    n_clusters: int,
    *,
    features: np.ndarray,
    adjacency: sp.spmatrix,
    random_state: int = 0,
) -> np.ndarray:
    """``labels`` split (on ``features``) or merged (on ``adjacency``) into ``n_clusters``.

    ``labels`` ``(N,)`` is any partition, ``features`` ``(N, F)`` the rows 2-means splits,
    ``adjacency`` the symmetric ``(N, N)`` graph whose modularity merges are judged by.
    Returns labels ``0..n_clusters-1``.
    """
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    found = int(codes.max()) + 1
    if found < n_clusters:
        return split_largest_sse(features, codes, n_clusters, random_state=random_state)
    if found > n_clusters:
        return merge_by_modularity(adjacency, codes, n_clusters)
    return codes


def split_largest_sse(
    features: np.ndarray, labels: np.ndarray, n_clusters: int, *, random_state: int = 0
) -> np.ndarray:
    """Split clusters of ``labels`` (codes ``0..K-1``) until there are ``n_clusters``.

    Each step splits the cluster whose best-of-10 2-means split lowers the sum of squares
    most; the two new clusters' splits are the only ones recomputed.
    """
    labels = labels.copy()

    def proposal(cluster: int) -> tuple[float, np.ndarray, np.ndarray] | None:
        members = np.flatnonzero(labels == cluster)
        if members.size < 2:
            return None
        points = features[members]
        points = points.toarray() if sp.issparse(points) else np.asarray(points)
        halves = KMeans(n_clusters=2, n_init=10, random_state=random_state).fit_predict(points)
        second = halves == 1
        sizes = np.array([np.count_nonzero(~second), np.count_nonzero(second)])
        if sizes.min() == 0:
            return None  # identical rows: no split
        # Ward's identity: the drop in the sum of squares is n0 n1 / n |m0 - m1|^2.
        gap = points[~second].mean(axis=0, dtype=np.float64) - points[second].mean(
            axis=0, dtype=np.float64
        )
        return float(sizes.prod() / sizes.sum() * gap @ gap), members, second

    next_label = int(labels.max()) + 1
    proposals = {cluster: proposal(cluster) for cluster in range(next_label)}
    while next_label < n_clusters:
        splittable = {cluster: split for cluster, split in proposals.items() if split}
        if not splittable:
            raise ValueError(
                f"Cannot split the cells into {n_clusters} clusters: each of the {next_label} "
                "clusters holds identical rows of the encoder input; lower training.n_clusters."
            )
        cluster = max(splittable, key=lambda candidate: splittable[candidate][0])
        _, members, second = splittable[cluster]
        labels[members[second]] = next_label
        proposals[cluster] = proposal(cluster)
        proposals[next_label] = proposal(next_label)
        next_label += 1
    return labels


def merge_by_modularity(adjacency: sp.spmatrix, labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """Merge clusters of ``labels`` (codes ``0..K-1``) until there are ``n_clusters``.

    Each step merges the pair whose union changes the modularity of ``adjacency`` most
    favourably: ``w_ab / W - v_a v_b / W^2`` (edge weight between them, their volumes, total
    weight ``W``), computed on the K x K matrix of weights between clusters.
    """
    n_found = int(labels.max()) + 1
    between = weights_between_clusters(adjacency, labels, n_found)
    volume = between.sum(axis=1)
    total = volume.sum()
    active = np.ones(n_found, dtype=bool)
    merged_into = np.arange(n_found)
    for _ in range(n_found - n_clusters):
        gain = between / total - np.outer(volume, volume) / total**2
        gain[~active, :] = -np.inf
        gain[:, ~active] = -np.inf
        np.fill_diagonal(gain, -np.inf)
        kept, absorbed = np.unravel_index(np.argmax(gain), gain.shape)
        between[kept, :] += between[absorbed, :]
        between[:, kept] += between[:, absorbed]
        between[absorbed, :] = 0.0
        between[:, absorbed] = 0.0
        volume[kept] += volume[absorbed]
        volume[absorbed] = 0.0
        active[absorbed] = False
        merged_into[merged_into == absorbed] = kept
    return np.unique(merged_into[labels], return_inverse=True)[1].ravel()


def partition_modularity(adjacency: sp.spmatrix, labels: np.ndarray) -> float:
    """Newman's modularity of ``labels`` on the symmetric weighted ``adjacency``, from the
    K x K weights between clusters: ``sum_c w_cc / W - (v_c / W)^2``."""
    codes = np.unique(labels, return_inverse=True)[1].ravel()
    between = weights_between_clusters(adjacency, codes, int(codes.max()) + 1)
    total = between.sum()
    return float(np.trace(between) / total - np.sum((between.sum(axis=1) / total) ** 2))


def weights_between_clusters(adjacency: sp.spmatrix, labels: np.ndarray, n_found: int):
    """``(K, K)`` sums of the weights of ``adjacency`` between clusters, in float64.

    Summed a block of rows at a time, so the graph (float32 at 1.3M cells) is never copied
    whole into float64.
    """
    adjacency = sp.csr_matrix(adjacency)
    between = np.zeros(n_found * n_found)
    for start in range(0, adjacency.shape[0], ROWS_PER_BLOCK):
        block = adjacency[start : start + ROWS_PER_BLOCK].tocoo()
        pairs = labels[block.row + start] * n_found + labels[block.col]
        between += np.bincount(pairs, weights=block.data.astype(np.float64), minlength=between.size)
    return between.reshape(n_found, n_found)
