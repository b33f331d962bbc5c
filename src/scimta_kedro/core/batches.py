"""Batches: checking the batch column, and scores of how well an embedding mixes batches.

The scores follow the definitions of the scIB benchmark (Luecken et al. 2022), on a plain
kNN graph so they run anywhere the pipeline runs (the benchmark uses ``scib-metrics`` itself):

* ``ilisi``: inverse Simpson index of the batches among each cell's neighbours, rescaled
  to [0, 1] (0: neighbours from one batch, 1: batches as mixed as they can be);
* ``batch_entropy``: Shannon entropy of the same neighbourhood batch shares over
  ``log(n_batches)``;
* ``silhouette_batch``: per cell type, ``1 - |silhouette|`` of the batches, averaged (1: no
  batch structure left inside cell types);
* ``graph_connectivity``: per cell type, the share of its cells in the largest connected
  component of the kNN graph restricted to it, averaged (1: no type split by batch).

Cell types are the labels when they exist, the clusters otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.metrics import silhouette_samples
from sklearn.neighbors import NearestNeighbors

from .graphs import neighbours_per_batch
from .run_info import recorded_column
from .validate import InputError
from .value_checks import check_ranges


@dataclass(frozen=True)
class BatchMixingConfig:
    """Settings of :func:`batch_mixing_scores`: the kNN neighbourhood of the scores (scIB uses
    30-90) and at most ``max_cells`` cells (a seeded random subset above that)."""

    n_neighbors: int = 30
    max_cells: int = 10000

    def __post_init__(self) -> None:
        check_ranges(self, at_least={"n_neighbors": 1, "max_cells": 2})


def batch_labels(adata: ad.AnnData) -> np.ndarray | None:
    """Each cell's batch as strings, or ``None`` when the run has no batch key."""
    batch_key = recorded_column(adata, "batch_key")
    if not batch_key:
        return None
    if batch_key not in adata.obs:
        raise InputError(
            f"the run's batch_key '{batch_key}' is not a column of this stage's input; re-run "
            "data_processing so that every stage sees the same cells and columns."
        )
    return adata.obs[batch_key].astype(str).to_numpy()


def batch_one_hot(batches: np.ndarray) -> np.ndarray:
    """One-hot ``(N, n_batches)`` float32 of batch labels, columns in sorted label order."""
    _, codes = np.unique(np.asarray(batches), return_inverse=True)
    return np.eye(codes.max() + 1, dtype=np.float32)[codes]


def check_batches(obs: pd.DataFrame, batch_key: str, n_neighbors: int) -> None:
    """Raise before any long step if the batch column cannot drive a batch-balanced graph.

    Every batch needs more cells than the neighbours each cell draws from it
    (:func:`~scimta_kedro.core.graphs.neighbours_per_batch`); missing values are refused.
    """
    values = obs[batch_key]
    if values.isna().any():
        raise InputError(
            f"batch_key '{batch_key}' has {int(values.isna().sum())} missing values; give every "
            "cell a batch (e.g. 'unknown') or drop those cells."
        )
    sizes = values.astype(str).value_counts()
    per_batch = neighbours_per_batch(n_neighbors, sizes.size)
    small = sizes[sizes <= per_batch]
    if not small.empty:
        listed = ", ".join(f"'{name}' ({size} cells)" for name, size in small.items())
        raise InputError(
            f"batch_key '{batch_key}': batches {listed} have too few cells; with "
            f"graph_construction.n_neighbors={n_neighbors} and {sizes.size} batches every "
            f"cell takes {per_batch} neighbours from each batch, so each batch needs more than "
            f"{per_batch} cells. Merge or drop the small batches, or lower n_neighbors."
        )


def _neighbours(embedding: np.ndarray, n_neighbors: int) -> np.ndarray:
    """Each row's nearest other rows ``(N, k)``; k capped by the number of rows."""
    search = NearestNeighbors(n_neighbors=min(n_neighbors, embedding.shape[0] - 1))
    return search.fit(embedding).kneighbors(return_distance=False)


def _neighbour_batch_shares(neighbours: np.ndarray, codes: np.ndarray, n_batches: int):
    counts = np.zeros((neighbours.shape[0], n_batches))
    rows = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])
    np.add.at(counts, (rows, codes[neighbours].ravel()), 1.0)
    return counts / neighbours.shape[1]


def graph_connectivity(neighbours: np.ndarray, cell_types: np.ndarray) -> float:
    """Mean over cell types of the share of their cells in their largest component of the
    kNN graph given by ``neighbours`` ``(N, k)`` (see :func:`_neighbours`)."""
    rows = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])
    graph = sp.csr_matrix(
        (np.ones(rows.size), (rows, neighbours.ravel())), shape=(neighbours.shape[0],) * 2
    )
    shares = []
    for cell_type in np.unique(cell_types):
        members = np.flatnonzero(cell_types == cell_type)
        _, component = connected_components(graph[members][:, members], directed=False)
        shares.append(np.bincount(component).max() / members.size)
    return float(np.mean(shares))


def silhouette_batch(embedding: np.ndarray, batches: np.ndarray, cell_types: np.ndarray) -> float:
    """Mean over cell types of ``1 - |silhouette of batches|`` within the type (scIB)."""
    scores = []
    for cell_type in np.unique(cell_types):
        members = cell_types == cell_type
        if np.unique(batches[members]).size < 2 or members.sum() < 3:
            continue
        widths = silhouette_samples(embedding[members], batches[members])
        scores.append(np.mean(1.0 - np.abs(widths)))
    return float(np.mean(scores)) if scores else float("nan")


def batch_mixing_scores(
    embedding: np.ndarray,
    batches: np.ndarray,
    cell_types: np.ndarray,
    *,
    n_neighbors: int = 30,
    max_cells: int = 10000,
    random_state: int = 0,
) -> dict[str, float]:
    """``ilisi``, ``batch_entropy``, ``silhouette_batch`` and ``graph_connectivity``.

    Parameters
    ----------
    embedding
        Coordinates ``(N, d)``.
    batches, cell_types
        Batch and cell type (labels, or clusters without labels) of each cell ``(N,)``.
    n_neighbors
        Neighbourhood size of the kNN-based scores.
    max_cells
        Above this many cells, the scores use a random subset of this size (silhouette is
        O(N^2)).
    """
    batches, cell_types = np.asarray(batches).astype(str), np.asarray(cell_types).astype(str)
    if embedding.shape[0] > max_cells:
        chosen = np.random.default_rng(random_state).choice(
            embedding.shape[0], max_cells, replace=False
        )
        embedding, batches, cell_types = embedding[chosen], batches[chosen], cell_types[chosen]
    names, codes = np.unique(batches, return_inverse=True)
    if names.size < 2:
        raise InputError(
            f"batch mixing needs at least two batches; the batch column has only {list(names)}."
        )
    neighbours = _neighbours(embedding, n_neighbors)
    shares = _neighbour_batch_shares(neighbours, codes, names.size)
    inverse_simpson = 1.0 / np.sum(shares**2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1)
    return {
        "ilisi": float(np.mean((inverse_simpson - 1.0) / (names.size - 1.0))),
        "batch_entropy": float(np.mean(entropy / np.log(names.size))),
        "silhouette_batch": silhouette_batch(embedding, batches, cell_types),
        "graph_connectivity": graph_connectivity(neighbours, cell_types),
    }
