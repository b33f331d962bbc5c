"""clustering as a Kedro slice: clusters, scores and the UMAP figure."""

from __future__ import annotations

import numpy as np
import pytest
from kedro.framework.project import pipelines

from scimta_kedro.core import keys

from ..conftest import run_slice


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


def test_outputs_of_a_newer_analysis_are_not_combined_with_an_older_ones(tiny_run):
    """data_processing re-run (other input, same barcodes, as 10x samples often have): the
    clustering stage must refuse its preprocessed cells beside the older embedding, naming
    both analyses, instead of attaching one analysis's cells to the other's latent space."""
    parameters, outputs = tiny_run
    rerun = run_slice(pipelines["data_processing"], {**parameters, "random_state": 5}, {})
    newer = rerun["preprocessed_cells"]
    assert list(newer.obs_names) == list(outputs["preprocessed_cells"].obs_names)
    older_id = outputs["embedded_cells"].uns[keys.RUN_INFO]["run_id"]
    newer_id = newer.uns[keys.RUN_INFO]["run_id"]
    assert older_id != newer_id
    stale = {"preprocessed_cells": newer, "embedded_cells": outputs["embedded_cells"]}
    with pytest.raises(Exception, match="come from different analyses") as caught:
        run_slice(pipelines["clustering"], parameters, stale)
    assert older_id in str(caught.value) and newer_id in str(caught.value)


def test_every_stage_output_carries_the_analysis_identity(tiny_run):
    _, outputs = tiny_run
    record = outputs["preprocessed_cells"].uns[keys.RUN_INFO]
    assert len(record["run_id"]) == 32 and record["input_path"] == "simulated"
    for name in ("cell_graph", "embedded_cells", "clustered_cells"):
        assert outputs[name].uns[keys.RUN_INFO]["run_id"] == record["run_id"], name
