"""Sparse graphs of cells and of genes: kNN -> random surfing -> PPMI -> normalisation.

``config`` holds the parameters, ``knn`` the neighbour search and the kNN graphs, ``ppmi``
the surfing, PPMI and normalisation steps and :func:`build_ppmi_graph`, which runs them all.
"""

from .config import EXACT_KNN_MAX_ROWS, GENE_GRAPH, GraphConfig
from .knn import (
    NeighbourTable,
    binary_knn_graph,
    knn_adjacency,
    nearest_neighbour_table,
    neighbours_per_batch,
    umap_connectivities,
)
from .ppmi import (
    PPMIGraph,
    build_ppmi_graph,
    keep_top_entries_per_row,
    ppmi,
    random_surf,
    row_normalize,
    symmetric_mean,
    symmetric_normalize,
)

__all__ = [
    "EXACT_KNN_MAX_ROWS",
    "GENE_GRAPH",
    "GraphConfig",
    "NeighbourTable",
    "PPMIGraph",
    "binary_knn_graph",
    "build_ppmi_graph",
    "keep_top_entries_per_row",
    "knn_adjacency",
    "nearest_neighbour_table",
    "neighbours_per_batch",
    "ppmi",
    "random_surf",
    "row_normalize",
    "symmetric_mean",
    "symmetric_normalize",
    "umap_connectivities",
]
