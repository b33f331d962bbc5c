"""``cluster`` (DEC's assignments, numbered by size) and ``umap`` of the latent space."""

from __future__ import annotations

import dataclasses

import anndata as ad
import pandas as pd

from ..core import keys
from ..core.cluster import ClusteringConfig, relabel_by_size, umap_of_embedding
from ..core.cluster_qc import cluster_quality
from ..core.errors import InputError


def cluster(
    adata: ad.AnnData,
    *,
    key_added: str = keys.CLUSTER,
    soft_assignment_key: str = keys.SOFT_ASSIGNMENT,
) -> None:
    """``obs[key_added]``: each cell's most likely DEC cluster (the argmax of
    ``obsm[soft_assignment_key]``, written by :func:`~scimta_kedro.tl.fit`), a categorical
    numbered from the largest cluster (0) down, ties by the smallest label."""
    if soft_assignment_key not in adata.obsm:
        raise InputError(
            f"obsm['{soft_assignment_key}'] is missing: run st.tl.fit (or the training "
            "pipeline) first."
        )
    labels = relabel_by_size(adata.obsm[soft_assignment_key].argmax(axis=1))
    categories = [str(label) for label in range(labels.max() + 1)]
    adata.obs[key_added] = pd.Categorical(labels.astype(str), categories=categories)
    adata.uns[key_added] = {"params": {"soft_assignment_key": soft_assignment_key}}


def cluster_qc(adata: ad.AnnData, *, cluster_key: str = keys.CLUSTER) -> pd.DataFrame:
    """``uns["scimta_cluster_qc"]``: per cluster, cells, median library size and genes per
    cell, and its depth against the other cells'
    (:func:`~scimta_kedro.core.cluster_qc.cluster_quality`). Returns the table."""
    if cluster_key not in adata.obs:
        raise InputError(f"obs['{cluster_key}'] is missing: run st.tl.cluster first.")
    table = cluster_quality(adata.obs, adata.obs[cluster_key])
    adata.uns[keys.CLUSTER_QC] = table
    return table


def umap(
    adata: ad.AnnData,
    config: ClusteringConfig | None = None,
    *,
    use_rep: str = keys.LATENT,
    random_state: int = 0,
    **params,
) -> None:
    """``obsm["X_umap"]`` of ``obsm[use_rep]`` (scanpy), of at most ``umap_max_cells`` cells
    (a seeded sample; the others get NaN); the settings in ``uns["scimta_umap"]["params"]``.

    ``config``, ``**params``: :class:`~scimta_kedro.core.cluster.ClusteringConfig` or its
    ``umap_*`` fields.
    """
    config = dataclasses.replace(config or ClusteringConfig(), **params)
    umap_of_embedding(
        adata,
        use_rep,
        n_neighbors=config.umap_neighbors,
        min_dist=config.umap_min_dist,
        max_cells=config.umap_max_cells,
        epochs=config.umap_epochs,
        random_state=random_state,
    )
    adata.uns[keys.UMAP_INFO] = {
        "params": {
            "use_rep": use_rep,
            "umap_neighbors": config.umap_neighbors,
            "umap_min_dist": config.umap_min_dist,
            "umap_max_cells": config.umap_max_cells,
            "umap_epochs": config.umap_epochs,
            "random_state": random_state,
        }
    }
