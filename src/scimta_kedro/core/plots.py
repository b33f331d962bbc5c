"""Figures of a clustered AnnData.

Each function builds its own :class:`matplotlib.figure.Figure` and leaves pyplot's state and
backend alone: the same figure is saved by a Kedro node on a server without a display and
shown inline by Jupyter.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import scanpy as sc
from matplotlib.figure import Figure

from .communities import enriched_pairs


def umap_figure(adata: ad.AnnData, colour_keys: list[str], title_prefix: str = "UMAP"):
    """One UMAP panel per ``obs`` column in ``colour_keys`` (needs ``obsm['X_umap']``)."""
    return umap_grid([(adata, title_prefix)], colour_keys)


def umap_grid(rows: list[tuple[ad.AnnData, str]], colour_keys: list[str]):
    """A grid of UMAPs: one row per ``(adata, title)``, one column per ``obs`` colour key."""
    figure = Figure(figsize=(6.5 * len(colour_keys), 5.5 * len(rows)))
    axes = figure.subplots(len(rows), len(colour_keys), squeeze=False)
    for row_axes, (adata, title) in zip(axes, rows, strict=True):
        # Cells left out of a sampled UMAP have no coordinates.
        laid_out = np.isfinite(adata.obsm["X_umap"]).all(axis=1)
        shown = adata if laid_out.all() else adata[laid_out]
        label = title if laid_out.all() else f"{title} ({laid_out.sum()} sampled cells)"
        for axis, key in zip(row_axes, colour_keys, strict=True):
            sc.pl.umap(shown, color=key, ax=axis, show=False, title=f"{label}: {key}")
            # The cells as one image in vector files (scanpy does so after
            # sc.set_figure_params): thousands of vector points took 1.5 s of a run to write
            # as PDF and are slow to open; axes and text stay vectors.
            for points in axis.collections:
                points.set_rasterized(True)
    figure.tight_layout()
    return figure


def message_figure(message: str):
    """A small figure that only shows ``message`` (a plot output that has nothing to show)."""
    figure = Figure(figsize=(7, 1.5))
    axis = figure.subplots()
    axis.axis("off")
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=10)
    return figure


def community_heatmap(
    table,
    community_labels: dict[int, str],
    fdr: float,
    *,
    min_effect: float = 0.0,
    depth_ratios: dict[str, float] | None = None,
) -> Figure:
    """Clusters x gene communities heatmap of ``effect`` from :func:`link_communities_to_clusters`.

    Colour is the mean community score in the cluster minus elsewhere (z-score units); a dot
    marks the pairs that characterise the cluster (adjusted p < ``fdr`` and effect at least
    ``min_effect``). Communities are ordered by the cluster where they are strongest, so
    the characterising pairs run down the diagonal. Clusters in ``depth_ratios`` (cluster ->
    its depth over the other cells') are marked in red as possibly technical.
    """
    depth_ratios = depth_ratios or {}
    effect = table.pivot(index="cluster", columns="community", values="effect")
    # The dots are the pairs the summary lists: the same test as characterise_clusters.
    marked = table.assign(marked=enriched_pairs(table, fdr, min_effect)).pivot(
        index="cluster", columns="community", values="marked"
    )
    effect = effect.loc[sorted(effect.index, key=_numeric_first)]
    strongest_in = effect.to_numpy().argmax(axis=0)
    order = sorted(
        range(effect.shape[1]), key=lambda c: (strongest_in[c], -effect.iloc[:, c].max())
    )
    effect = effect.iloc[:, order]
    marked = marked.loc[effect.index, effect.columns].astype(bool)
    limit = max(float(abs(effect.to_numpy()).max()), 1e-6)
    figure = Figure(figsize=(3.5 + 0.5 * effect.shape[1], 4.0 + 0.35 * effect.shape[0]))
    axis = figure.subplots()
    image = axis.imshow(effect.to_numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    rows, columns = marked.to_numpy().nonzero()
    axis.scatter(
        columns,
        rows,
        s=14,
        c="black",
        marker="o",
        label=f"characterises the cluster\n(adj. p < {fdr}, effect >= {min_effect:g} z)",
    )
    axis.set_xticks(range(effect.shape[1]))
    axis.set_xticklabels(
        [community_labels[community] for community in effect.columns], rotation=60, ha="right"
    )
    axis.set_yticks(range(effect.shape[0]))
    axis.set_yticklabels(
        [
            f"{cluster} (depth {depth_ratios[str(cluster)]:.1f}x)"
            if str(cluster) in depth_ratios
            else str(cluster)
            for cluster in effect.index
        ]
    )
    for tick, cluster in zip(axis.get_yticklabels(), effect.index, strict=True):
        if str(cluster) in depth_ratios:
            tick.set_color("firebrick")
    axis.set_xlabel("gene community (top genes)")
    axis.set_ylabel(
        "cell cluster" + ("  (red: depth differs, maybe technical)" if depth_ratios else "")
    )
    colourbar = figure.colorbar(image, ax=axis)
    colourbar.set_label("community score: cluster minus rest (z)")
    axis.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=8)
    axis.set_title("Which gene communities characterise which cell clusters", loc="left")
    figure.tight_layout()
    return figure


def _numeric_first(name) -> tuple:
    text = str(name)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


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
        colorbar_title="mean expression\nscaled per gene (0-1)",
        size_title="fraction of cells\nexpressing (%)",
        return_fig=True,
        show=False,
    )
    dotplot.make_figure()
    return dotplot.fig
