"""Preprocessing of counts too large for memory: row-chunked passes over a backed ``.h5ad``.

The in-memory path (:func:`scimta_kedro.core.preprocess.preprocess_counts`) holds every gene
of every cell, several times over; a million 10x cells of 20k genes hold ~2.6e9 counts
(~21 GB as CSR) before any copy. Here the file stays on disk:

1. One pass over the rows gives each cell's detected genes (``min_genes_per_cell``) and,
   among the passing cells, each gene's detecting cells (``min_cells_per_gene``): scanpy's
   ``filter_cells`` then ``filter_genes``. It also keeps a random sample of at most
   ``hvg_sample_cells`` cells.
2. scanpy ranks the highly variable genes on that sample (``normalize_total``, ``log1p``,
   ``highly_variable_genes``, with the batch key if given). With no more cells than the
   sample size the sample is every cell and the genes are those of the in-memory path.
3. A second pass loads only the passing cells' counts of those genes, sparse.

Normalisation and log1p then run as in memory. The z-scoring keeps the matrix sparse: each
gene is divided by its standard deviation and clipped at ``max_scale_value`` above its mean;
scanpy's PCA centres sparse data implicitly, so the PCA is that of the z-scores (the only
difference: zeros more than ``max_scale_value`` standard deviations below a gene's mean are
not clipped). ``X`` is therefore sparse and not centred, unlike the in-memory path's dense
z-scores; differences between cells, correlations and rank tests are the same on both.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from tqdm.auto import tqdm

from . import keys
from .io import row_blocks
from .keys import COUNTS_LAYER, LOG_LAYER
from .preprocess import (
    PreprocessConfig,
    check_quality_control,
    mitochondrial_genes,
    rank_highly_variable_genes,
)
from .run_info import params_record

logger = logging.getLogger(__name__)


def _blocks(matrix, block_size: int, description: str):
    n_blocks = -(-matrix.shape[0] // block_size)
    return tqdm(row_blocks(matrix, block_size), total=n_blocks, desc=description, unit="chunk")


def _quality_control_pass(matrix, config: PreprocessConfig, sample: np.ndarray):
    """Detected genes per cell, detecting QC-passing cells per gene, and the sampled cells'
    counts (all genes)."""
    min_genes = min_genes_kept(config)
    genes_per_cell = np.zeros(matrix.shape[0], dtype=np.int64)
    cells_per_gene = np.zeros(matrix.shape[1], dtype=np.int64)
    sampled = []
    for start, block in _blocks(matrix, config.chunk_cells, "quality control"):
        block.eliminate_zeros()
        detected = np.diff(block.indptr)
        genes_per_cell[start : start + block.shape[0]] = detected
        passing = block[detected >= min_genes]
        cells_per_gene += np.bincount(passing.indices, minlength=matrix.shape[1])
        in_block = sample[(sample >= start) & (sample < start + block.shape[0])] - start
        sampled.append(block[in_block])
    return genes_per_cell, cells_per_gene, sp.vstack(sampled, format="csr")


def min_genes_kept(config: PreprocessConfig) -> int:
    return max(config.min_genes_per_cell, 1)  # empty cells cannot be normalised


def _highly_variable_genes(
    sample_counts: sp.csr_matrix,
    sample_obs: pd.DataFrame,
    var: pd.DataFrame,
    config: PreprocessConfig,
    batch_key: str | None,
) -> pd.DataFrame:
    """scanpy's HVG table (on the QC-passing genes ``var``) from the sampled cells."""
    sample = ad.AnnData(X=sample_counts, obs=sample_obs, var=var)
    rank_highly_variable_genes(sample, config, batch_key)
    return sample.var


def _load_genes(matrix, keep_cells, keep_genes, *, hvg_columns, mito_columns, config):
    """Counts of the passing cells x HVGs, each passing cell's total over passing genes, and
    its total over the passing mitochondrial genes."""
    counts, totals, mitochondrial = [], [], []
    for start, block in _blocks(matrix, config.chunk_cells, "loading HVG counts"):
        passing = block[keep_cells[start : start + block.shape[0]]]
        totals.append(np.asarray(passing[:, keep_genes].sum(axis=1)).ravel())
        mitochondrial.append(np.asarray(passing[:, mito_columns].sum(axis=1)).ravel())
        counts.append(passing[:, hvg_columns])
    return sp.vstack(counts, format="csr"), np.concatenate(totals), np.concatenate(mitochondrial)


def _sparse_scaled(log_normalized: sp.csr_matrix, max_value: float) -> sp.csr_matrix:
    """Each gene divided by its standard deviation (ddof 1, as ``sc.pp.scale``), clipped at
    ``max_value`` deviations above its mean; the mean is not subtracted."""
    n_cells = log_normalized.shape[0]
    mean = np.asarray(log_normalized.mean(axis=0)).ravel()
    mean_square = np.asarray(log_normalized.multiply(log_normalized).mean(axis=0)).ravel()
    std = np.sqrt(np.maximum(mean_square - mean**2, 0) * n_cells / max(n_cells - 1, 1))
    std[std == 0] = 1.0
    scaled = sp.csr_matrix(log_normalized @ sp.diags((1.0 / std).astype(np.float32)))
    ceiling = (max_value + mean / std)[scaled.indices]
    np.minimum(scaled.data, ceiling, out=scaled.data)
    return scaled


def preprocess_backed(
    adata: ad.AnnData,
    config: PreprocessConfig,
    counts_layer: str | None = None,
    batch_key: str | None = None,
) -> ad.AnnData:
    """QC, normalisation, HVGs, sparse scaling and PCA of a backed AnnData (module docstring).

    Parameters
    ----------
    adata
        Validated raw counts, opened with ``backed="r"`` (``X`` in CSR on disk).
    config
        Preprocessing parameters; ``chunk_cells`` rows are read at a time and HVGs are
        ranked on ``hvg_sample_cells`` random cells.
    counts_layer
        Layer that holds the counts (on disk, read in chunks like ``X``); ``None`` means
        ``adata.X``.
    batch_key
        ``obs`` column of batches for the HVG ranking, or ``None``.

    Returns
    -------
    An in-memory AnnData of the QC-passing cells and the HVGs with the same content as the
    in-memory path except ``X``, which is sparse and not centred.

    Memory: the sampled cells' counts of all genes, then the passing cells' HVG counts three
    times (counts, log-normalised, scaled), all sparse.
    """
    matrix = adata.X if counts_layer is None else adata.layers[counts_layer]
    rng = np.random.default_rng(config.random_state)
    n_sample = min(config.hvg_sample_cells, adata.n_obs)
    sample = np.sort(rng.choice(adata.n_obs, n_sample, replace=False))

    genes_per_cell, cells_per_gene, sample_counts = _quality_control_pass(matrix, config, sample)
    keep_cells = genes_per_cell >= min_genes_kept(config)
    keep_genes = cells_per_gene >= max(config.min_cells_per_gene, 1)
    check_quality_control(int(keep_cells.sum()), int(keep_genes.sum()), adata.shape, config)
    sample_kept = keep_cells[sample]
    genes = adata.var[keep_genes].copy()
    genes["n_cells"] = cells_per_gene[keep_genes]  # as sc.pp.filter_genes
    hvg_table = _highly_variable_genes(
        sample_counts[sample_kept][:, keep_genes],
        adata.obs.iloc[sample[sample_kept]].copy(),
        genes,
        config,
        batch_key,
    )
    del sample_counts  # all genes of up to hvg_sample_cells cells: free before loading
    is_hvg = hvg_table["highly_variable"].to_numpy()
    hvg_columns = np.flatnonzero(keep_genes)[is_hvg]
    logger.info(
        "Ranked highly variable genes on %d sampled cells; loading %d genes of %d cells.",
        int(sample_kept.sum()),
        hvg_columns.size,
        int(keep_cells.sum()),
    )
    mito_columns = np.flatnonzero(keep_genes & mitochondrial_genes(adata.var_names))
    counts, totals, mitochondrial = _load_genes(
        matrix,
        keep_cells,
        keep_genes,
        hvg_columns=hvg_columns,
        mito_columns=mito_columns,
        config=config,
    )

    obs = adata.obs[keep_cells].copy()
    obs["n_genes"] = genes_per_cell[keep_cells]  # as sc.pp.filter_cells
    return sparse_preprocessed(
        obs,
        hvg_table[is_hvg].copy(),
        counts,
        totals,
        mitochondrial if mito_columns.size else None,
        uns=adata.uns,
        config=config,
    )


def sparse_preprocessed(
    obs: pd.DataFrame,
    var: pd.DataFrame,
    counts: sp.csr_matrix,
    totals: np.ndarray,
    mitochondrial: np.ndarray | None,
    *,
    uns,
    config: PreprocessConfig,
) -> ad.AnnData:
    """The preprocessed cells from the passing cells' HVG counts: normalised by each cell's
    total over the passing genes, log1p, sparse z-scores and PCA (module docstring).

    ``mitochondrial`` is each cell's count over the passing mitochondrial genes, or ``None``
    when no gene is named as one.
    """
    obs = obs.copy()
    obs[keys.TOTAL_COUNTS] = totals.astype(np.float32)
    if mitochondrial is not None:
        obs[keys.PCT_MITOCHONDRIAL] = 100 * mitochondrial / totals
    cells = ad.AnnData(X=counts.copy(), obs=obs, var=var)
    cells.uns.update(uns)
    cells.layers[COUNTS_LAYER] = counts
    target_sum = config.target_sum or float(np.median(totals))
    cells.X = sp.csr_matrix(sp.diags((target_sum / totals).astype(np.float32)) @ cells.X)
    sc.pp.log1p(cells)
    cells.layers[LOG_LAYER] = cells.X.copy()
    cells.X = _sparse_scaled(cells.X, config.max_scale_value)
    n_pcs = min(config.n_pcs, cells.n_obs - 1, cells.n_vars - 1)
    # ARPACK iterates without a progress report: say that the run is in this step.
    logger.info(
        "PCA (%d components) of %d cells x %d genes, sparse and implicitly centred.",
        n_pcs,
        cells.n_obs,
        cells.n_vars,
    )
    sc.pp.pca(cells, n_comps=n_pcs, zero_center=True, random_state=config.random_state)
    cells.uns[keys.PREPROCESS] = {"params": params_record(config)}
    return cells
