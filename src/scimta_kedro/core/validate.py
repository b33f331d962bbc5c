"""Input checks that run before any long computation.

Every check raises :class:`InputError` (a ``ValueError``) whose message names the problem,
the offending value and the fix, so a user never has to read a traceback to know what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm.auto import tqdm

from .errors import InputError
from .io import is_on_disk, row_blocks
from .keys import RUN_INFO
from .run_info import describe_run

logger = logging.getLogger(__name__)

# Values are scanned in slices so that checking a large matrix never allocates a second copy.
_SCAN_CHUNK = 10_000_000
# Log1p of any realistic count stays below this; raw UMI counts routinely exceed it.
_LOG_DATA_MAX = 30.0

__all__ = ["InputError"]  # re-exported: every check raises it

_ALL_ZERO = (
    "every cell (or every gene) has only zero counts, so nothing is left to analyse. "
    "Check that the file holds counts and not an empty placeholder matrix."
)


def _stored_values(matrix) -> Iterator[np.ndarray]:
    """Yield the explicitly stored values of a dense, sparse or backed matrix in slices."""
    if is_on_disk(matrix):
        rows = max(1, _SCAN_CHUNK * matrix.shape[0] // max(_stored_count(matrix), 1))
        blocks = tqdm(
            row_blocks(matrix, rows),
            total=-(-matrix.shape[0] // rows),
            desc="checking counts",
            unit="chunk",
        )
        for _, block in blocks:
            yield block.data
        return
    values = matrix.data if sp.issparse(matrix) else np.asarray(matrix).reshape(-1)
    for start in range(0, values.size, _SCAN_CHUNK):
        yield values[start : start + _SCAN_CHUNK]


def _stored_count(matrix) -> int:
    return int(matrix.group["data"].shape[0]) if is_on_disk(matrix) else int(matrix.size)


def _count_matrix(adata: ad.AnnData, counts_layer: str | None):
    if counts_layer is None:
        if adata.X is None:
            layers = sorted(adata.layers.keys())
            raise InputError(
                "the input has no X matrix. Put the raw counts in X, or name the layer that "
                f"holds them with data_processing.counts_layer (layers: {layers})."
            )
        return adata.X
    if counts_layer not in adata.layers:
        raise InputError(
            f"counts_layer '{counts_layer}' is not in adata.layers; available layers: "
            f"{sorted(adata.layers.keys())}. Set data_processing.counts_layer to one of "
            "them, or to null to use adata.X."
        )
    return adata.layers[counts_layer]


def check_raw_counts(adata: ad.AnnData, counts_layer: str | None = None) -> None:
    """Check that the matrix holds raw counts: finite, non-negative integers.

    Parameters
    ----------
    adata
        Cells x genes data.
    counts_layer
        Layer that holds the counts; ``None`` means ``adata.X``.

    Raises
    ------
    InputError
        On an empty matrix, NaN or infinite values, negative values, or non-integer values.
        For non-integers the message says whether the data look log-transformed or
        library-size normalised.
    """
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise InputError(
            f"the input is empty ({adata.n_obs} cells x {adata.n_vars} genes). Pass a file "
            "with at least one cell and one gene."
        )
    matrix = _count_matrix(adata, counts_layer)
    where = "adata.X" if counts_layer is None else f"adata.layers['{counts_layer}']"
    non_integer, maximum = False, 0.0
    for values in _stored_values(matrix):
        if values.size == 0:
            continue
        if not np.all(np.isfinite(values)):
            n_bad = int(np.count_nonzero(~np.isfinite(values)))
            raise InputError(
                f"{where} contains NaN or infinite values (at least {n_bad}). Raw counts are "
                "always finite: remove or re-count the affected cells before the analysis."
            )
        if values.min() < 0:
            raise InputError(
                f"{where} contains negative values (minimum {values.min():g}). Raw counts are "
                "never negative: the data may be scaled or batch-corrected; pass raw counts."
            )
        maximum = max(maximum, float(values.max()))
        non_integer = non_integer or bool(np.any(values != np.floor(values)))
    if maximum == 0:
        raise InputError(_ALL_ZERO)
    if non_integer:
        raise InputError(_describe_non_integer(adata, matrix, where, maximum))


def _describe_non_integer(adata: ad.AnnData, matrix, where: str, maximum: float) -> str:
    cell_totals = _cell_totals(matrix)
    spread = cell_totals.std() / max(cell_totals.mean(), 1e-12)
    if spread < 1e-3:
        looks_like = f"library-size normalised data (every cell sums to ~{cell_totals.mean():g})"
    elif maximum <= _LOG_DATA_MAX:
        looks_like = f"log-transformed data (maximum value {maximum:g})"
    else:
        looks_like = "non-integer values"
    layers = sorted(adata.layers.keys())
    return (
        f"{where} holds {looks_like}, but the expression decoder models raw integer counts. "
        "Pass the raw counts: if the file keeps them in a layer, set "
        f"data_processing.counts_layer to it (available layers: {layers}); otherwise "
        "export the un-normalised counts from your pipeline."
    )


def check_unique_names(adata: ad.AnnData) -> None:
    """Raise if cell or gene names repeat, since results are joined back by name."""
    for axis, names, fix in (
        ("cell", adata.obs_names, "adata.obs_names_make_unique()"),
        ("gene", adata.var_names, "adata.var_names_make_unique()"),
    ):
        duplicated = names[names.duplicated()].unique()
        if len(duplicated):
            examples = list(duplicated[:5])
            raise InputError(
                f"{len(duplicated)} {axis} names are duplicated, e.g. {examples}. Make them "
                f"unique before the analysis, e.g. with {fix}, and save the file again."
            )


def check_obs_keys(adata: ad.AnnData, keys: Mapping[str, str | None]) -> None:
    """Raise if a named ``obs`` column is missing.

    Parameters
    ----------
    adata
        The data whose ``obs`` is checked.
    keys
        Parameter name -> column name, e.g. ``{"label_key": "cell_type"}``. ``None`` or an
        empty string means the parameter is unset and is skipped.
    """
    available = list(adata.obs.columns)
    for parameter, column in keys.items():
        if column and column not in adata.obs:
            raise InputError(
                f"{parameter} '{column}' is not a column of adata.obs; available columns: "
                f"{available}. Set {parameter} to one of them, or leave it empty "
                f'(kedro run --params "{parameter}=") to run without it.'
            )


def make_obs_columns_usable(
    adata: ad.AnnData, *, label_key: str | None = None, batch_key: str | None = None
) -> None:
    """Refuse label or batch columns no later step can use; turn numeric ones into categories.

    A label column with missing values would fail in the ARI after training, a batch column
    with one batch in the last stage, and a numeric batch column in scanpy's HVG selection;
    all are caught here, before anything is written. Numeric codes (``0, 1, 2``) become
    string categories in place, as scanpy users expect of a grouping column.
    """
    for parameter, column in (("label_key", label_key), ("batch_key", batch_key)):
        if not column:
            continue
        values = adata.obs[column]
        missing = int(values.isna().sum())
        if missing:
            raise InputError(
                f"{parameter} '{column}' has {missing} missing values (of {values.size} cells); "
                f"give every cell a value (e.g. 'unknown') or drop those cells, or leave "
                f'{parameter} empty (kedro run --params "{parameter}=").'
            )
        if not isinstance(values.dtype, pd.CategoricalDtype):
            adata.obs[column] = pd.Categorical(values.astype(str))
    if batch_key and adata.obs[batch_key].nunique() < 2:
        only = adata.obs[batch_key].iloc[0]
        raise InputError(
            f"batch_key '{batch_key}' holds a single batch ('{only}'): there is no batch effect "
            f'to correct. Leave batch_key empty (kedro run --params "batch_key=") or name a '
            "column with at least two batches."
        )


def check_enough_observations(
    n_observations: int, n_neighbors: int, what: str = "cells", parameter: str = "n_neighbors"
) -> None:
    """Raise if a kNN graph with ``n_neighbors`` cannot be built on ``n_observations`` rows."""
    if n_neighbors < 1:
        raise InputError(f"{parameter} must be at least 1, got {n_neighbors}.")
    if n_observations <= n_neighbors:
        raise InputError(
            f"only {n_observations} {what} for a kNN graph with {parameter}={n_neighbors}: "
            f"each of the {what} needs {n_neighbors} neighbours besides itself. Lower "
            f"{parameter} below {n_observations}, or pass more {what}."
        )


def _cell_totals(matrix) -> np.ndarray:
    """Total counts per cell of a dense, sparse or backed matrix (backed: in row blocks)."""
    if not is_on_disk(matrix):
        return np.asarray(matrix.sum(axis=1)).ravel()
    return np.concatenate(
        [np.asarray(block.sum(axis=1)).ravel() for _, block in row_blocks(matrix, 20_000)]
    )


def drop_empty_cells_and_genes(adata: ad.AnnData, counts_layer: str | None = None) -> ad.AnnData:
    """Remove cells and genes whose counts are all zero, logging how many went.

    Data read backed from disk are left as they are (subsetting would load them, and a pass
    over the file only for this would repeat one): the streamed preprocessing's quality
    control removes their empty cells and genes, and :func:`check_raw_counts` has already
    rejected a matrix without any count.

    Raises
    ------
    InputError
        If no cell or no gene has any count.
    """
    matrix = _count_matrix(adata, counts_layer)
    if is_on_disk(matrix):
        return adata
    counts_per_cell = np.asarray((matrix > 0).sum(axis=1)).ravel()
    counts_per_gene = np.asarray((matrix > 0).sum(axis=0)).ravel()
    keep_cells, keep_genes = counts_per_cell > 0, counts_per_gene > 0
    if not keep_cells.any() or not keep_genes.any():
        raise InputError(_ALL_ZERO)
    n_cells_dropped = int((~keep_cells).sum())
    n_genes_dropped = int((~keep_genes).sum())
    if n_cells_dropped or n_genes_dropped:
        logger.info(
            "Dropped %d all-zero cells and %d all-zero genes; %d cells x %d genes remain.",
            n_cells_dropped,
            n_genes_dropped,
            int(keep_cells.sum()),
            int(keep_genes.sum()),
        )
        adata = adata[keep_cells, keep_genes].copy()
    return adata


def validate_counts(
    adata: ad.AnnData,
    *,
    n_neighbors: int,
    obs_keys: Mapping[str, str | None] | None = None,
    counts_layer: str | None = None,
) -> ad.AnnData:
    """Run every input check and return the data without all-zero cells and genes.

    Parameters
    ----------
    adata
        Cells x genes raw counts.
    n_neighbors
        k of the cell kNN graph built later; the data must have more cells than that.
    obs_keys
        Parameter name -> ``obs`` column that must exist (labels, batches).
    counts_layer
        Layer with the raw counts; ``None`` means ``adata.X``.

    Returns
    -------
    A copy of ``adata`` with all-zero cells and genes removed (or ``adata`` itself if none).
    """
    check_raw_counts(adata, counts_layer)
    check_unique_names(adata)
    check_obs_keys(adata, obs_keys or {})
    adata = drop_empty_cells_and_genes(adata, counts_layer)
    check_enough_observations(adata.n_obs, n_neighbors, parameter="graph_construction.n_neighbors")
    return adata


def check_same_cells(first: ad.AnnData, second: ad.AnnData, names: tuple[str, str]) -> None:
    """Raise if two stage outputs describe different cells (a stage re-run on other data) or
    come from different analyses (:func:`check_same_run`)."""
    if first.n_obs != second.n_obs or not (first.obs_names == second.obs_names).all():
        raise InputError(
            f"'{names[0]}' ({first.n_obs} cells) and '{names[1]}' ({second.n_obs} cells) "
            "describe different cells: an earlier stage was re-run on other data. Re-run the "
            "stages in between, or the whole analysis with kedro run."
        )
    check_same_run(first, second, names)


def check_same_run(first: ad.AnnData, second: ad.AnnData, names: tuple[str, str]) -> None:
    """Raise if two stage outputs carry different analysis ids (``uns["scimta"]["run_id"]``).

    Cells with the same barcodes from another input, or the early files of a new run beside
    the late files of an older (killed) one, would otherwise be combined silently.
    """
    ids = [adata.uns.get(RUN_INFO, {}).get("run_id") for adata in (first, second)]
    if None in ids or ids[0] == ids[1]:
        return  # outputs made before analyses had ids, or the same analysis
    raise InputError(
        f"'{names[0]}' ({describe_run(first)}) and '{names[1]}' ({describe_run(second)}) come "
        "from different analyses: an earlier stage was re-run, or a run stopped part-way. "
        "Re-run the stages from the first one that differs, or the whole analysis with "
        "kedro run."
    )
