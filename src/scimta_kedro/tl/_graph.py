"""``cell_graph`` and ``gene_graph``: the sparse PPMI graphs of cells and of genes."""

from __future__ import annotations

import dataclasses

import anndata as ad

from ..core import keys
from ..core.batches import batch_labels
from ..core.communities import gene_embedding
from ..core.errors import InputError
from ..core.graphs import GENE_GRAPH, GraphConfig, PPMIGraph, build_ppmi_graph
from ..core.run_info import params_record, recorded_column


def cell_graph(
    adata: ad.AnnData,
    config: GraphConfig | None = None,
    *,
    use_rep: str = keys.PCA,
    key_added: str = keys.GRAPH_PREFIX,
    **params,
) -> None:
    """kNN -> random surfing -> PPMI -> ``D^-1/2 (W + I) D^-1/2`` on ``obsm[use_rep]``.

    Writes ``obsp[f"{key_added}_connectivities"]`` (what the encoder propagates over),
    ``_ppmi`` (the edges it reconstructs), ``_knn`` and ``_knn_connectivities`` (scanpy's
    UMAP weights, which count the clusters), all sparse, and
    ``uns[f"{key_added}_graph"]["params"]``. With a ``batch_key`` (:func:`~scimta_kedro.pp.
    setup_anndata`) and ``batch_balanced``, every cell takes neighbours from every batch.

    ``config``, ``**params``: :class:`~scimta_kedro.core.graphs.GraphConfig` or its fields.
    """
    config = dataclasses.replace(config or GraphConfig(), **params)
    if use_rep not in adata.obsm:
        raise InputError(
            f"use_rep '{use_rep}' is not in obsm; available: {list(adata.obsm.keys())}. "
            "Run st.pp.preprocess first, or set graph_construction.use_rep."
        )
    graph = build_ppmi_graph(adata.obsm[use_rep], config, batch_labels(adata))
    _write_graph(adata.obsp, graph, key_added)
    adata.uns[f"{key_added}_graph"] = {
        "params": {**params_record(config), "use_rep": use_rep},
        "batch_key": recorded_column(adata, "batch_key"),
    }


def gene_graph(
    adata: ad.AnnData,
    config: GraphConfig | None = None,
    *,
    key_added: str = keys.GENE_GRAPH_PREFIX,
    **params,
) -> None:
    """The same graph on the genes, placed at their PCA coordinates (loadings x singular
    values), into ``varp[f"{key_added}_connectivities"]`` etc. and
    ``uns[f"{key_added}_graph"]["params"]``. Defaults: cosine kNN, pruning bound 50
    (:data:`~scimta_kedro.core.graphs.GENE_GRAPH`)."""
    config = dataclasses.replace(config or GENE_GRAPH, **params)
    graph = build_ppmi_graph(gene_embedding(adata), config)
    _write_graph(adata.varp, graph, key_added)
    adata.uns[f"{key_added}_graph"] = {
        "params": {**params_record(config), "use_rep": "gene PCA coordinates"}
    }


def _write_graph(slots, graph: PPMIGraph, prefix: str) -> None:
    for kind, key in keys.graph_keys(prefix).items():
        slots[key] = getattr(graph, kind)


def graph_matrix(slots, prefix: str, kind: str, where: str):
    """One graph of a :func:`cell_graph` (``obsp``) or :func:`gene_graph` (``varp``) build."""
    key = keys.graph_keys(prefix)[kind]
    if key not in slots:
        raise InputError(
            f"{where} has no '{key}': build the graph first (st.tl.cell_graph / "
            "st.tl.gene_graph, or `kedro run --pipelines graph_construction`)."
        )
    return slots[key]
