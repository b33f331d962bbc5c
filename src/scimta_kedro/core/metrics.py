"""Clustering quality: label-free (silhouette) and, when labels exist, ARI and NMI."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    normalized_mutual_info_score,
    silhouette_score,
)


def clustering_scores(
    embedding: np.ndarray,
    clusters: np.ndarray,
    true_labels: np.ndarray | None = None,
    *,
    silhouette_sample_size: int = 5000,
    random_state: int = 0,
) -> dict[str, float | int]:
    """Scores of a clustering.

    Parameters
    ----------
    embedding
        Coordinates ``(N, d)`` the silhouette is measured in.
    clusters
        Cluster of each cell ``(N,)``.
    true_labels
        Known cell types ``(N,)`` for ARI/NMI, or ``None``. Only reported, never optimised.
    silhouette_sample_size
        The silhouette is O(N^2); it is computed on a random subset of this many cells.

    Returns
    -------
    ``n_clusters``, ``silhouette`` (NaN for a single cluster) and, with labels, ``ari``, ``nmi``.
    """
    n_clusters = int(np.unique(clusters).size)
    scores = {"n_clusters": n_clusters, "silhouette": float("nan")}
    if 1 < n_clusters < embedding.shape[0]:
        scores["silhouette"] = float(
            silhouette_score(
                embedding,
                clusters,
                sample_size=min(silhouette_sample_size, embedding.shape[0]),
                random_state=random_state,
            )
        )
    if true_labels is not None:
        scores["ari"] = float(adjusted_rand_score(true_labels, clusters))
        scores["nmi"] = float(normalized_mutual_info_score(true_labels, clusters))
    return scores
