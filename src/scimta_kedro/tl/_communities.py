"""``gene_communities`` (Leiden on the gene graph) and ``link_communities`` (which communities
characterise which cell clusters)."""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import pandas as pd

from ..core import communities, keys
from ..core.communities import CommunityConfig
from ..core.errors import InputError
from ..core.run_info import params_record, recorded_params
from ._graph import graph_matrix


def gene_communities(
    adata: ad.AnnData,
    config: CommunityConfig | None = None,
    *,
    graph_key: str = keys.GENE_GRAPH_PREFIX,
    random_state: int = 0,
    **params,
) -> pd.DataFrame:
    """Leiden communities of the gene graph (:func:`~scimta_kedro.tl.gene_graph`).

    Writes them with :func:`write_gene_communities` and returns the gene table: one row per
    gene with ``gene``, ``gene_name``, ``community`` (0 = the largest), ``membership`` (the
    gene's correlation with its community's score) and ``rank_in_community``.

    ``config``, ``**params``: :class:`~scimta_kedro.core.communities.CommunityConfig` or its
    fields. The community scores are means of ``X`` (the scaled HVGs) over the genes.
    """
    config = dataclasses.replace(config or CommunityConfig(), **params)
    labels = communities.detect_gene_communities(
        graph_matrix(adata.varp, graph_key, "connectivities", "the cells' varp"),
        resolution=config.resolution,
        random_state=random_state,
    )
    scores = communities.community_scores(adata.X, labels)
    table = pd.DataFrame(
        {
            "gene": adata.var_names,
            "gene_name": communities.gene_display_names(adata, config.gene_symbols_key),
            "community": labels,
            "membership": communities.gene_membership(adata.X, labels, scores),
        }
    )
    table = table.sort_values(["community", "membership"], ascending=[True, False])
    table["rank_in_community"] = table.groupby("community").cumcount() + 1
    table = table.reset_index(drop=True)
    write_gene_communities(adata, table, config)
    return table


def write_gene_communities(
    adata: ad.AnnData, table: pd.DataFrame, config: CommunityConfig | None = None
) -> None:
    """The gene table of :func:`gene_communities` into ``var["scimta_gene_community"]``,
    ``var["scimta_gene_membership"]``, ``var["scimta_gene_name"]`` and
    ``uns["scimta_gene_community"]`` (``top_genes`` of each community, ``params``)."""
    config = config or CommunityConfig()
    # A table read back from CSV may hold integer-like gene names as numbers.
    by_gene = table.set_index(table["gene"].astype(str)).reindex(adata.var_names.astype(str))
    if by_gene["community"].isna().any():
        raise InputError(
            "the gene communities do not cover the genes of these cells: find them on the "
            "same preprocessed cells (re-run the gene_communities pipeline after "
            "data_processing)."
        )
    labels = by_gene["community"].to_numpy(dtype=np.int64)
    categories = [str(community) for community in range(labels.max() + 1)]
    adata.var[keys.GENE_COMMUNITY] = pd.Categorical(labels.astype(str), categories=categories)
    adata.var[keys.GENE_MEMBERSHIP] = by_gene["membership"].to_numpy(dtype=np.float32)
    adata.var[keys.GENE_NAME] = by_gene["gene_name"].astype(str).to_numpy()
    top_genes = communities.top_genes_per_community(table, config.n_top_genes)
    adata.uns[keys.GENE_COMMUNITY] = {
        "top_genes": {str(community): genes for community, genes in top_genes.items()},
        "params": params_record(config),
    }


def link_communities(
    adata: ad.AnnData, *, cluster_key: str = keys.CLUSTER
) -> tuple[pd.DataFrame, dict[str, list[dict]]]:
    """Score every (cluster, community) pair.

    Reads the communities of :func:`gene_communities` and ``obs[cluster_key]``; writes each
    cell's community scores (means of ``X`` over each community's genes) to
    ``obsm["scimta_community_scores"]``. Returns the cluster x community table (effect,
    Wilcoxon z, p-values, Benjamini-Hochberg adjusted) and, per cluster, the communities
    significantly and clearly higher in it (adjusted p < ``fdr``, effect at least
    ``min_effect``) with their top genes.
    """
    if keys.GENE_COMMUNITY not in adata.var:
        raise InputError("no gene communities in var: run st.tl.gene_communities first.")
    if cluster_key not in adata.obs:
        raise InputError(f"obs['{cluster_key}'] is missing: run st.tl.cluster first.")
    labels = adata.var[keys.GENE_COMMUNITY].astype(int).to_numpy()
    scores = communities.community_scores(adata.X, labels)
    table = communities.link_communities_to_clusters(
        scores, adata.obs[cluster_key].to_numpy(), np.bincount(labels)
    )
    record = adata.uns[keys.GENE_COMMUNITY]
    top_genes = {int(community): list(genes) for community, genes in record["top_genes"].items()}
    recorded = recorded_params(adata, keys.GENE_COMMUNITY)
    fdr = recorded.get("fdr", CommunityConfig.fdr)
    min_effect = recorded.get("min_effect", CommunityConfig.min_effect)
    adata.obsm[keys.COMMUNITY_SCORES] = scores
    return table, communities.characterise_clusters(table, top_genes, fdr, min_effect)
