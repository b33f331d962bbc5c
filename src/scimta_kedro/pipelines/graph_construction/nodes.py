"""Nodes of the graph_construction pipeline."""

from __future__ import annotations

from typing import Any

import anndata as ad

from scimta_kedro.core import keys
from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.validate import InputError


def build_cell_graph(
    preprocessed_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> ad.AnnData:
    """The cell graphs in ``obsp`` of a cells-only AnnData (no genes, so the file stays small)."""
    representation = options["use_rep"]
    if representation not in preprocessed_cells.obsm:
        raise InputError(
            f"graph_construction.use_rep '{representation}' is not in obsm; available: "
            f"{list(preprocessed_cells.obsm.keys())}."
        )
    config = GraphConfig(
        **{key: value for key, value in options.items() if key != "use_rep"},
        random_state=random_state,
    )
    graph = build_ppmi_graph(preprocessed_cells.obsm[representation], config)
    cell_graph = ad.AnnData(obs=preprocessed_cells.obs[[]].copy())
    cell_graph.obsp[keys.CONNECTIVITIES] = graph.connectivities
    cell_graph.obsp[keys.PPMI] = graph.ppmi
    cell_graph.obsp[keys.KNN] = graph.knn
    cell_graph.uns["scimta_graph"] = {"use_rep": representation, **config.__dict__}
    return cell_graph
