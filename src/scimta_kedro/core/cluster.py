"""Label-free clustering helpers: Leiden, KMeans, cluster centroids, relabelling, UMAP."""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import igraph as ig
import numpy as np
import scanpy as sc
import scipy.sparse as sp
from scanpy._utils.random import set_igraph_random_state  # sc.tl.leiden's seeding (pinned)
from sklearn.cluster import KMeans

from .graphs import GraphConfig, nearest_neighbour_table, umap_connectivities
from .value_checks import check_ranges


@dataclass(frozen=True)
class ClusteringConfig:
    """The clustering stage's figure and score settings (the clusters themselves are DEC's).

    Attributes
    ----------
    umap_neighbors, umap_min_dist
        ``sc.pp.neighbors`` k and ``sc.tl.umap`` ``min_dist`` of the latent-space UMAP.
    umap_max_cells
        UMAP of at most this many cells (a seeded sample; the others get NaN); ``None``: all.
    umap_epochs
        Layout epochs of the UMAP (``sc.tl.umap``'s ``maxiter``); ``None``: umap-learn's
        choice, 500 up to 10k cells and 200 above.
    silhouette_sample_size
        Cells the silhouette is computed on (it is O(cells^2)).
    """

    umap_neighbors: int = 15
    umap_min_dist: float = 0.5
    umap_max_cells: int | None = 50000
    umap_epochs: int | None = 200
    silhouette_sample_size: int = 5000

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least={
                "umap_neighbors": 2,
                "umap_min_dist": 0,
                "umap_max_cells": 1,
                "umap_epochs": 1,
            },
            above={"silhouette_sample_size": 1},
        )


def leiden_on_embedding(
    embedding: np.ndarray,
    *,
    n_neighbors: int = 15,
    resolution: float = 1.0,
    random_state: int = 0,
) -> np.ndarray:
    """Leiden clusters of the kNN graph of ``embedding`` (scanpy's neighbour graph, see
    :func:`store_neighbour_graph`, + igraph Leiden).

    Returns integer labels ``(N,)``.
    """
    holder = ad.AnnData(obs={"index": np.arange(embedding.shape[0]).astype(str)})
    holder.obsm["X_embedding"] = np.asarray(embedding, dtype=np.float32)
    store_neighbour_graph(holder, "X_embedding", n_neighbors=n_neighbors, random_state=random_state)
    return leiden_on_graph(
        holder.obsp["connectivities"], resolution=resolution, random_state=random_state
    )


@dataclass(frozen=True)
class IgraphEdges:
    """A symmetric sparse graph as igraph holds it: each edge once, from the upper triangle.

    ``sources[i]``, ``targets[i]`` and ``weights[i]`` are edge ``i`` of ``graph``, so a
    partition's labels at the two ends of every edge are ``labels[sources]`` and
    ``labels[targets]``.
    """

    graph: ig.Graph
    sources: np.ndarray
    targets: np.ndarray
    weights: np.ndarray


def igraph_edges(adjacency: sp.spmatrix) -> IgraphEdges:
    """The weighted undirected igraph graph of a symmetric sparse ``(N, N)`` ``adjacency``.

    igraph gets each edge once, from the upper triangle, and its weights as one array.
    scanpy's ``sc.tl.leiden(flavor="igraph")`` passes both stored entries of every edge (a
    multigraph with every edge doubled) as a Python list of pairs, with the weights as an
    edge attribute: the same modularity for every partition (all weights scale alike; self
    loops, stored once, are halved here to keep that), at ~110 bytes per stored entry (14 GB
    for a 1.3M-cell PPMI graph) instead of ~16.
    """
    upper = sp.triu(adjacency, format="coo")
    stored = upper.data != 0
    sources, targets = upper.row[stored], upper.col[stored]
    weights = upper.data[stored].astype(np.float64)
    del upper, stored
    weights[sources == targets] /= 2.0
    graph = ig.Graph(n=adjacency.shape[0], directed=False)
    # add_edges on an array converts it without a Python list of pairs.
    graph.add_edges(np.column_stack([sources, targets]))
    return IgraphEdges(graph, sources, targets, weights)


def leiden_partition(
    edges: IgraphEdges,
    *,
    resolution: float = 1.0,
    random_state: int = 0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Leiden clusters (modularity) of ``edges``, with its own weights or ``weights``, one
    per edge. Returns integer labels ``(N,)``."""
    with set_igraph_random_state(random_state):
        partition = edges.graph.community_leiden(
            objective_function="modularity",
            weights=edges.weights if weights is None else weights,
            resolution=resolution,
            n_iterations=2,
        )
    return np.asarray(partition.membership)


def leiden_on_graph(
    adjacency: sp.spmatrix, *, resolution: float = 1.0, random_state: int = 0
) -> np.ndarray:
    """Leiden clusters (igraph, modularity) of a weighted undirected sparse graph ``(N, N)``.

    ``adjacency`` must be symmetric (see :func:`igraph_edges`). Returns integer labels
    ``(N,)``.
    """
    return leiden_partition(
        igraph_edges(adjacency), resolution=resolution, random_state=random_state
    )


def kmeans_labels(embedding: np.ndarray, n_clusters: int, random_state: int = 0) -> np.ndarray:
    """KMeans (best of 10 seeded starts) cluster of each row of ``embedding``: ``(N,)``.

    Training checks ``n_clusters`` against the number of cells before pretraining.
    """
    kmeans = KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state)
    return kmeans.fit_predict(np.asarray(embedding, dtype=np.float32))


def label_centroids(embedding: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean of each cluster's rows ``(n_labels, d)``, clusters in sorted label order."""
    values, codes = np.unique(labels, return_inverse=True)
    sums = np.zeros((values.size, embedding.shape[1]), dtype=np.float64)
    np.add.at(sums, codes.ravel(), embedding)
    return (sums / np.bincount(codes.ravel())[:, None]).astype(np.float32)


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..K-1 from the largest cluster down; of two clusters of one size, the
    one holding the earlier cell comes first, so the numbers depend on the partition only,
    not on which numbers the clustering gave it."""
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    first_cell = np.full(values.size, inverse.size, dtype=np.int64)
    np.minimum.at(first_cell, inverse, np.arange(inverse.size))
    new_label_of_value = np.empty(values.size, dtype=np.int64)
    new_label_of_value[np.lexsort((first_cell, -counts))] = np.arange(values.size)
    return new_label_of_value[inverse]


def umap_of_embedding(
    adata: ad.AnnData,
    use_rep: str,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.5,
    max_cells: int | None = None,
    epochs: int | None = None,
    random_state: int = 0,
) -> None:
    """Write ``obsm['X_umap']`` (and scanpy's neighbour graph) computed on ``obsm[use_rep]``.

    The neighbour graph is ``sc.pp.neighbors``' (exact kNN up to 8192 cells, UMAP weights),
    computed by :mod:`.graphs` so that UMAP's weights are not compiled by numba on every run.

    With more than ``max_cells`` cells the UMAP is laid out for a seeded random sample of
    ``max_cells`` of them (a figure cannot show more, and UMAP's cost grows with every cell);
    the other cells get NaN coordinates and no neighbour graph is stored.
    """
    if max_cells is None or adata.n_obs <= max_cells:
        store_neighbour_graph(adata, use_rep, n_neighbors=n_neighbors, random_state=random_state)
        sc.tl.umap(adata, min_dist=min_dist, maxiter=epochs, random_state=random_state)
        return
    sample = np.sort(
        np.random.default_rng(random_state).choice(adata.n_obs, max_cells, replace=False)
    )
    holder = ad.AnnData(obs={"index": adata.obs_names[sample]})
    holder.obsm[use_rep] = np.asarray(adata.obsm[use_rep])[sample]
    umap_of_embedding(
        holder,
        use_rep,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        epochs=epochs,
        random_state=random_state,
    )
    coordinates = np.full((adata.n_obs, 2), np.nan, dtype=np.float32)
    coordinates[sample] = holder.obsm["X_umap"]
    adata.obsm["X_umap"] = coordinates


def store_neighbour_graph(
    adata: ad.AnnData, use_rep: str, *, n_neighbors: int = 15, random_state: int = 0
) -> None:
    """Write what ``sc.pp.neighbors(adata, n_neighbors, use_rep=use_rep)`` writes
    (``obsp['connectivities']``, ``obsp['distances']``, ``uns['neighbors']``), so that
    ``sc.tl.umap`` and ``sc.tl.leiden`` read it. scanpy counts each cell among its own
    ``n_neighbors``."""
    # Only the kNN search of the config is used; its PPMI pruning bound just has to be valid.
    config = GraphConfig(
        n_neighbors=n_neighbors - 1, max_entries_per_row=n_neighbors, random_state=random_state
    )
    table = nearest_neighbour_table(np.asarray(adata.obsm[use_rep], dtype=np.float32), config)
    rows = np.repeat(np.arange(adata.n_obs), table.indices.shape[1])
    adata.obsp["distances"] = sp.csr_matrix(
        (table.distances.ravel(), (rows, table.indices.ravel())), shape=(adata.n_obs,) * 2
    )
    adata.obsp["connectivities"] = umap_connectivities(table)
    adata.uns["neighbors"] = {
        "connectivities_key": "connectivities",
        "distances_key": "distances",
        "params": {
            "n_neighbors": n_neighbors,
            "method": "umap",
            "random_state": random_state,
            "metric": "euclidean",
            "use_rep": use_rep,
        },
    }
