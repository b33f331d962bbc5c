"""Nodes of the gene_communities pipeline: thin wrappers over ``core.communities``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core import communities, keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.plots import community_heatmap, top_genes_dotplot
from scimta_kedro.core.preprocess import LOG_LAYER
from scimta_kedro.core.simulate import NO_PROGRAMME, PROGRAMME_KEY
from scimta_kedro.core.validate import InputError

logger = logging.getLogger(__name__)


def find_gene_communities(
    preprocessed_cells: ad.AnnData,
    gene_graph: ad.AnnData,
    options: dict[str, Any],
    random_state: int,
) -> pd.DataFrame:
    """One row per highly variable gene: its name, community and membership (ranked)."""
    if list(gene_graph.obs_names) != list(preprocessed_cells.var_names):
        raise InputError(
            "'gene_graph' was built on other genes than 'preprocessed_cells': re-run "
            "graph_construction (or the whole analysis with kedro run)."
        )
    labels = communities.detect_gene_communities(
        gene_graph.obsp[keys.CONNECTIVITIES],
        resolution=options["resolution"],
        random_state=random_state,
    )
    scores = communities.community_scores(preprocessed_cells.X, labels)
    table = pd.DataFrame(
        {
            "gene": preprocessed_cells.var_names,
            "gene_name": communities.gene_display_names(
                preprocessed_cells, options["gene_symbols_key"]
            ),
            "community": labels,
            "membership": communities.gene_membership(preprocessed_cells.X, labels, scores),
        }
    )
    table = table.sort_values(["community", "membership"], ascending=[True, False])
    table["rank_in_community"] = table.groupby("community").cumcount() + 1
    logger.info(
        "%d gene communities in %d genes (sizes %s).",
        labels.max() + 1,
        labels.size,
        np.bincount(labels).tolist(),
    )
    return table.reset_index(drop=True)


def link_communities_to_clusters(
    clustered_cells: ad.AnnData, gene_communities: pd.DataFrame, options: dict[str, Any]
) -> tuple[ad.AnnData, pd.DataFrame, dict[str, Any], dict[str, dict[str, float]]]:
    """Score every (cluster, community) pair; the annotated cells, table, summary, metrics.

    ``interpreted_cells`` is ``clustered_cells`` with the gene communities in ``var``, the
    community scores in ``obsm`` and the sparse log-normalised matrix as ``X`` (the dense
    scaled matrix is dropped: it is in ``preprocessed_cells``).
    """
    by_gene = gene_communities.set_index("gene").reindex(clustered_cells.var_names)
    if by_gene["community"].isna().any():
        raise InputError(
            "'gene_communities' does not cover the genes of 'clustered_cells': re-run the "
            "gene_communities pipeline after data_processing."
        )
    labels = by_gene["community"].to_numpy(dtype=np.int64)
    scores = communities.community_scores(clustered_cells.X, labels)
    table = communities.link_communities_to_clusters(
        scores, clustered_cells.obs[keys.CLUSTER].to_numpy(), np.bincount(labels)
    )
    top_genes = communities.top_genes_per_community(gene_communities, options["n_top_genes"])
    characterisation = communities.characterise_clusters(table, top_genes, options["fdr"])

    interpreted = shallow_copy(clustered_cells)
    interpreted.X = interpreted.layers.pop(LOG_LAYER)
    categories = [str(community) for community in range(labels.max() + 1)]
    interpreted.var[keys.GENE_COMMUNITY] = pd.Categorical(labels.astype(str), categories=categories)
    interpreted.var[keys.GENE_MEMBERSHIP] = by_gene["membership"].to_numpy(dtype=np.float32)
    interpreted.var[keys.GENE_NAME] = by_gene["gene_name"].astype(str).to_numpy()
    interpreted.obsm[keys.COMMUNITY_SCORES] = scores
    interpreted.uns[keys.GENE_COMMUNITY] = {
        "top_genes": {str(community): genes for community, genes in top_genes.items()},
        "params": dict(options),
    }
    summary = {
        "fdr": options["fdr"],
        "n_gene_communities": len(categories),
        "community_sizes": {str(c): int(n) for c, n in enumerate(np.bincount(labels))},
        "top_genes": {str(community): genes for community, genes in top_genes.items()},
        "clusters": characterisation,
    }
    metrics = {
        "n_gene_communities": len(categories),
        "n_enriched_pairs": sum(len(enriched) for enriched in characterisation.values()),
    }
    if PROGRAMME_KEY in clustered_cells.var:
        # Simulated data know their planted programmes: report how well they were recovered.
        planted = clustered_cells.var[PROGRAMME_KEY].astype(str).to_numpy()
        in_programme = planted != NO_PROGRAMME
        metrics["programme_gene_ari"] = adjusted_rand_score(
            planted[in_programme], labels[in_programme]
        )
    return (
        interpreted,
        table,
        summary,
        {name: {"value": float(value), "step": 0} for name, value in metrics.items()},
    )


def _community_label(community: int, top_genes: dict[int, list[str]], n_genes: int = 3) -> str:
    return f"GC{community} ({', '.join(top_genes[community][:n_genes])})"


def plot_community_heatmap(
    community_cluster_scores: pd.DataFrame,
    gene_communities: pd.DataFrame,
    options: dict[str, Any],
) -> Figure:
    """Clusters x communities heatmap, communities named by their top genes."""
    top_genes = communities.top_genes_per_community(gene_communities, options["n_top_genes"])
    labels = {community: _community_label(community, top_genes) for community in top_genes}
    return community_heatmap(community_cluster_scores, labels, options["fdr"])


def plot_top_genes(
    interpreted_cells: ad.AnnData, gene_communities_summary: dict[str, Any], options: dict[str, Any]
) -> Figure:
    """Dot plot per cluster of the top genes of the communities that characterise clusters."""
    genes_by_community: dict[str, list[str]] = {}
    for enriched in gene_communities_summary["clusters"].values():
        for entry in enriched[:1]:  # each cluster's strongest community
            genes = entry["top_genes"][: options["dotplot_genes_per_community"]]
            genes_by_community.setdefault(f"GC{entry['community']}", genes)
    if not genes_by_community:
        logger.warning(
            "No gene community is significantly higher in any cluster (fdr %s); the dot plot "
            "shows the largest communities instead.",
            options["fdr"],
        )
        for community, genes in list(gene_communities_summary["top_genes"].items())[:5]:
            genes_by_community[f"GC{community}"] = genes[: options["dotplot_genes_per_community"]]
    return top_genes_dotplot(interpreted_cells, genes_by_community, keys.CLUSTER, keys.GENE_NAME)
