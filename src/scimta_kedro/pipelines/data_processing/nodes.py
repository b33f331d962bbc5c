"""Nodes of the data_processing pipeline: thin wrappers over ``scimta_kedro.pp``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad

from scimta_kedro import pp
from scimta_kedro.core import simulate
from scimta_kedro.core.dask_cluster import dask_client
from scimta_kedro.core.io import read_cells
from scimta_kedro.core.params import section_config
from scimta_kedro.core.validate import InputError, check_enough_observations

logger = logging.getLogger(__name__)


def load_cells(input_path: str | None, options: dict[str, Any], random_state: int) -> ad.AnnData:
    """Read ``input_path``, or simulate cells with known groups when it is empty."""
    config = section_config("data_processing", options, random_state)
    if input_path:
        logger.info("Reading %s", input_path)
        return read_cells(input_path, config.in_memory_max_nonzeros)
    logger.info("No input_path given: simulating cells (%s).", config.simulation)
    return simulate.simulate_counts(config.simulation)


def validate_cells(
    raw_cells: ad.AnnData,
    input_path: str | None,
    label_key: str | None,
    options: dict[str, Any],
    graph_options: dict[str, Any],
    *,
    batch_key: str | None = None,
    training_options: dict[str, Any] | None = None,
) -> ad.AnnData:
    """Check the counts and named columns before any long step; record the label and batch
    columns for the later stages (:func:`scimta_kedro.pp.setup_anndata`)."""
    config = section_config("data_processing", options)
    graphs = section_config("graph_construction", graph_options)
    n_clusters = section_config("training", training_options).n_clusters
    if n_clusters != "auto" and n_clusters >= raw_cells.n_obs:
        raise InputError(
            f"training.n_clusters={n_clusters} is not less than the {raw_cells.n_obs} cells of "
            "the input; lower it, or use n_clusters: auto."
        )
    if not label_key and not input_path:
        label_key = simulate.LABEL_KEY  # the simulator's ground truth
    cells = pp.setup_anndata(
        raw_cells,
        counts_layer=config.counts_layer,
        batch_key=batch_key,
        label_key=label_key,
        n_neighbors=graphs.cell_graph.n_neighbors,
        input_path=input_path or "simulated",
    )
    # The gene graph is built on the highly variable genes, at most n_top_genes of them.
    check_enough_observations(
        min(cells.n_vars, config.preprocessing.n_top_genes),
        graphs.gene_graph.n_neighbors,
        what="genes",
        parameter="graph_construction.gene_graph.n_neighbors",
    )
    return cells


def preprocess_cells(
    validated_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """QC, normalisation, HVGs, scaling and PCA; raw counts kept in ``layers['counts']``.

    Data read backed (larger than ``in_memory_max_nonzeros``) are processed in row chunks:
    here, or on the Dask cluster of ``data_processing.dask``.
    """
    config = section_config("data_processing", options, random_state)
    if config.dask.enabled and validated_cells.isbacked:
        with dask_client(config.dask):
            preprocessed = pp.preprocess(validated_cells, config.preprocessing, use_dask=True)
    else:
        if config.dask.enabled:
            logger.info(
                "data_processing.dask is set, but the input was loaded in memory (at most "
                "in_memory_max_nonzeros counts): preprocessing it here, without Dask."
            )
        preprocessed = pp.preprocess(validated_cells, config.preprocessing)
    logger.info(
        "data_processing: %d cells x %d genes in; %d cells kept, %d highly variable genes.",
        validated_cells.n_obs,
        validated_cells.n_vars,
        preprocessed.n_obs,
        preprocessed.n_vars,
    )
    return preprocessed
