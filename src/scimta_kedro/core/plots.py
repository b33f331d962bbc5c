"""Figures of a clustered AnnData."""

from __future__ import annotations

import anndata as ad
import matplotlib

matplotlib.use("Agg")  # figures are written to files; no display exists on servers or in CI
import matplotlib.pyplot as plt  # noqa: E402
import scanpy as sc  # noqa: E402


def umap_figure(adata: ad.AnnData, colour_keys: list[str], title_prefix: str = "UMAP"):
    """One UMAP panel per ``obs`` column in ``colour_keys`` (needs ``obsm['X_umap']``)."""
    figure, axes = plt.subplots(
        1, len(colour_keys), figsize=(6.5 * len(colour_keys), 5.5), squeeze=False
    )
    for axis, key in zip(axes[0], colour_keys, strict=True):
        sc.pl.umap(adata, color=key, ax=axis, show=False, title=f"{title_prefix}: {key}")
    figure.tight_layout()
    return figure
