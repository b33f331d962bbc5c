"""Nodes of the data_processing pipeline: thin wrappers over ``scimta_kedro.core``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad

from scimta_kedro.core import keys, simulate
from scimta_kedro.core.batches import check_batches
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.run_info import recorded_column
from scimta_kedro.core.streamed import preprocess_backed
from scimta_kedro.core.validate import check_enough_observations, read_cells, validate_counts

logger = logging.getLogger(__name__)


def load_cells(input_path: str | None, options: dict[str, Any], random_state: int) -> ad.AnnData:
    """Read ``input_path``, or simulate cells with known groups when it is empty."""
    if input_path:
        logger.info("Reading %s", input_path)
        return read_cells(input_path, options["in_memory_max_nonzeros"])
    logger.info("No input_path given: simulating cells (%s).", options["simulation"])
    config = simulate.SimulationConfig(**options["simulation"], random_state=random_state)
    return simulate.simulate_counts(config)


def validate_cells(
    raw_cells: ad.AnnData,
    input_path: str | None,
    label_key: str | None,
    options: dict[str, Any],
    graph_options: dict[str, Any],
    *,
    batch_key: str | None = None,
) -> ad.AnnData:
    """Check the counts and named columns before any long step; record the label and batch
    columns for the later stages."""
    if not label_key and not input_path:
        label_key = simulate.LABEL_KEY  # the simulator's ground truth
    cells = validate_counts(
        raw_cells,
        n_neighbors=graph_options["n_neighbors"],
        obs_keys={"label_key": label_key, "batch_key": batch_key},
        counts_layer=options["counts_layer"],
    )
    if batch_key:
        check_batches(cells.obs, batch_key, graph_options["n_neighbors"])
    gene_neighbors = graph_options.get("gene_graph", {}).get("n_neighbors")
    if gene_neighbors is not None:
        # The gene graph is built on the highly variable genes, at most n_top_genes of them.
        n_top_genes = options.get("preprocessing", {}).get("n_top_genes", cells.n_vars)
        check_enough_observations(
            min(cells.n_vars, n_top_genes),
            gene_neighbors,
            what="genes",
            parameter="graph_construction.gene_graph.n_neighbors",
        )
    cells.uns[keys.RUN_INFO] = {
        "label_key": label_key or "",
        "batch_key": batch_key or "",
        "input_path": input_path or "simulated",
        "n_cells_input": raw_cells.n_obs,
    }
    return cells


def preprocess_config(options: dict[str, Any], random_state: int) -> PreprocessConfig:
    """The :class:`PreprocessConfig` of ``params:data_processing``."""
    return PreprocessConfig(**options["preprocessing"], random_state=random_state)


def preprocess_cells(
    validated_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """QC, normalisation, HVGs, scaling and PCA; raw counts kept in ``layers['counts']``.

    Data read backed (larger than ``in_memory_max_nonzeros``) are processed in row chunks.
    """
    config = preprocess_config(options, random_state)
    preprocess = preprocess_backed if validated_cells.isbacked else preprocess_counts
    return preprocess(
        validated_cells,
        config,
        counts_layer=options["counts_layer"],
        batch_key=recorded_column(validated_cells, "batch_key") or None,
    )
