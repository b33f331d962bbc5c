"""Preprocessing of a large ``.h5ad`` through scanpy's Dask support (``data_processing.dask``).

``X`` is read lazily as a Dask array of CSR row chunks (``anndata.experimental.
read_elem_lazy``, ``chunk_cells`` rows each); every chunk task opens the file itself, so the
workers of a cluster read their own rows. Where scanpy 1.11.5 accepts Dask arrays, it does
the work, on every cell:

* quality control: ``sc.pp.filter_cells`` then ``sc.pp.filter_genes``;
* ranking the highly variable genes: ``sc.pp.normalize_total``, ``sc.pp.log1p`` and
  ``sc.pp.highly_variable_genes`` (with the batch key if given). The in-memory path ranks on
  every cell too; the streamed path (:mod:`.streamed`) ranks on a sample;
* one last pass loads the passing cells' counts of those genes, their totals over the
  passing genes and their mitochondrial counts (a Dask compute).

What stays in memory, as on the streamed path (:func:`.streamed.sparse_preprocessed`): the
HVG counts are normalised, log-transformed and z-scored sparse, and PCA runs on them. scanpy
1.11.5's ``scale`` on a Dask array centres it (dense chunks), and its PCA of sparse Dask
chunks needs a dense covariance per chunk; the in-memory sparse PCA of the HVGs is smaller
than either. The kNN graph and training read the result in memory, whatever the path.
"""

from __future__ import annotations

import logging

import anndata as ad
import dask
import h5py
import numpy as np
import scanpy as sc
from anndata.experimental import read_elem_lazy

from .preprocess import (
    PreprocessConfig,
    check_quality_control,
    mitochondrial_genes,
    rank_highly_variable_genes,
)
from .streamed import min_genes_kept, sparse_preprocessed

logger = logging.getLogger(__name__)


def _row_sums(block, columns=None) -> np.ndarray:
    part = block if columns is None else block[:, columns]
    return np.asarray(part.sum(axis=1), dtype=np.float64).ravel()


def lazy_counts(adata: ad.AnnData, counts_layer: str | None, chunk_cells: int):
    """The counts of a backed AnnData as a Dask array of CSR chunks of ``chunk_cells`` rows."""
    with h5py.File(adata.filename, "r") as file:
        element = file["X"] if counts_layer is None else file["layers"][counts_layer]
        return read_elem_lazy(element, chunks=(chunk_cells, adata.n_vars))


def preprocess_dask(
    adata: ad.AnnData,
    config: PreprocessConfig,
    counts_layer: str | None = None,
    batch_key: str | None = None,
) -> ad.AnnData:
    """QC, normalisation, HVGs, sparse scaling and PCA of a backed AnnData on Dask arrays.

    Runs on Dask's current scheduler: the cluster of an open ``distributed.Client``, or
    threads of this process. Arguments and result as
    :func:`scimta_kedro.core.streamed.preprocess_backed`, with the HVGs ranked on every cell.
    """
    lazy = ad.AnnData(
        X=lazy_counts(adata, counts_layer, config.chunk_cells),
        obs=adata.obs.copy(),
        var=adata.var.copy(),
    )
    shape_before = lazy.shape
    logger.info(
        "Quality control of %d cells on Dask (%d-row chunks).", lazy.n_obs, config.chunk_cells
    )
    sc.pp.filter_cells(lazy, min_genes=min_genes_kept(config))
    sc.pp.filter_genes(lazy, min_cells=max(config.min_cells_per_gene, 1))
    check_quality_control(lazy.n_obs, lazy.n_vars, shape_before, config)
    counts = lazy.X

    logger.info("Ranking highly variable genes of %d cells on Dask.", lazy.n_obs)
    rank_highly_variable_genes(lazy, config, batch_key)
    is_hvg = lazy.var["highly_variable"].to_numpy()

    mitochondrial = mitochondrial_genes(lazy.var_names)
    logger.info("Loading %d genes of %d cells on Dask.", int(is_hvg.sum()), lazy.n_obs)
    hvg_counts, totals, in_mitochondria = dask.compute(
        counts[:, np.flatnonzero(is_hvg)],
        counts.map_blocks(_row_sums, drop_axis=1, dtype=np.float64),
        counts.map_blocks(_row_sums, np.flatnonzero(mitochondrial), drop_axis=1, dtype=np.float64),
    )
    return sparse_preprocessed(
        lazy.obs,
        lazy.var[is_hvg].copy(),
        hvg_counts.tocsr(),
        totals,
        in_mitochondria if mitochondrial.any() else None,
        uns=adata.uns,
        config=config,
    )
