"""Nodes of the graph_construction pipeline: thin wrappers over ``scimta_kedro.tl``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.params import section_config

logger = logging.getLogger(__name__)


def build_cell_graph(
    preprocessed_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """The cell graphs in ``obsp`` of a cells-only AnnData (no genes, so the file stays small).

    With a batch key (and ``batch_balanced``), the kNN graph is batch-balanced.
    """
    config = section_config("graph_construction", options, random_state)
    cells = shallow_copy(preprocessed_cells)
    tl.cell_graph(cells, config.cell_graph, use_rep=config.use_rep)
    _log_graph("cell", cells.obsp[keys.PPMI])
    return _graph_holder(cells.obs[[]], cells.obsp, keys.GRAPH_PREFIX, cells.uns)


def build_gene_graph(
    preprocessed_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """The gene graphs, by the cell graph's code on the genes' PCA coordinates.

    Returns an AnnData whose observations are the genes (``obs_names`` = ``var_names`` of the
    preprocessed cells) with the graphs in ``obsp`` (``scimta_gene_connectivities``, ...).
    """
    config = section_config("graph_construction", options, random_state)
    cells = shallow_copy(preprocessed_cells)
    tl.gene_graph(cells, config.gene_graph)
    _log_graph("gene", cells.varp[f"{keys.GENE_GRAPH_PREFIX}_ppmi"])
    return _graph_holder(cells.var[[]], cells.varp, keys.GENE_GRAPH_PREFIX, cells.uns)


def _log_graph(kind: str, ppmi) -> None:
    logger.info(
        "graph_construction: %s graph of %d rows, %d PPMI edges, mean degree %.1f.",
        kind,
        ppmi.shape[0],
        ppmi.nnz,
        ppmi.nnz / max(ppmi.shape[0], 1),
    )


def _graph_holder(index, graphs, prefix: str, uns) -> ad.AnnData:
    """The graphs of ``prefix`` with their parameters, on the rows they link."""
    return ad.AnnData(
        obs=index.copy(),
        obsp={key: graphs[key] for key in keys.graph_keys(prefix).values()},
        uns={f"{prefix}_graph": uns[f"{prefix}_graph"], keys.RUN_INFO: uns.get(keys.RUN_INFO, {})},
    )
