"""Figures of a clustered AnnData."""

from __future__ import annotations

import anndata as ad
import matplotlib
import numpy as np

matplotlib.use("Agg")  # figures are written to files; no display exists on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402
import scanpy as sc  # noqa: E402


def umap_figure(adata: ad.AnnData, colour_keys: list[str], title_prefix: str = "UMAP"):
    """One UMAP panel per ``obs`` column in ``colour_keys`` (needs ``obsm['X_umap']``)."""
    return umap_grid([(adata, title_prefix)], colour_keys)


def umap_grid(rows: list[tuple[ad.AnnData, str]], colour_keys: list[str]):
    """A grid of UMAPs: one row per ``(adata, title)``, one column per ``obs`` colour key."""
    figure, axes = plt.subplots(
        len(rows),
        len(colour_keys),
        figsize=(6.5 * len(colour_keys), 5.5 * len(rows)),
        squeeze=False,
    )
    for row_axes, (adata, title) in zip(axes, rows, strict=True):
        # Cells left out of a sampled UMAP have no coordinates.
        laid_out = np.isfinite(adata.obsm["X_umap"]).all(axis=1)
        shown = adata if laid_out.all() else adata[laid_out]
        label = title if laid_out.all() else f"{title} ({laid_out.sum()} sampled cells)"
        for axis, key in zip(row_axes, colour_keys, strict=True):
            sc.pl.umap(shown, color=key, ax=axis, show=False, title=f"{label}: {key}")
    figure.tight_layout()
    return figure


def message_figure(message: str):
    """A small figure that only shows ``message`` (a plot output that has nothing to show)."""
    figure, axis = plt.subplots(figsize=(7, 1.5))
    axis.axis("off")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    return figure


def community_heatmap(table, community_labels: dict[int, str], fdr: float):
    """Clusters x gene communities heatmap of ``effect`` from :func:`link_communities_to_clusters`.

    Colour is the mean community score in the cluster minus elsewhere (z-score units); a dot
    marks pairs significantly higher in the cluster (adjusted p < ``fdr``).
    """
    effect = table.pivot(index="cluster", columns="community", values="effect")
    significant = table.pivot(index="cluster", columns="community", values="pvalue_adjusted")
    significant = (significant < fdr) & (effect > 0)
    limit = max(float(abs(effect.to_numpy()).max()), 1e-6)
    figure, axis = plt.subplots(
        figsize=(3.0 + 0.55 * effect.shape[1], 4.0 + 0.35 * effect.shape[0])
    )
    image = axis.imshow(effect.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    rows, columns = significant.to_numpy().nonzero()
    axis.scatter(columns, rows, s=12, c="black", marker="o")
    axis.set_xticks(range(effect.shape[1]))
    axis.set_xticklabels(
        [community_labels[community] for community in effect.columns], rotation=60, ha="right"
    )
    axis.set_yticks(range(effect.shape[0]))
    axis.set_yticklabels(effect.index)
    axis.set_xlabel(f"gene community (top genes); dot: higher in the cluster, adjusted p < {fdr}")
    axis.set_ylabel("cell cluster")
    figure.colorbar(image, ax=axis, label="community score: cluster minus rest (z)")
    axis.set_title("Which gene communities characterise which cell clusters")
    figure.tight_layout()
    return figure


def top_genes_dotplot(
    adata: ad.AnnData, genes_by_group: dict[str, list[str]], groupby: str, gene_symbols: str
):
    """scanpy dot plot of ``genes_by_group`` (names in ``var[gene_symbols]``) per ``groupby``."""
    dotplot = sc.pl.dotplot(
        adata,
        var_names=genes_by_group,
        groupby=groupby,
        gene_symbols=gene_symbols,
        standard_scale="var",
        return_fig=True,
        show=False,
    )
    dotplot.make_figure()
    return dotplot.fig
