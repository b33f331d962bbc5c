"""Nodes of the gene_communities pipeline: thin wrappers over ``scimta_kedro.tl``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score

from scimta_kedro import tl
from scimta_kedro.core import communities, keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.cluster_qc import depth_artefacts, depth_warning
from scimta_kedro.core.params import section_config
from scimta_kedro.core.plots import community_heatmap, top_genes_dotplot
from scimta_kedro.core.simulate import NO_PROGRAMME, PROGRAMME_KEY
from scimta_kedro.core.validate import InputError, check_same_run

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
    check_same_run(preprocessed_cells, gene_graph, ("preprocessed_cells", "gene_graph"))
    config = section_config("gene_communities", options)
    cells = shallow_copy(preprocessed_cells)
    cells.varp.update(dict(gene_graph.obsp))
    table = tl.gene_communities(cells, config, random_state=random_state)
    sizes = table["community"].value_counts().sort_index().tolist()
    logger.info("%d gene communities in %d genes (sizes %s).", len(sizes), len(table), sizes)
    return table


def link_communities_to_clusters(
    clustered_cells: ad.AnnData, gene_communities: pd.DataFrame, options: dict[str, Any]
) -> tuple[ad.AnnData, pd.DataFrame, dict[str, Any], dict[str, dict[str, float]]]:
    """Score every (cluster, community) pair; the annotated cells, table, summary, metrics.

    ``interpreted_cells`` is ``clustered_cells`` with the gene communities in ``var``, the
    community scores in ``obsm`` and the sparse log-normalised matrix as ``X`` (the dense
    scaled matrix is dropped: it is in ``preprocessed_cells``).
    """
    config = section_config("gene_communities", options)
    logger.info(
        "Scoring %d gene communities in %d clusters of %d cells (Wilcoxon rank-sum tests).",
        gene_communities["community"].nunique(),
        clustered_cells.obs[keys.CLUSTER].nunique(),
        clustered_cells.n_obs,
    )
    interpreted = shallow_copy(clustered_cells)
    tl.write_gene_communities(interpreted, gene_communities, config)
    table, characterisation = tl.link_communities(interpreted)
    interpreted.X = interpreted.layers.pop(keys.LOG_LAYER)
    labels = interpreted.var[keys.GENE_COMMUNITY].astype(int).to_numpy()
    top_genes = interpreted.uns[keys.GENE_COMMUNITY]["top_genes"]
    quality = clustered_cells.uns.get(keys.CLUSTER_QC)
    flagged = (
        []
        if quality is None
        else list(
            depth_artefacts(
                quality, table, config.depth_flag_ratio, config.depth_flag_shift
            ).itertuples()
        )
    )
    for row in flagged:
        logger.warning("%s", depth_warning(row))
    summary = {
        "fdr": config.fdr,
        "min_effect": config.min_effect,
        "n_gene_communities": int(labels.max() + 1),
        "community_sizes": {str(c): int(n) for c, n in enumerate(np.bincount(labels))},
        "top_genes": top_genes,
        "clusters": characterisation,
        # Clusters whose depth differs from the rest: their communities may be technical.
        "depth_flagged_clusters": {str(row.cluster): depth_warning(row) for row in flagged},
        "depth_ratios": {str(row.cluster): float(row.depth_ratio) for row in flagged},
    }
    n_enriched = sum(len(enriched) for enriched in characterisation.values())
    metrics = {
        "n_gene_communities": int(labels.max() + 1),
        "n_enriched_pairs": n_enriched,
        "n_depth_flagged_clusters": len(flagged),
    }
    logger.info(
        "gene_communities: %d communities, %d (cluster, community) pairs enriched "
        "(adjusted p < %s, effect >= %s z); %d of %d clusters characterised.",
        int(labels.max() + 1),
        n_enriched,
        config.fdr,
        config.min_effect,
        sum(1 for enriched in characterisation.values() if enriched),
        len(characterisation),
    )
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


def _community_label(community: int, top_genes: dict[int, list[str]], n_genes: int = 2) -> str:
    return f"GC{community} {', '.join(top_genes[community][:n_genes])}"


def plot_community_heatmap(
    community_cluster_scores: pd.DataFrame,
    gene_communities: pd.DataFrame,
    gene_communities_summary: dict[str, Any],
    options: dict[str, Any],
) -> Figure:
    """Clusters x communities heatmap, communities named by their top genes and ordered by
    the cluster they characterise; depth-flagged clusters marked."""
    config = section_config("gene_communities", options)
    top_genes = communities.top_genes_per_community(gene_communities, config.n_top_genes)
    labels = {community: _community_label(community, top_genes) for community in top_genes}
    return community_heatmap(
        community_cluster_scores,
        labels,
        config.fdr,
        min_effect=config.min_effect,
        depth_ratios=gene_communities_summary.get("depth_ratios", {}),
    )


def plot_top_genes(
    interpreted_cells: ad.AnnData, gene_communities_summary: dict[str, Any], options: dict[str, Any]
) -> Figure:
    """Dot plot per cluster of the top genes of the communities that characterise clusters."""
    config = section_config("gene_communities", options)
    genes_by_community: dict[str, list[str]] = {}
    for enriched in gene_communities_summary["clusters"].values():
        for entry in enriched[:1]:  # each cluster's strongest community
            genes = entry["top_genes"][: config.dotplot_genes_per_community]
            genes_by_community.setdefault(f"GC{entry['community']}", genes)
    if not genes_by_community:
        logger.warning(
            "No gene community is significantly higher in any cluster (fdr %s); the dot plot "
            "shows the largest communities instead.",
            config.fdr,
        )
        for community, genes in list(gene_communities_summary["top_genes"].items())[:5]:
            genes_by_community[f"GC{community}"] = genes[: config.dotplot_genes_per_community]
    return top_genes_dotplot(interpreted_cells, genes_by_community, keys.CLUSTER, keys.GENE_NAME)
