"""What the model trains on: encoder input, counts, graphs and batches of the same cells."""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from ..graphs import PPMIGraph


@dataclass
class GraphData:
    """What the model trains on, for N cells and G genes.

    Attributes
    ----------
    features
        Encoder input ``(N, F)``: scaled log expression of the HVGs, or their PCA.
    counts
        Raw counts of the same genes ``(N, G)`` (sparse or dense).
    connectivities
        Normalised propagation matrix ``(N, N)``, sparse.
    edges
        Weighted graph whose non-zeros are the edges to reconstruct ``(N, N)``, sparse.
    batches
        Batch of each cell ``(N,)`` (any labels), or ``None`` when there is one batch.
    knn_connectivities
        The UMAP-weighted kNN graph ``(N, N)`` (``PPMIGraph.knn_connectivities``), whose
        Leiden clusters count the clusters with ``n_clusters: auto`` and
        ``cluster_count_graph: knn``; ``None`` when not needed.
    """

    features: np.ndarray
    counts: sp.spmatrix | np.ndarray
    connectivities: sp.spmatrix
    edges: sp.spmatrix
    batches: np.ndarray | None = None
    knn_connectivities: sp.spmatrix | None = None

    @classmethod
    def from_graph(
        cls,
        features: np.ndarray,
        counts: sp.spmatrix | np.ndarray,
        graph: PPMIGraph,
        batches: np.ndarray | None = None,
    ) -> GraphData:
        """The cells' ``features`` and ``counts`` with every graph of :class:`PPMIGraph`."""
        return cls(
            features=features,
            counts=counts,
            connectivities=graph.connectivities,
            edges=graph.ppmi,
            batches=batches,
            knn_connectivities=graph.knn_connectivities,
        )

    def __post_init__(self) -> None:
        n_cells = self.features.shape[0]
        shapes = {
            "counts": self.counts.shape[0],
            "connectivities": self.connectivities.shape[0],
            "edges": self.edges.shape[0],
        }
        if self.batches is not None:
            shapes["batches"] = len(self.batches)
        if self.knn_connectivities is not None:
            shapes["knn_connectivities"] = self.knn_connectivities.shape[0]
        mismatched = {name: n for name, n in shapes.items() if n != n_cells}
        if mismatched:
            raise ValueError(
                f"features have {n_cells} cells but {mismatched}; build the graph and the "
                "features from the same preprocessed cells."
            )


def encoder_features(adata: ad.AnnData, encoder_input: str):
    """The matrix the encoder reads: ``X`` or an ``obsm`` key (``training.encoder_input``)."""
    if encoder_input == "X":
        return adata.X
    if encoder_input not in adata.obsm:
        raise InputError(
            f"training.encoder_input '{encoder_input}' is neither 'X' nor a key of obsm; "
            f"available: {['X', *adata.obsm.keys()]}."
        )
    return adata.obsm[encoder_input]
