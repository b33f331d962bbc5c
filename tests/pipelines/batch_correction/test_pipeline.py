"""batch_correction as a Kedro slice: without a batch key it says so; with one, the latent
mixes batches far better than the uncorrected PCA."""

from __future__ import annotations

import numpy as np
from kedro.framework.project import pipelines

from scimta_kedro.core import keys

from ..conftest import run_slice


def test_without_batch_key_nothing_is_corrected(tiny_run):
    parameters, upstream = tiny_run
    outputs = run_slice(pipelines["batch_correction"], parameters, upstream)
    summary = outputs["batch_correction_summary"]
    assert summary["batch_key"] is None and summary["batch_corrected"] is False
    assert "batch_key" in summary["note"]
    assert outputs["batch_correction_metrics"] == {}


def test_batch_key_corrects_the_latent_and_imputes_per_batch(tiny_batch_run):
    parameters, upstream = tiny_batch_run
    assert upstream["clustered_cells"].obs["batch"].nunique() == 3
    outputs = run_slice(pipelines["batch_correction"], parameters, upstream)
    summary = outputs["batch_correction_summary"]
    assert summary["batch_key"] == "batch" and summary["n_batches"] == 3
    assert summary["scimta"]["ilisi"] > summary["uncorrected_pca"]["ilisi"] + 0.2
    metrics = outputs["batch_correction_metrics"]
    assert metrics["scimta_ilisi"]["value"] == summary["scimta"]["ilisi"]
    assert outputs["batch_umap_plot"].axes
    imputed = run_slice(pipelines["imputation"], parameters, upstream)["imputed_cells"]
    assert np.isfinite(imputed.layers[keys.IMPUTED].data).all()  # batch-conditioned decoder
