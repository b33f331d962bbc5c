"""Gene communities from the gene graph, and which communities characterise which cell clusters.

The gene graph is built by :func:`scimta_kedro.core.graphs.build_ppmi_graph` on a gene
embedding (:func:`gene_embedding`); communities are Leiden clusters of that graph. A cell's
score for a community is the mean of its z-scored expression over the community's genes, and a
(cluster, community) pair is scored by how much higher that score is inside the cluster than
outside it (Wilcoxon rank-sum test from ``scanpy.tl.rank_genes_groups``, Benjamini-Hochberg
over the whole cluster x community table).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from scipy.stats import false_discovery_control

from .cluster import leiden_on_graph, relabel_by_size
from .validate import InputError
from .value_checks import check_ranges

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommunityConfig:
    """Settings of the gene communities and of their link to the cell clusters.

    Attributes
    ----------
    resolution
        Leiden resolution on the gene graph.
    n_top_genes
        Genes listed per community (ranked by correlation with the community score).
    fdr
        Benjamini-Hochberg false discovery rate over the whole cluster x community table.
    gene_symbols_key
        ``var`` column with gene symbols when ``var_names`` are IDs; ``None``: ``var_names``.
    dotplot_genes_per_community
        Genes of each community shown in the dot plot.
    min_effect
        Smallest ``effect`` (community score in the cluster minus elsewhere, z units) that
        characterises a cluster, besides the adjusted p-value: with thousands of cells a
        shift of a few hundredths of a standard deviation is significant, and a cluster that
        differs only in depth shifts every community a little.
    depth_flag_ratio, depth_flag_shift
        A cluster whose median library size is ``depth_flag_ratio`` times that of the other
        cells (or that many times smaller) and whose median community effect moves the same
        way by ``depth_flag_shift`` z is flagged as possibly technical
        (:mod:`~scimta_kedro.core.cluster_qc`).
    """

    resolution: float = 1.0
    n_top_genes: int = 10
    fdr: float = 0.05
    gene_symbols_key: str | None = None
    dotplot_genes_per_community: int = 5
    min_effect: float = 0.25
    depth_flag_ratio: float = 2.0
    depth_flag_shift: float = 0.15

    def __post_init__(self) -> None:
        check_ranges(
            self,
            at_least={
                "n_top_genes": 1,
                "dotplot_genes_per_community": 1,
                "min_effect": 0,
                "depth_flag_shift": 0,
            },
            above={"resolution": 0, "depth_flag_ratio": 1},
            within={"fdr": (0, 1)},
        )


TABLE_COLUMNS = [
    "cluster",
    "community",
    "n_cells",
    "n_genes",
    "mean_score_in_cluster",
    "mean_score_elsewhere",
    "effect",
    "wilcoxon_z",
    "pvalue",
    "pvalue_adjusted",
]


def gene_embedding(adata: ad.AnnData) -> np.ndarray:
    """Genes' coordinates in the PCA of the scaled cells x genes matrix, ``(n_genes, n_pcs)``.

    With ``X = U S V^T`` the cells sit at ``U S`` (``obsm["X_pca"]``) and the genes at ``V S``:
    the loadings ``varm["PCs"]`` scaled by the singular values. Genes that rise and fall
    together across cells land close together, at no extra cost after ``sc.tl.pca``.

    Raises
    ------
    InputError
        If the AnnData has no PCA (run the data_processing pipeline first).
    """
    if "PCs" not in adata.varm or "pca" not in adata.uns:
        raise InputError(
            "the preprocessed cells have no PCA loadings (varm['PCs']); run the "
            "data_processing pipeline first."
        )
    singular_values = np.sqrt(np.asarray(adata.uns["pca"]["variance"]) * (adata.n_obs - 1))
    return np.asarray(adata.varm["PCs"] * singular_values, dtype=np.float32)


def detect_gene_communities(
    gene_connectivities: sp.spmatrix, *, resolution: float = 1.0, random_state: int = 0
) -> np.ndarray:
    """Leiden communities of the gene graph, numbered 0.. from the largest, ``(n_genes,)``."""
    labels = leiden_on_graph(gene_connectivities, resolution=resolution, random_state=random_state)
    return relabel_by_size(labels)


def _community_indicator(communities: np.ndarray) -> sp.csr_matrix:
    """Genes x communities matrix whose columns average over a community's genes."""
    n_communities = int(communities.max()) + 1
    sizes = np.bincount(communities, minlength=n_communities).astype(np.float32)
    return sp.csr_matrix(
        (1.0 / sizes[communities], (np.arange(communities.size), communities)),
        shape=(communities.size, n_communities),
    )


def community_scores(scaled_expression: np.ndarray, communities: np.ndarray) -> np.ndarray:
    """Mean z-scored expression of each community's genes per cell, ``(n_cells, n_communities)``.

    ``scaled_expression`` is the cells x genes z-scored matrix (``X`` after ``sc.pp.scale``);
    sparse input stays sparse (the product with the sparse indicator is O(nnz)).
    """
    scores = scaled_expression @ _community_indicator(communities)
    if sp.issparse(scores):
        scores = scores.toarray()  # cells x communities: small
    return np.asarray(scores, dtype=np.float32)


def gene_membership(
    scaled_expression: np.ndarray, communities: np.ndarray, scores: np.ndarray
) -> np.ndarray:
    """Pearson correlation of each gene with its own community's score, ``(n_genes,)``.

    The genes that best follow their community come first in its gene list. Genes that are
    constant across cells get 0. Memory: one community's columns densified at a time.
    """
    membership = np.zeros(communities.size, dtype=np.float32)
    for community in np.unique(communities):
        genes = np.flatnonzero(communities == community)
        expression = scaled_expression[:, genes]
        expression = expression.toarray() if sp.issparse(expression) else np.asarray(expression)
        membership[genes] = _correlation_with(expression, scores[:, community])
    return membership


def _correlation_with(columns: np.ndarray, vector: np.ndarray) -> np.ndarray:
    centred_columns = columns - columns.mean(axis=0)
    centred_vector = vector - vector.mean()
    norms = np.linalg.norm(centred_columns, axis=0) * np.linalg.norm(centred_vector)
    covariance = centred_vector @ centred_columns
    return np.divide(covariance, norms, out=np.zeros_like(covariance), where=norms > 0)


def gene_display_names(adata: ad.AnnData, gene_symbols_key: str | None = None) -> np.ndarray:
    """Names to show for genes: ``var[gene_symbols_key]`` if given, else ``var_names``.

    Logs when the names are bare indices (no gene names in the input): tables and plots then
    say ``gene 12`` and the analysis still works.

    Raises
    ------
    InputError
        If ``gene_symbols_key`` is not a ``var`` column.
    """
    if gene_symbols_key:
        if gene_symbols_key not in adata.var:
            raise InputError(
                f"gene_symbols_key '{gene_symbols_key}' is not a var column; available: "
                f"{list(adata.var.columns)}. Set gene_communities.gene_symbols_key to one of "
                "them, or null to use var_names."
            )
        names = adata.var[gene_symbols_key].astype(str).to_numpy()
    else:
        names = adata.var_names.astype(str).to_numpy()
    if all(name.isdigit() for name in names):
        logger.info(
            "The input has no gene names (var_names are indices); gene communities name genes "
            "by index. Set gene_communities.gene_symbols_key to a var column of symbols."
        )
        names = np.array([f"gene {name}" for name in names])
    return names


def top_genes_per_community(gene_table: pd.DataFrame, n_top: int) -> dict[int, list[str]]:
    """Each community's ``n_top`` gene names by membership (correlation with the community).

    ``gene_table`` has one row per gene with ``gene_name``, ``community`` and ``membership``.
    """
    ranked = gene_table.sort_values(["community", "membership"], ascending=[True, False])
    return {
        int(community): rows["gene_name"].head(n_top).tolist()
        for community, rows in ranked.groupby("community", sort=True)
    }


def link_communities_to_clusters(
    scores: np.ndarray, clusters: np.ndarray, community_sizes: np.ndarray
) -> pd.DataFrame:
    """A tidy table, one row per (cell cluster, gene community), of how specific the pair is.

    Parameters
    ----------
    scores
        Community scores per cell, ``(n_cells, n_communities)``.
    clusters
        Cluster label per cell, ``(n_cells,)``.
    community_sizes
        Genes per community, ``(n_communities,)``.

    Returns
    -------
    Columns ``TABLE_COLUMNS``: ``effect`` is the mean score in the cluster minus elsewhere (in
    z-score units), ``wilcoxon_z`` and ``pvalue`` come from a two-sided Wilcoxon rank-sum test
    of the cluster against all other cells, ``pvalue_adjusted`` is Benjamini-Hochberg over the
    whole table. A cluster of one cell, or a single cluster, has no test: its p-values are NaN.
    """
    clusters = pd.Categorical(np.asarray(clusters).astype(str))
    community_names = [str(community) for community in range(scores.shape[1])]
    holder = ad.AnnData(
        X=np.asarray(scores, dtype=np.float32),
        obs=pd.DataFrame({"cluster": clusters}, index=np.arange(len(clusters)).astype(str)),
        var=pd.DataFrame(index=community_names),
    )
    cluster_sizes = holder.obs["cluster"].value_counts()
    testable = [name for name in clusters.categories if cluster_sizes[name] >= 2]
    tests = _rank_sum_tests(holder, testable if len(clusters.categories) >= 2 else [])

    rows = []
    for cluster in clusters.categories:
        inside = np.asarray(clusters == cluster)
        mean_inside = holder.X[inside].mean(axis=0)
        mean_elsewhere = (
            holder.X[~inside].mean(axis=0) if (~inside).any() else np.full(len(community_names), 0)
        )
        for community, name in enumerate(community_names):
            z_value, p_value = tests.get((cluster, name), (np.nan, np.nan))
            rows.append(
                (
                    cluster,
                    community,
                    int(inside.sum()),
                    int(community_sizes[community]),
                    float(mean_inside[community]),
                    float(mean_elsewhere[community]),
                    float(mean_inside[community] - mean_elsewhere[community]),
                    z_value,
                    p_value,
                )
            )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS[:-1])
    table["pvalue_adjusted"] = np.nan
    tested = table["pvalue"].notna()
    if tested.any():
        table.loc[tested, "pvalue_adjusted"] = false_discovery_control(table.loc[tested, "pvalue"])
    return table


def _rank_sum_tests(holder: ad.AnnData, groups: list[str]) -> dict[tuple[str, str], tuple]:
    """``{(cluster, community): (z, p)}`` from scanpy's Wilcoxon test of each group vs rest."""
    if not groups:
        return {}
    with warnings.catch_warnings():
        # Fold changes assume log data; community scores are z-scores, and we do not use them.
        warnings.simplefilter("ignore", RuntimeWarning)
        sc.tl.rank_genes_groups(
            holder, "cluster", groups=groups, reference="rest", method="wilcoxon", tie_correct=True
        )
    results = sc.get.rank_genes_groups_df(holder, group=groups)
    if len(groups) == 1:
        results.insert(0, "group", groups[0])
    return {
        (str(row.group), str(row.names)): (float(row.scores), float(row.pvals))
        for row in results.itertuples()
    }


def enriched_pairs(table: pd.DataFrame, fdr: float, min_effect: float) -> pd.Series:
    """Which rows of the cluster x community table characterise their cluster: adjusted
    p < ``fdr`` and an effect above zero and at least ``min_effect``."""
    return (
        (table["pvalue_adjusted"] < fdr) & (table["effect"] > 0) & (table["effect"] >= min_effect)
    )


def characterise_clusters(
    table: pd.DataFrame,
    top_genes: dict[int, list[str]],
    fdr: float,
    min_effect: float = CommunityConfig.min_effect,
) -> dict[str, list[dict]]:
    """Per cluster, the communities that characterise it (:func:`enriched_pairs`),
    strongest first, each with its effect, adjusted p-value and top genes."""
    characterisation: dict[str, list[dict]] = {}
    for cluster, rows in table.groupby("cluster", sort=False, observed=True):
        enriched = rows[enriched_pairs(rows, fdr, min_effect)]
        characterisation[str(cluster)] = [
            {
                "community": int(row.community),
                "effect": round(float(row.effect), 4),
                "pvalue_adjusted": float(row.pvalue_adjusted),
                "top_genes": top_genes[int(row.community)],
            }
            for row in enriched.sort_values("effect", ascending=False).itertuples()
        ]
    return characterisation
