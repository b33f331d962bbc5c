"""Nodes of the graph_construction pipeline."""

from __future__ import annotations

from typing import Any

import anndata as ad

from scimta_kedro.core import keys
from scimta_kedro.core.batches import batch_labels
from scimta_kedro.core.communities import gene_embedding
from scimta_kedro.core.graphs import GraphConfig, PPMIGraph, build_ppmi_graph
from scimta_kedro.core.run_info import recorded_column
from scimta_kedro.core.validate import InputError

# Keys of params:graph_construction that are not GraphConfig fields of the cell graph.
NOT_CELL_GRAPH_OPTIONS = ("use_rep", "gene_graph")


def cell_graph_config(options: dict[str, Any], random_state: int) -> GraphConfig:
    """The cell graph's :class:`GraphConfig` from ``params:graph_construction``."""
    fields = {key: value for key, value in options.items() if key not in NOT_CELL_GRAPH_OPTIONS}
    return GraphConfig(**fields, random_state=random_state)


def gene_graph_config(options: dict[str, Any], random_state: int) -> GraphConfig:
    """The gene graph's :class:`GraphConfig` from ``params:graph_construction.gene_graph``."""
    return GraphConfig(**options, random_state=random_state)


def _graph_holder(obs, graph: PPMIGraph, config: GraphConfig, **info: Any) -> ad.AnnData:
    holder = ad.AnnData(obs=obs)
    holder.obsp[keys.CONNECTIVITIES] = graph.connectivities
    holder.obsp[keys.PPMI] = graph.ppmi
    holder.obsp[keys.KNN] = graph.knn
    holder.obsp[keys.KNN_CONNECTIVITIES] = graph.knn_connectivities
    holder.uns["scimta_graph"] = {**info, **config.__dict__}
    return holder


def build_cell_graph(
    preprocessed_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """The cell graphs in ``obsp`` of a cells-only AnnData (no genes, so the file stays small).

    With a batch key (and ``batch_balanced``), the kNN graph is batch-balanced.
    """
    representation = options["use_rep"]
    if representation not in preprocessed_cells.obsm:
        raise InputError(
            f"graph_construction.use_rep '{representation}' is not in obsm; available: "
            f"{list(preprocessed_cells.obsm.keys())}."
        )
    config = cell_graph_config(options, random_state)
    batches = batch_labels(preprocessed_cells)
    graph = build_ppmi_graph(preprocessed_cells.obsm[representation], config, batches)
    return _graph_holder(
        preprocessed_cells.obs[[]].copy(),
        graph,
        config,
        use_rep=representation,
        batch_key=recorded_column(preprocessed_cells, "batch_key"),
    )


def build_gene_graph(
    preprocessed_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """The gene graphs, by the cell graph's code on the genes' PCA coordinates.

    Returns an AnnData whose observations are the genes (``obs_names`` = ``var_names`` of the
    preprocessed cells) with the graphs in ``obsp``.
    """
    config = gene_graph_config(options, random_state)
    graph = build_ppmi_graph(gene_embedding(preprocessed_cells), config)
    return _graph_holder(
        preprocessed_cells.var[[]].copy(), graph, config, use_rep="gene PCA coordinates"
    )
