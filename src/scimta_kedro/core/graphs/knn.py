"""Nearest-neighbour tables and the two kNN graphs built from them: binary and UMAP-weighted.

With batches, each row takes its neighbours from every batch (BBKNN-style), so the graph
links the same cell type across batches.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..validate import check_enough_observations
from .config import EXACT_KNN_MAX_ROWS, GraphConfig
from .fuzzy import membership_strengths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NeighbourTable:
    """Each row's nearest neighbours, itself excluded: ``indices`` and ``distances``, both
    ``(N, m)``, in blocks of ``block_width`` columns (one block per batch, or a single block
    without batches), nearest first within each block."""

    indices: np.ndarray
    distances: np.ndarray
    block_width: int


def knn_adjacency(
    embedding: np.ndarray, config: GraphConfig, batches: np.ndarray | None = None
) -> sp.csr_matrix:
    """Symmetric binary kNN graph (union of both directions), self loops excluded.

    Parameters
    ----------
    embedding
        N x d dense coordinates (e.g. PCA of cells).
    config
        Uses ``n_neighbors``, ``metric``, ``knn_method`` and ``random_state``.
    batches
        Batch of each row (any labels), or ``None``. Given, the graph is batch-balanced as in
        BBKNN (Polanski et al. 2020): every row gets
        :func:`neighbours_per_batch` nearest neighbours *in each batch*, so a cell's
        neighbourhood mixes batches even where the batch effect separates them in
        ``embedding``. Every batch needs more rows than that number.
    """
    return binary_knn_graph(nearest_neighbour_table(embedding, config, batches))


def nearest_neighbour_table(
    embedding: np.ndarray, config: GraphConfig, batches: np.ndarray | None = None
) -> NeighbourTable:
    """The neighbours :func:`knn_adjacency` links each row to, with their distances.

    Without batches each row has ``n_neighbors``; with batches, :func:`neighbours_per_batch`
    from each batch.
    """
    n_rows = embedding.shape[0]
    check_enough_observations(n_rows, config.n_neighbors, what="rows")
    if batches is None:
        indices, distances = _nearest_neighbours(embedding, None, config.n_neighbors, config)
        return _sorted_in_blocks(indices, distances, config.n_neighbors)
    batches = np.asarray(batches)
    if batches.shape != (n_rows,):
        raise ValueError(f"batches has shape {batches.shape}; expected ({n_rows},).")
    names, codes = np.unique(batches, return_inverse=True)
    per_batch = neighbours_per_batch(config.n_neighbors, names.size)
    # Columns [b * per_batch, (b + 1) * per_batch) hold each row's neighbours in batch b.
    indices = np.empty((n_rows, names.size * per_batch), dtype=np.int64)
    distances = np.empty((n_rows, names.size * per_batch), dtype=np.float32)
    for code, name in enumerate(names):
        members = np.flatnonzero(codes == code)
        check_enough_observations(
            members.size,
            per_batch,
            what=f"cells in batch '{name}'",
            parameter="neighbours per batch (graph_construction.n_neighbors / batches)",
        )
        columns = slice(code * per_batch, (code + 1) * per_batch)
        own, own_distances = _nearest_neighbours(embedding[members], None, per_batch, config)
        indices[members, columns] = members[own]
        distances[members, columns] = own_distances
        others = np.flatnonzero(codes != code)
        if others.size:
            across, across_distances = _nearest_neighbours(
                embedding[members], embedding[others], per_batch, config
            )
            indices[others, columns] = members[across]
            distances[others, columns] = across_distances
    return _sorted_in_blocks(indices, distances, per_batch)


def _sorted_in_blocks(indices: np.ndarray, distances: np.ndarray, width: int) -> NeighbourTable:
    n_rows = indices.shape[0]
    blocks = (n_rows, -1, width)
    distances = np.asarray(distances, dtype=np.float32).reshape(blocks)
    order = np.argsort(distances, axis=2, kind="stable")
    indices = np.take_along_axis(np.asarray(indices, dtype=np.int64).reshape(blocks), order, 2)
    return NeighbourTable(
        indices=indices.reshape(n_rows, -1),
        distances=np.take_along_axis(distances, order, axis=2).reshape(n_rows, -1),
        block_width=width,
    )


def binary_knn_graph(table: NeighbourTable) -> sp.csr_matrix:
    """Symmetric binary adjacency (union of both directions) of a neighbour table."""
    n_rows, width = table.indices.shape
    rows = np.repeat(np.arange(n_rows), width)
    directed = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.float32), (rows, table.indices.ravel())),
        shape=(n_rows, n_rows),
    )
    return _binarise(directed.maximum(directed.T).tocsr())


def umap_connectivities(table: NeighbourTable) -> sp.csr_matrix:
    """The neighbour table weighted as scanpy's ``sc.pp.neighbors`` (UMAP's fuzzy union).

    UMAP weighs each row's neighbours on the scale of its nearest one (``rho``, ``sigma``).
    With batches every batch's block of neighbours gets its own scale, so a batch effect that
    puts the other batches far away does not come back through the weights (the binary
    batch-balanced graph links batches equally). scanpy passes each row's neighbours with
    the row itself first at distance 0 (UMAP then measures from the nearest other row); an
    exact search puts round-off there (1e-7), which changes the weights, so the self column
    is added here. The weights are umap-learn's, computed by :mod:`.fuzzy` without numba.
    """
    n_rows, width = table.indices.shape
    own = np.arange(n_rows, dtype=np.int64)[:, None]
    zero = np.zeros((n_rows, 1), np.float32)
    # Each block (batch) is weighted on its own scale; the blocks share no column.
    columns, weights = [], []
    for start in range(0, width, table.block_width):
        block = slice(start, start + table.block_width)
        indices = np.hstack([own, table.indices[:, block]])
        columns.append(indices)
        weights.append(membership_strengths(indices, np.hstack([zero, table.distances[:, block]])))
    columns = np.hstack(columns)
    rows = np.repeat(np.arange(n_rows), columns.shape[1])
    directed = sp.csr_matrix(
        (np.hstack(weights).ravel(), (rows, columns.ravel())), shape=(n_rows, n_rows)
    )
    directed.eliminate_zeros()
    # UMAP's fuzzy union of both directions (set_op_mix_ratio 1): w + w^T - w * w^T.
    transposed = directed.T.tocsr()
    union = sp.csr_matrix(directed + transposed - directed.multiply(transposed), dtype=np.float32)
    union.eliminate_zeros()
    return union


def neighbours_per_batch(n_neighbors: int, n_batches: int) -> int:
    """Neighbours each cell gets in every batch: ``ceil(n_neighbors / n_batches)``, so that a
    cell has about ``n_neighbors`` in total, as without batches."""
    return max(1, -(-n_neighbors // n_batches))


def _nearest_neighbours(
    reference: np.ndarray, queries: np.ndarray | None, k: int, config: GraphConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Indices into ``reference`` of the ``k`` nearest rows to each query and their
    distances, both ``(Q, k)``.

    ``queries=None`` queries the reference rows themselves, each excluding itself.
    """
    use_exact = config.knn_method == "exact" or (
        config.knn_method == "auto" and reference.shape[0] <= EXACT_KNN_MAX_ROWS
    )
    if use_exact:
        from sklearn.neighbors import NearestNeighbors

        search = NearestNeighbors(n_neighbors=k, metric=config.metric).fit(reference)
        # Without X, sklearn leaves each point out of its own neighbours.
        distances, indices = search.kneighbors(queries)
        return indices, distances
    from pynndescent import NNDescent

    logger.info(
        "Approximate %d nearest neighbours of %d rows (pynndescent).",
        k,
        reference.shape[0] if queries is None else queries.shape[0],
    )
    index = NNDescent(
        reference,
        n_neighbors=min(k + 1, reference.shape[0] - 1),
        metric=config.metric,
        random_state=config.random_state,
        low_memory=True,
    )
    if queries is None:
        return _drop_self(*index.neighbor_graph, k)
    return index.query(queries, k=k)


def _drop_self(
    neighbours: np.ndarray, distances: np.ndarray, n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Remove each row's own index from its neighbour list (approximate search may omit it)."""
    is_self = neighbours == np.arange(neighbours.shape[0])[:, None]
    # Rows without a self hit lose their last (farthest) neighbour instead.
    is_self[~is_self.any(axis=1), -1] = True
    shape = (neighbours.shape[0], -1)
    return (
        neighbours[~is_self].reshape(shape)[:, :n_neighbors],
        distances[~is_self].reshape(shape)[:, :n_neighbors],
    )


def _binarise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    matrix.data[:] = 1.0
    return matrix
