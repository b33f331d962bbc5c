"""QC, normalisation, highly variable genes, scaling and PCA with scanpy.

Raw counts of the kept genes stay in ``layers["counts"]`` because the expression decoder
models counts; ``layers["log_normalized"]`` keeps the sparse log data; ``X`` is the dense
scaled matrix the encoder reads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp

from .errors import InputError
from .keys import COUNTS_LAYER, LOG_LAYER, PCT_MITOCHONDRIAL, TOTAL_COUNTS
from .keys import PREPROCESS as PREPROCESS_INFO
from .run_info import params_record
from .value_checks import check_ranges

# sc.pp.highly_variable_genes flavours that work on log-normalised data.
HVG_FLAVORS = ("seurat", "cell_ranger")

logger = logging.getLogger(__name__)

# Warn when QC removes more than this fraction of the cells.
_DROPPED_CELLS_WARNING = 0.1


@dataclass(frozen=True)
class PreprocessConfig:
    """Parameters of :func:`preprocess_counts`.

    Attributes
    ----------
    min_genes_per_cell, min_cells_per_gene
        QC thresholds of ``sc.pp.filter_cells`` / ``sc.pp.filter_genes``.
    target_sum
        Library size after normalisation; ``None`` uses the median (scanpy's default).
    n_top_genes
        Number of highly variable genes kept (all genes if the data have fewer).
    hvg_flavor
        ``sc.pp.highly_variable_genes`` flavour working on log data (``seurat``,
        ``cell_ranger``).
    max_scale_value
        Clip of the z-scored values.
    n_pcs
        Number of principal components (capped by the data size).
    chunk_cells, hvg_sample_cells
        Data read from disk (:mod:`scimta_kedro.core.streamed`): rows read at a time, and
        the number of random cells the HVGs are ranked on.
    random_state
        Seed of the PCA solver and of the HVG sample.
    """

    min_genes_per_cell: int = 20
    min_cells_per_gene: int = 3
    target_sum: float | None = 1e4
    n_top_genes: int = 2000
    hvg_flavor: str = "seurat"
    max_scale_value: float = 10.0
    n_pcs: int = 50
    chunk_cells: int = 20_000
    hvg_sample_cells: int = 100_000
    random_state: int = 0

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least={
                "min_genes_per_cell": 0,
                "min_cells_per_gene": 0,
                "n_top_genes": 1,
                "n_pcs": 1,
                "chunk_cells": 1,
                "hvg_sample_cells": 1,
            },
            above={"target_sum": 0, "max_scale_value": 0},
            choices={"hvg_flavor": HVG_FLAVORS},
        )


def preprocess_counts(
    adata: ad.AnnData,
    config: PreprocessConfig,
    counts_layer: str | None = None,
    batch_key: str | None = None,
) -> ad.AnnData:
    """Filter, normalise, log-transform, select HVGs, scale and run PCA.

    Parameters
    ----------
    adata
        Validated raw counts (cells x genes).
    config
        Preprocessing parameters.
    counts_layer
        Layer that holds the counts; ``None`` means ``adata.X``.
    batch_key
        ``obs`` column of batches, or ``None``. Given, genes are ranked by how many batches
        find them highly variable (scanpy's ``batch_key``), so genes that only vary between
        batches are not selected.

    Returns
    -------
    A new AnnData restricted to QC-passing cells and the HVGs, with dense scaled ``X``,
    ``layers["counts"]`` (sparse raw counts), ``layers["log_normalized"]`` (sparse),
    ``obsm["X_pca"]``, ``obs["total_counts"]`` (counts over all genes) and, when gene
    names mark mitochondrial genes (``MT-``/``mt-``), ``obs["pct_counts_mt"]``.

    Memory: the scaled ``X`` is dense, N x n_top_genes float32.
    """
    adata = adata.copy()
    if counts_layer is not None:
        adata.X = adata.layers[counts_layer]
    adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
    n_cells_before, n_genes_before = adata.shape
    sc.pp.filter_cells(adata, min_genes=config.min_genes_per_cell)
    sc.pp.filter_genes(adata, min_cells=config.min_cells_per_gene)
    check_quality_control(adata.n_obs, adata.n_vars, (n_cells_before, n_genes_before), config)
    adata.obs[TOTAL_COUNTS] = np.asarray(adata.X.sum(axis=1)).ravel()
    mitochondrial = mitochondrial_genes(adata.var_names)
    if mitochondrial.any():
        in_mitochondria = np.asarray(adata.X[:, mitochondrial].sum(axis=1)).ravel()
        adata.obs[PCT_MITOCHONDRIAL] = 100 * in_mitochondria / adata.obs[TOTAL_COUNTS]
    adata.layers[COUNTS_LAYER] = adata.X.copy()
    rank_highly_variable_genes(adata, config, batch_key)
    adata = adata[:, adata.var["highly_variable"].to_numpy()].copy()
    adata.layers[LOG_LAYER] = adata.X.copy()
    n_pcs = scale_and_pca(adata, config)
    logger.info("Kept %d highly variable genes and %d principal components.", adata.n_vars, n_pcs)
    adata.uns[PREPROCESS_INFO] = {"params": params_record(config)}
    return adata


def mitochondrial_genes(names) -> np.ndarray:
    """Which genes are mitochondrial by name: ``MT-`` in any case (human ``MT-ND1``, mouse
    ``mt-Nd1``), as scanpy's QC tutorial marks them. All False for IDs without symbols."""
    return np.asarray([str(name).upper().startswith("MT-") for name in names], dtype=bool)


def log_normalize(adata: ad.AnnData, config: PreprocessConfig) -> None:
    """Library-size normalisation to ``config.target_sum``, then log1p, of ``adata.X`` in
    place (scanpy)."""
    sc.pp.normalize_total(adata, target_sum=config.target_sum)
    sc.pp.log1p(adata)


def rank_highly_variable_genes(
    adata: ad.AnnData, config: PreprocessConfig, batch_key: str | None
) -> None:
    """Normalise and log-transform ``adata.X`` in place, then rank its highly variable genes
    into ``adata.var`` (scanpy; ``X`` in memory, or a Dask array)."""
    log_normalize(adata, config)
    sc.pp.highly_variable_genes(
        adata,
        n_top_genes=min(config.n_top_genes, adata.n_vars),
        flavor=config.hvg_flavor,
        batch_key=batch_key,
    )


def scale_and_pca(adata: ad.AnnData, config: PreprocessConfig) -> int:
    """Z-score ``adata.X`` (clipped at ``max_scale_value``) in place, then PCA into
    ``obsm["X_pca"]``; returns the number of components (``n_pcs``, capped by the size).

    Memory: scaling centres every gene, so ``X`` becomes dense here on purpose (N x genes).
    """
    adata.X = adata.X.toarray() if sp.issparse(adata.X) else np.asarray(adata.X)
    sc.pp.scale(adata, max_value=config.max_scale_value)
    adata.X = np.asarray(adata.X, dtype=np.float32)
    n_pcs = min(config.n_pcs, adata.n_obs - 1, adata.n_vars - 1)
    sc.tl.pca(adata, n_comps=n_pcs, random_state=config.random_state)
    return n_pcs


def check_quality_control(
    n_cells: int, n_genes: int, shape_before: tuple[int, int], config: PreprocessConfig
) -> None:
    """Raise if QC left too little to analyse; log what it kept and warn on a large loss."""
    n_cells_before, n_genes_before = shape_before
    if n_cells < 2 or n_genes < 2:
        raise InputError(
            f"quality control left {n_cells} cells x {n_genes} genes of "
            f"{n_cells_before} x {n_genes_before}. Lower data_processing.preprocessing."
            f"min_genes_per_cell ({config.min_genes_per_cell}) or min_cells_per_gene "
            f"({config.min_cells_per_gene})."
        )
    logger.info(
        "QC kept %d of %d cells and %d of %d genes.",
        n_cells,
        n_cells_before,
        n_genes,
        n_genes_before,
    )
    if n_cells < (1 - _DROPPED_CELLS_WARNING) * n_cells_before:
        logger.warning(
            "QC removed %d of %d cells (%.0f%%): data_processing.preprocessing."
            "min_genes_per_cell=%d may be too strict for these data.",
            n_cells_before - n_cells,
            n_cells_before,
            100 * (1 - n_cells / n_cells_before),
            config.min_genes_per_cell,
        )
