"""Cluster-GCN style subgraphs: training steps that touch a bounded number of cells.

A graph convolution over all N cells costs O(N) per step, so on a million cells every step
of full-graph training is slow and the gradient tape holds N x hidden activations. As in
Cluster-GCN (Chiang et al. 2019) the cells are cut once into many small parts that keep most
graph edges inside a part (here: MiniBatchKMeans on the encoder input, whose kNN graph is the
cell graph), and each step trains on the subgraph induced by a random handful of parts. The
kNN graph is local in that space, so a subgraph keeps most of its cells' edges; edges leaving
it are dropped for that step and each row is rescaled to its full-graph weight, so a cell's
neighbourhood average keeps its scale.

When the graph has at most ``max_cells`` cells there is a single part: every step sees the
whole graph, exactly the full-batch computation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans

logger = logging.getLogger(__name__)

# A step joins about this many parts, so that its subgraph also holds edges between parts.
PARTS_PER_STEP = 10


@dataclass
class Subgraph:
    """The cells of one training step and their graphs restricted to them.

    Attributes
    ----------
    cells
        Sorted indices of the subgraph's cells in the full graph.
    connectivities
        Propagation matrix among ``cells`` (rows rescaled to their full-graph sums), CSR.
    edges
        Edge weights among ``cells`` (what the edge decoder reconstructs), CSR.
    """

    cells: np.ndarray
    connectivities: sp.csr_matrix
    edges: sp.csr_matrix


def partition_cells(
    features: np.ndarray, max_cells: int, random_state: int = 0
) -> np.ndarray | None:
    """Part of each cell ``(N,)``, or ``None`` when all ``N <= max_cells`` cells fit one step.

    Parts have about ``max_cells / PARTS_PER_STEP`` cells each (KMeans parts vary in size).
    """
    n_cells = features.shape[0]
    if n_cells <= max_cells:
        return None
    n_parts = int(np.ceil(n_cells * PARTS_PER_STEP / max_cells))
    logger.info("Cutting %d cells into %d parts for mini-batch training.", n_cells, n_parts)
    kmeans = MiniBatchKMeans(
        n_clusters=n_parts,
        batch_size=max(4096, 3 * n_parts),
        n_init=1,
        random_state=random_state,
    )
    return kmeans.fit_predict(np.asarray(features, dtype=np.float32))


class SubgraphSampler:
    """Draws the subgraph of each training step.

    Parameters
    ----------
    connectivities, edges
        Full propagation matrix and edge weights ``(N, N)``.
    parts
        Part of each cell from :func:`partition_cells`; ``None`` means the whole graph.
    max_cells
        Parts are added to a step's subgraph, in random order, while it has fewer cells.
    rng
        Source of the random part order.
    """

    def __init__(
        self,
        connectivities: sp.spmatrix,
        edges: sp.spmatrix,
        parts: np.ndarray | None,
        max_cells: int,
        rng: np.random.Generator,
    ) -> None:
        self._connectivities = sp.csr_matrix(connectivities)
        self._edges = sp.csr_matrix(edges)
        self._max_cells = max_cells
        self._rng = rng
        n_cells = self._connectivities.shape[0]
        if parts is None:
            self._whole = Subgraph(np.arange(n_cells), self._connectivities, self._edges)
            return
        self._whole = None
        order = np.argsort(parts, kind="stable")
        boundaries = np.flatnonzero(np.diff(parts[order])) + 1
        self._cells_of_part = np.split(order, boundaries)
        self._full_row_sums = np.asarray(self._connectivities.sum(axis=1)).ravel()

    @property
    def whole_graph_every_step(self) -> bool:
        """Whether every step sees the whole graph (unpartitioned)."""
        return self._whole is not None

    def sample(self) -> Subgraph:
        """A random subgraph, or the same whole-graph object every time when unpartitioned."""
        if self._whole is not None:
            return self._whole
        chosen, n_chosen = [], 0
        for part in self._rng.permutation(len(self._cells_of_part)):
            chosen.append(self._cells_of_part[part])
            n_chosen += chosen[-1].size
            if n_chosen >= self._max_cells:
                break
        cells = np.sort(np.concatenate(chosen))
        connectivities = self._connectivities[cells][:, cells]
        kept = np.asarray(connectivities.sum(axis=1)).ravel()
        scale = np.divide(self._full_row_sums[cells], kept, out=np.zeros_like(kept), where=kept > 0)
        connectivities = sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ connectivities)
        return Subgraph(cells, connectivities, self._edges[cells][:, cells].tocsr())
