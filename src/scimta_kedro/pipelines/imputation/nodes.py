"""Nodes of the imputation pipeline: thin wrappers over ``core.impute``."""

from __future__ import annotations

from typing import Any

import anndata as ad
import keras
import numpy as np
import scipy.sparse as sp
from scipy.stats import pearsonr, spearmanr

# Importing the model module registers its Keras classes, so that a run of this pipeline
# alone can load the saved model.
from scimta_kedro.core import keys, model  # noqa: F401
from scimta_kedro.core.batches import batch_labels
from scimta_kedro.core.impute import ImputationConfig, impute_counts
from scimta_kedro.core.preprocess import COUNTS_LAYER, LOG_LAYER
from scimta_kedro.core.simulate import PRE_DROPOUT_LAYER
from scimta_kedro.core.train import batch_one_hot
from scimta_kedro.core.validate import InputError, check_same_cells


def impute_cells(
    preprocessed_cells: ad.AnnData,
    embedded_cells: ad.AnnData,
    cell_graph: ad.AnnData,
    scimta_model: keras.Model,
    *,
    options: dict[str, Any],
    target_sum: float,
) -> ad.AnnData:
    """The preprocessed cells with ``layers["scimta_imputed"]`` (the HVGs, log-normalised).

    ``X`` is the observed log-normalised matrix (sparse); ``layers["counts"]`` is untouched.
    """
    check_same_cells(preprocessed_cells, embedded_cells, ("preprocessed_cells", "embedded_cells"))
    check_same_cells(preprocessed_cells, cell_graph, ("preprocessed_cells", "cell_graph"))
    if COUNTS_LAYER not in preprocessed_cells.layers:
        raise InputError(
            f"'preprocessed_cells' has no layers['{COUNTS_LAYER}'] with raw counts; re-run "
            "data_processing."
        )
    imputed = impute_counts(
        scimta_model,
        embedded_cells.obsm[keys.LATENT],
        preprocessed_cells.layers[COUNTS_LAYER],
        preprocessed_cells.obs["total_counts"].to_numpy(),
        cell_graph.obsp[keys.CONNECTIVITIES],
        config=ImputationConfig(**options, target_sum=target_sum),
        batch=_decoder_batches(scimta_model, preprocessed_cells),
    )
    cells = ad.AnnData(
        X=preprocessed_cells.layers[LOG_LAYER],
        obs=preprocessed_cells.obs.copy(),
        var=preprocessed_cells.var.copy(),
        uns=dict(preprocessed_cells.uns),
    )
    for layer in (COUNTS_LAYER, PRE_DROPOUT_LAYER):
        if layer in preprocessed_cells.layers:
            cells.layers[layer] = preprocessed_cells.layers[layer]
    cells.layers[keys.IMPUTED] = imputed
    cells.uns[keys.IMPUTED] = {"params": dict(options)}
    return cells


def _decoder_batches(scimta_model: keras.Model, cells: ad.AnnData) -> np.ndarray | None:
    """The one-hot batches a batch-conditioned decoder reads, or ``None``."""
    if not scimta_model.n_batches:
        return None
    batches = batch_labels(cells)
    if batches is None or np.unique(batches).size != scimta_model.n_batches:
        raise InputError(
            f"the model's decoder was trained on {scimta_model.n_batches} batches but the "
            "preprocessed cells do not have them: re-run training on these cells."
        )
    return batch_one_hot(batches)


def evaluate_imputation(
    imputed_cells: ad.AnnData, target_sum: float
) -> dict[str, dict[str, float]]:
    """Share of zeros filled; on simulated data with pre-dropout counts, how much closer to
    that truth the imputed matrix is than the observed one (Pearson/Spearman over dropouts)."""
    counts = imputed_cells.layers[COUNTS_LAYER]
    imputed = imputed_cells.layers[keys.IMPUTED]
    n_zeros = counts.shape[0] * counts.shape[1] - counts.nnz
    metrics = {"filled_zero_fraction": (imputed.nnz - counts.nnz) / max(n_zeros, 1)}
    if PRE_DROPOUT_LAYER in imputed_cells.layers:
        # Dropout only zeroes counts, so the dropped entries are the truth's non-zeros that
        # the observed counts lack; found sparsely, never as a dense cells x genes mask.
        truth_counts = sp.csr_matrix(imputed_cells.layers[PRE_DROPOUT_LAYER])
        truth_pattern = truth_counts != 0
        dropped = truth_pattern - truth_pattern.multiply(sp.csr_matrix(counts) != 0)
        rows, columns = dropped.nonzero()
        scale = target_sum / imputed_cells.obs["total_counts"].to_numpy()[rows]
        truth = np.log1p(np.asarray(truth_counts[rows, columns]).ravel() * scale)
        filled = np.asarray(sp.csr_matrix(imputed)[rows, columns]).ravel()
        metrics["dropout_pearson"] = pearsonr(filled, truth).statistic
        metrics["dropout_spearman"] = spearmanr(filled, truth).statistic
        metrics["dropout_recovered_fraction"] = float(np.mean(filled > 0))
    return {name: {"value": float(value), "step": 0} for name, value in metrics.items()}
