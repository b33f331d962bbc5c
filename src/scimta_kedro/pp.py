"""Preprocessing on an AnnData, scanpy-style: ``import scimta_kedro as st; st.pp.preprocess(adata)``.

:func:`setup_anndata` declares the data contract once (where the counts are, the batch and
label columns), as scvi-tools' ``setup_anndata`` does; every later step reads it from
``uns["scimta"]``.
"""

from __future__ import annotations

import dataclasses

import anndata as ad

from .core import keys
from .core.batches import check_batches
from .core.graphs import GraphConfig
from .core.preprocess import PreprocessConfig, preprocess_counts
from .core.run_info import new_analysis_record, recorded_column
from .core.streamed import preprocess_backed
from .core.validate import make_obs_columns_usable, validate_counts

__all__ = ["preprocess", "setup_anndata"]


def setup_anndata(
    adata: ad.AnnData,
    *,
    counts_layer: str | None = None,
    batch_key: str | None = None,
    label_key: str | None = None,
    n_neighbors: int = GraphConfig.n_neighbors,
    input_path: str = "",
) -> ad.AnnData:
    """Check the raw counts and record which columns are batches and labels.

    Parameters
    ----------
    adata
        Cells x genes raw counts (in memory or backed).
    counts_layer
        Layer with the raw counts when ``X`` is normalised; ``None``: ``X``.
    batch_key
        ``obs`` column of batches, or ``None`` (one batch). Batches make every later step
        batch-aware (HVGs, a batch-balanced graph, a batch-conditioned decoder).
    label_key
        ``obs`` column of known cell types, only ever used to score; or ``None``.
    n_neighbors
        k of the cell graph built later: the data (and every batch) must have more cells.
    input_path
        Where the cells came from, recorded for the report.

    Returns
    -------
    ``adata`` without all-zero cells and genes (a copy if any were dropped), with
    ``uns["scimta"]`` = ``{run_id, input_path, input_size_bytes, input_modified, label_key,
    batch_key, n_cells_input, counts_layer}``: every later stage's output carries it, and a
    stage refuses inputs of different ``run_id`` s (outputs of different analyses).

    Raises
    ------
    InputError
        Naming the problem and the fix (not counts, NaN, a missing column, too few cells...).
    """
    cells = validate_counts(
        adata,
        n_neighbors=n_neighbors,
        obs_keys={"label_key": label_key, "batch_key": batch_key},
        counts_layer=counts_layer,
    )
    make_obs_columns_usable(cells, label_key=label_key, batch_key=batch_key)
    if batch_key:
        check_batches(cells.obs, batch_key, n_neighbors)
    cells.uns[keys.RUN_INFO] = {
        **new_analysis_record(input_path),
        "label_key": label_key or "",
        "batch_key": batch_key or "",
        "n_cells_input": adata.n_obs,
        "counts_layer": counts_layer or "",
    }
    return cells


def preprocess(
    adata: ad.AnnData,
    config: PreprocessConfig | None = None,
    *,
    use_dask: bool = False,
    **params,
) -> ad.AnnData:
    """QC, library-size normalisation, log1p, HVGs, scaling and PCA (scanpy).

    Parameters
    ----------
    adata
        Cells from :func:`setup_anndata` (in memory, or backed: then processed in row chunks
        with a sparse, uncentred ``X``).
    use_dask
        Backed cells only: read ``X`` as a Dask array and let scanpy's Dask support do QC
        and the HVG ranking (:mod:`scimta_kedro.core.dask_preprocess`), on the cluster of an
        open ``distributed.Client`` if there is one. ``False``: chunk loops of this process.
    config, **params
        :class:`~scimta_kedro.core.preprocess.PreprocessConfig`, or its fields as keywords
        (``n_top_genes=3000``); keywords override ``config``.

    Returns
    -------
    A new AnnData of the QC-passing cells and the HVGs: dense scaled ``X``,
    ``layers["counts"]`` (raw counts), ``layers["log_normalized"]``, ``obsm["X_pca"]``,
    ``obs["total_counts"]``, and the parameters in ``uns["scimta_preprocess"]["params"]``.
    """
    config = dataclasses.replace(config or PreprocessConfig(), **params)
    counts_layer = recorded_column(adata, "counts_layer") or None
    batch_key = recorded_column(adata, "batch_key") or None
    if adata.isbacked and use_dask:
        from .core.dask_preprocess import preprocess_dask  # imports Dask only when asked

        run = preprocess_dask
    elif adata.isbacked:
        run = preprocess_backed
    else:
        run = preprocess_counts
    return run(adata, config, counts_layer=counts_layer, batch_key=batch_key)
