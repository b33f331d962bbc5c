"""The partition DEC starts from: Leiden on the PPMI cell graph, brought to k clusters."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from .cluster_count import partition_with_cluster_count
from .ensemble_leiden import ensemble_leiden

if TYPE_CHECKING:
    from .train import GraphData, TrainingConfig

logger = logging.getLogger(__name__)


def counts_clusters_on_knn(config: TrainingConfig) -> bool:
    """Whether the number of clusters is Leiden's count on the UMAP-weighted kNN graph."""
    return config.n_clusters == "auto" and config.cluster_count_graph == "knn"


# Resolutions are doubled up to this bound while Leiden finds a single cluster.
MAX_RESOLUTION = 16.0


def leiden_with_several_clusters(
    graph, resolution: float, random_state: int, what: str, runs: int = 1
) -> np.ndarray:
    """Leiden at ``resolution`` (an ensemble of ``runs``: :func:`ensemble_leiden`), doubled
    while it finds a single cluster.

    The coarse default resolutions find one cluster on weakly structured data (the default
    simulation at 0.3); a start or a count of one cluster carries no information, so the
    resolution is raised until the graph splits. Data with two or more clusters at the
    resolution asked are unaffected.
    """
    while True:
        labels = ensemble_leiden(graph, resolution=resolution, random_state=random_state, runs=runs)
        if np.unique(labels).size >= 2 or resolution * 2 > MAX_RESOLUTION:
            return labels
        logger.info(
            "Leiden finds a single cluster in the %s at resolution %g; trying %g.",
            what,
            resolution,
            resolution * 2,
        )
        resolution *= 2


def estimated_cluster_count(
    data: GraphData, config: TrainingConfig, start_labels: np.ndarray | None = None
) -> int:
    """The label-free number of clusters of ``n_clusters: auto``: Leiden's count, at
    ``config.leiden_resolution`` (doubled while it finds one cluster), on the graph
    ``config.cluster_count_graph`` names.

    ``start_labels``, the start's Leiden partition of the PPMI graph, is the count's own
    partition when both are that graph at one resolution: Leiden is then not run twice on
    the largest graph (48 s at 300k cells, benchmarks/results/graph_scaling.md).
    """
    on_knn = config.cluster_count_graph == "knn"
    graph, name = (data.knn_connectivities, "kNN graph") if on_knn else (data.edges, "cell graph")
    if (
        start_labels is not None
        and not on_knn
        and config.leiden_resolution == config.start_resolution
    ):
        labels = start_labels
    else:
        labels = leiden_with_several_clusters(
            graph, config.leiden_resolution, config.random_state, name
        )
    count = int(np.unique(labels).size)
    if count < 2:
        raise ValueError(
            f"Leiden found a single cluster in the {name} up to resolution {MAX_RESOLUTION:g}; "
            "set training.n_clusters explicitly."
        )
    logger.info("Leiden finds %d clusters on the %s.", count, name)
    return count


def start_ensemble_runs(n_cells: int, config: TrainingConfig) -> int:
    """The Leiden runs whose consensus is DEC's start on ``n_cells`` cells:
    ``config.start_ensemble_runs``, or one above ``config.start_ensemble_max_cells``: each
    run of the consensus is a Leiden run of the whole PPMI graph, which costs minutes at
    scale (the measured costs: conf/base/parameters_training.yml and docs/benchmarks.md,
    steps at scale).
    """
    limit = config.start_ensemble_max_cells
    if config.start_ensemble_runs > 1 and limit is not None and n_cells > limit:
        logger.info(
            "%d cells, more than training.start_ensemble_max_cells (%d): DEC's start is one "
            "Leiden run instead of the consensus of %d.",
            n_cells,
            limit,
            config.start_ensemble_runs,
        )
        return 1
    return config.start_ensemble_runs


def dec_start_partition(data: GraphData, config: TrainingConfig) -> np.ndarray:
    """The partition whose latent centroids start DEC: Leiden on the PPMI cell graph at
    ``config.start_resolution``, brought to the number of clusters (``config.n_clusters``, or
    for ``"auto"`` :func:`estimated_cluster_count`). Needs no training; benchmarks score it
    directly.

    Leiden on the kNN graph of a continuous latent space splits it into many more clusters
    than there are cell groups, and KMeans would cut the large cell types of imbalanced data
    into equal parts (DESC starts from Louvain for the same reason). The start is therefore a
    coarse Leiden partition whose clusters are split (2-means, the cluster whose split lowers
    the sum of squares most first) or merged (modularity) to the number of clusters
    (core/cluster_count.py): large types stay whole, and the splits follow the encoder
    input's largest distances. Starting coarse (resolution 0.3) and splitting measured better
    than starting at Leiden's own count, and better than bisecting the resolution to k, on
    every leave-one-dataset-out fold (docs/benchmarks.md: start partition). The coarse
    partition is the consensus of ``config.start_ensemble_runs`` seeded Leiden runs
    (core/ensemble_leiden.py; :func:`start_ensemble_runs`), which depends less on the seed
    than one run.
    """
    runs = start_ensemble_runs(data.edges.shape[0], config)
    logger.info(
        "Leiden on the cell graph (%d cells, %d stored edges; %d run%s).",
        data.edges.shape[0],
        data.edges.nnz,
        runs,
        "" if runs == 1 else "s",
    )
    labels = leiden_with_several_clusters(
        data.edges, config.start_resolution, config.random_state, "PPMI cell graph", runs=runs
    )
    found = int(np.unique(labels).size)
    n_clusters = (
        config.n_clusters
        if config.n_clusters != "auto"
        else estimated_cluster_count(data, config, start_labels=labels)
    )
    if found != n_clusters:
        logger.info(
            "Leiden found %d clusters in the PPMI graph at resolution %s; %s to %d.",
            found,
            config.start_resolution,
            "splitting" if found < n_clusters else "merging",
            n_clusters,
        )
    return partition_with_cluster_count(
        labels,
        n_clusters,
        features=data.features,
        adjacency=data.edges,
        random_state=config.random_state,
    )
