"""clustering as a Kedro slice: clusters, scores and the UMAP figure."""

from __future__ import annotations

import numpy as np

from scimta_kedro.core import keys


def test_clusters_recover_the_planted_groups_and_are_numbered_by_size(tiny_run):
    _, outputs = tiny_run
    clustered, summary = outputs["clustered_cells"], outputs["cluster_summary"]
    clusters = clustered.obs[keys.CLUSTER].astype(int).to_numpy()
    sizes = np.bincount(clusters)
    assert (np.diff(sizes) <= 0).all()  # 0 is the largest
    assert summary["ari"] > 0.8  # three well separated planted groups
    assert sum(summary["cluster_sizes"].values()) == clustered.n_obs
    assert outputs["clustering_metrics"]["ari"]["value"] == summary["ari"]
    assert clustered.obsm[keys.UMAP].shape == (clustered.n_obs, 2)
    assert clustered.uns[keys.UMAP_INFO]["params"]["umap_neighbors"] == 10
    assert outputs["umap_plot"].axes
