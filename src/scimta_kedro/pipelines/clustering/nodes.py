"""Nodes of the clustering pipeline: thin wrappers over ``scimta_kedro.tl``."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.metrics import clustering_scores
from scimta_kedro.core.params import section_config
from scimta_kedro.core.plots import umap_figure
from scimta_kedro.core.run_info import recorded_column
from scimta_kedro.core.validate import check_same_cells

logger = logging.getLogger(__name__)


def assign_clusters(
    preprocessed_cells: ad.AnnData,
    embedded_cells: ad.AnnData,
    options: dict[str, Any],
    random_state: int,
) -> ad.AnnData:
    """Clusters from the DEC soft assignments (renumbered by size), latent space and UMAP."""
    check_same_cells(preprocessed_cells, embedded_cells, ("preprocessed_cells", "embedded_cells"))
    config = section_config("clustering", options)
    clustered = shallow_copy(preprocessed_cells)
    for key in (keys.LATENT, keys.SOFT_ASSIGNMENT):
        clustered.obsm[key] = embedded_cells.obsm[key]
    clustered.obs[keys.INITIAL_CLUSTER] = embedded_cells.obs[keys.INITIAL_CLUSTER].to_numpy()
    tl.cluster(clustered)
    tl.cluster_qc(clustered)
    tl.umap(clustered, config, random_state=random_state)
    return clustered


def evaluate_clusters(
    clustered_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Metrics for MLflow and a JSON summary (sizes, silhouette, ARI/NMI when labelled)."""
    config = section_config("clustering", options)
    label_key = recorded_column(clustered_cells, "label_key")
    clusters = clustered_cells.obs[keys.CLUSTER].to_numpy()
    scores = clustering_scores(
        clustered_cells.obsm[keys.LATENT],
        clusters,
        clustered_cells.obs[label_key].to_numpy() if label_key else None,
        silhouette_sample_size=config.silhouette_sample_size,
        random_state=random_state,
    )
    if label_key and keys.INITIAL_CLUSTER in clustered_cells.obs:
        # How much DEC gains or loses against the partition it started from.
        scores["ari_start"] = float(
            adjusted_rand_score(
                clustered_cells.obs[label_key].to_numpy(),
                clustered_cells.obs[keys.INITIAL_CLUSTER].to_numpy(),
            )
        )
    sizes = clustered_cells.obs[keys.CLUSTER].value_counts(sort=False)
    run_info = clustered_cells.uns.get(keys.RUN_INFO, {})
    summary = {
        "run_id": run_info.get("run_id", ""),
        "input": run_info.get("input_path", ""),
        "n_cells_input": int(run_info.get("n_cells_input", clustered_cells.n_obs)),
        "n_cells": int(clustered_cells.n_obs),
        "n_genes": int(clustered_cells.n_vars),
        "label_key": label_key or None,
        "cluster_sizes": {str(name): int(size) for name, size in sizes.items()},
        **{name: (None if np.isnan(value) else value) for name, value in scores.items()},
    }
    quality = clustered_cells.uns.get(keys.CLUSTER_QC)
    if quality is not None:
        # Depth and genes per cell of each cluster; gene_communities flags the clusters
        # that differ mainly in depth (core/cluster_qc.py).
        summary["cluster_qc"] = {
            str(row.cluster): {
                "n_cells": int(row.n_cells),
                "median_total_counts": float(row.median_total_counts),
                "median_genes": None if np.isnan(row.median_genes) else float(row.median_genes),
                "median_pct_mt": None if np.isnan(row.median_pct_mt) else float(row.median_pct_mt),
                "depth_ratio": round(float(row.depth_ratio), 3),
            }
            for row in quality.itertuples()
        }
    logger.info(
        "clustering: %d clusters (sizes %s), silhouette %.3f%s.",
        len(sizes),
        sizes.sort_values(ascending=False).tolist(),
        scores.get("silhouette", float("nan")),
        f", ARI {scores['ari']:.3f} against '{label_key}'" if "ari" in scores else "",
    )
    metrics = {name: {"value": value, "step": 0} for name, value in scores.items()}
    return metrics, summary


def plot_umap(clustered_cells: ad.AnnData) -> Figure:
    """UMAP of the latent space coloured by cluster, and by label when labels exist."""
    label_key = recorded_column(clustered_cells, "label_key")
    colour_keys = [keys.CLUSTER] + ([label_key] if label_key else [])
    return umap_figure(clustered_cells, colour_keys, title_prefix="scIMTA latent UMAP")
