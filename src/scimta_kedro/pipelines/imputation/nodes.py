"""Nodes of the imputation pipeline: thin wrappers over ``scimta_kedro.tl.impute``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import keras
import numpy as np
import scipy.sparse as sp
from scipy.stats import pearsonr, spearmanr

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.params import section_config
from scimta_kedro.core.run_info import recorded_params
from scimta_kedro.core.validate import InputError, check_same_cells

logger = logging.getLogger(__name__)


def impute_cells(
    preprocessed_cells: ad.AnnData,
    embedded_cells: ad.AnnData,
    cell_graph: ad.AnnData,
    scimta_model: keras.Model,
    options: dict[str, Any],
) -> ad.AnnData:
    """The preprocessed cells with ``layers["scimta_imputed"]`` (the HVGs, log-normalised).

    ``X`` is the observed log-normalised matrix (sparse); ``layers["counts"]`` is untouched.
    """
    check_same_cells(preprocessed_cells, embedded_cells, ("preprocessed_cells", "embedded_cells"))
    check_same_cells(preprocessed_cells, cell_graph, ("preprocessed_cells", "cell_graph"))
    if keys.COUNTS_LAYER not in preprocessed_cells.layers:
        raise InputError(
            f"'preprocessed_cells' has no layers['{keys.COUNTS_LAYER}'] with raw counts; re-run "
            "data_processing."
        )
    cells = ad.AnnData(
        X=preprocessed_cells.layers[keys.LOG_LAYER],
        obs=preprocessed_cells.obs.copy(),
        var=preprocessed_cells.var.copy(),
        uns=dict(preprocessed_cells.uns),
        obsm={keys.LATENT: embedded_cells.obsm[keys.LATENT]},
        obsp={keys.CONNECTIVITIES: cell_graph.obsp[keys.CONNECTIVITIES]},
    )
    for layer in (keys.COUNTS_LAYER, keys.PRE_DROPOUT_LAYER):
        if layer in preprocessed_cells.layers:
            cells.layers[layer] = preprocessed_cells.layers[layer]
    tl.impute(cells, scimta_model, section_config("imputation", options))
    # The latent codes and the graph are in embedded_cells and cell_graph already.
    del cells.obsm[keys.LATENT], cells.obsp[keys.CONNECTIVITIES]
    return cells


def evaluate_imputation(imputed_cells: ad.AnnData) -> dict[str, dict[str, float]]:
    """Share of zeros filled; on simulated data with pre-dropout counts, how much closer to
    that truth the imputed matrix is than the observed one (Pearson/Spearman over dropouts)."""
    counts = imputed_cells.layers[keys.COUNTS_LAYER]
    target_sum = recorded_params(imputed_cells, keys.PREPROCESS)["target_sum"]
    imputed = imputed_cells.layers[keys.IMPUTED]
    n_zeros = counts.shape[0] * counts.shape[1] - counts.nnz
    metrics = {"filled_zero_fraction": (imputed.nnz - counts.nnz) / max(n_zeros, 1)}
    logger.info(
        "imputation: %d cells x %d genes, %.1f%% of the zeros filled.",
        counts.shape[0],
        counts.shape[1],
        100 * metrics["filled_zero_fraction"],
    )
    if keys.PRE_DROPOUT_LAYER in imputed_cells.layers:
        # Dropout only zeroes counts, so the dropped entries are the truth's non-zeros that
        # the observed counts lack; found sparsely, never as a dense cells x genes mask.
        truth_counts = sp.csr_matrix(imputed_cells.layers[keys.PRE_DROPOUT_LAYER])
        truth_pattern = truth_counts != 0
        dropped = truth_pattern - truth_pattern.multiply(sp.csr_matrix(counts) != 0)
        rows, columns = dropped.nonzero()
        scale = target_sum / imputed_cells.obs[keys.TOTAL_COUNTS].to_numpy()[rows]
        truth = np.log1p(np.asarray(truth_counts[rows, columns]).ravel() * scale)
        filled = np.asarray(sp.csr_matrix(imputed)[rows, columns]).ravel()
        metrics["dropout_pearson"] = pearsonr(filled, truth).statistic
        metrics["dropout_spearman"] = spearmanr(filled, truth).statistic
        metrics["dropout_recovered_fraction"] = float(np.mean(filled > 0))
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
