"""End to end: `kedro run` on tiny simulated data, outputs on disk and the MLflow record."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import anndata as ad
import mlflow
import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from scimta_kedro.core.simulate import SimulationConfig, simulate_counts

from ..notebooks import executed_notebook, image_cells, printed_text
from .conftest import PROJECT_ROOT, assert_succeeded, make_project_copy, run_kedro

pytestmark = pytest.mark.slow

CLUSTERED = "data/07_model_output/clustered_cells.h5ad"
PREPROCESSED = "data/02_intermediate/preprocessed_cells.h5ad"
SUMMARY = "data/08_reporting/cluster_summary.json"
INTERPRETED = "data/07_model_output/interpreted_cells.h5ad"
COMMUNITY_TABLE = "data/08_reporting/community_cluster_scores.csv"
COMMUNITY_SUMMARY = "data/08_reporting/gene_communities_summary.json"
IMPUTED = "data/07_model_output/imputed_cells.h5ad"
BATCH_SUMMARY = "data/08_reporting/batch_correction_summary.json"


def _runs(root):
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("scimta_kedro")
    return client, client.search_runs([experiment.experiment_id], order_by=["start_time ASC"])


def _artifact_paths(client, run_id, folder=None):
    paths = []
    for item in client.list_artifacts(run_id, folder):
        paths += _artifact_paths(client, run_id, item.path) if item.is_dir else [item.path]
    return paths


@pytest.fixture(scope="module")
def default_run_output(tiny_project):
    result = run_kedro(tiny_project)
    assert_succeeded(result)
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def default_run(tiny_project, default_run_output):
    return tiny_project


def test_a_run_logs_what_each_stage_found_and_no_library_noise(default_run_output):
    # TensorFlow's start-up notices, kedro's per-dataset lines, MLflow's advice to the
    # authors of kedro-mlflow's model class and its progress bar for the model's one
    # artifact: absent without --verbose.
    noises = ("oneDNN", "absl::InitializeLog", "cpu_feature_guard", "Loading data from")
    for noise in (*noises, "Add type hints", "Downloading artifacts"):
        assert noise not in default_run_output
    for stage in ("data_processing", "graph_construction", "training", "clustering"):
        assert f"{stage}: " in default_run_output
    assert "gene_communities: " in default_run_output and "imputation: " in default_run_output
    assert "Stage costs: " in default_run_output and "MLflow run " in default_run_output
    # Not wrapped at 80 columns although the output is a pipe.
    assert max(len(line) for line in default_run_output.splitlines()) > 100


def test_default_run_writes_clustered_cells_and_summary(default_run):
    clustered = ad.read_h5ad(default_run / CLUSTERED)
    assert clustered.obsm["X_scimta"].shape == (clustered.n_obs, 8)
    assert clustered.obsm["X_umap"].shape == (clustered.n_obs, 2)
    assert clustered.obs["scimta_cluster"].nunique() >= 2
    # n_clusters "auto": DEC started from the Leiden partition, one centre per cluster.
    assert (
        clustered.obs["scimta_initial_cluster"].nunique()
        == clustered.obsm["scimta_soft_assignment"].shape[1]
    )
    assert "counts" in clustered.layers
    summary = json.loads((default_run / SUMMARY).read_text())
    assert summary["label_key"] == "cell_type"  # simulated truth, for reporting only
    assert sum(summary["cluster_sizes"].values()) == clustered.n_obs
    assert {"silhouette", "ari", "nmi", "n_clusters"} <= set(summary)
    assert summary["n_cells_input"] == 240 and summary["n_cells"] == clustered.n_obs


def test_mlflow_run_has_parameters_loss_history_metrics_and_artifacts(default_run):
    client, runs = _runs(default_run)
    run = runs[0]
    assert run.info.status == "FINISHED"
    # The analysis identity its files carry also tags the run.
    summary = json.loads((default_run / SUMMARY).read_text())
    assert run.data.tags["scimta.run_id"] == summary["run_id"]
    assert run.data.tags["scimta.input_path"] == "simulated"
    assert run.data.tags["mlflow.runName"] == "simulated · __default__"
    assert run.data.tags["scimta.input_name"] == "simulated"
    assert run.data.tags["scimta.n_clusters"] == str(len(summary["cluster_sizes"]))
    assert run.data.tags["scimta.n_cells_kept"] == str(summary["n_cells"])
    assert run.data.tags["scimta.label_key"] == "cell_type"
    # The input is the run's MLflow dataset (the run page's "Datasets" box).
    (dataset_input,) = run.inputs.dataset_inputs
    assert dataset_input.dataset.name == "simulated"
    assert dataset_input.dataset.digest == run.data.tags["scimta.input_digest"]
    input_tags = {tag.key: tag.value for tag in dataset_input.tags}
    assert input_tags["mlflow.data.context"] == "input"
    assert input_tags["n_cells"] == str(summary["n_cells_input"])
    assert run.data.params["training.latent_dim"] == "8"
    assert run.data.params["graph_construction.n_neighbors"] == "10"
    assert run.data.params["gene_communities.resolution"] == "1.0"
    # Losses streamed live, grouped by phase; each stage's cost.
    history = client.get_metric_history(run.info.run_id, "pretrain/total_loss")
    assert [metric.step for metric in history] == list(range(12))
    stages = {"data_processing", "graph_construction", "training", "clustering"}
    assert {f"time/{stage}_s" for stage in stages} <= set(run.data.metrics)
    assert {f"memory/{stage}_peak_rss_gib" for stage in stages} <= set(run.data.metrics)
    assert 0 < run.data.metrics["memory/training_peak_rss_gib"] < 24
    assert run.data.metrics["time/total_s"] >= run.data.metrics["time/training_s"] > 0
    assert {"clustering_metrics.ari", "clustering_metrics.silhouette"} <= set(run.data.metrics)
    assert run.data.metrics["gene_communities_metrics.programme_gene_ari"] > 0.9
    assert run.data.metrics["imputation_metrics.dropout_recovered_fraction"] > 0.3
    imputed = ad.read_h5ad(default_run / IMPUTED)
    zeros = imputed.n_obs * imputed.n_vars - imputed.layers["counts"].nnz
    filled = (imputed.layers["scimta_imputed"].nnz - imputed.layers["counts"].nnz) / zeros
    assert run.data.metrics["imputation_metrics.filled_zero_fraction"] == pytest.approx(filled)
    assert filled > 0
    assert set(_artifact_paths(client, run.info.run_id)) == {
        "model/scimta_model.keras",
        "plots/umap.png",
        "plots/community_heatmap.png",
        "plots/top_genes.png",
        "plots/batch_umap.png",
        "plots/umap.pdf",
        "plots/community_heatmap.pdf",
        "plots/top_genes.pdf",
        "plots/batch_umap.pdf",
        "reports/cluster_summary.json",
        "reports/batch_correction_summary.json",
        "reports/gene_communities.csv",
        "reports/community_cluster_scores.csv",
        "reports/gene_communities_summary.json",
        "reports/training_history.json",
        "results/clustered_cells.h5ad",
        "results/interpreted_cells.h5ad",
        "results/imputed_cells.h5ad",
    }


def test_the_logged_model_reproduces_the_runs_latent(default_run):
    from scimta_kedro.core.keys import CONNECTIVITIES
    from scimta_kedro.serving import graph_inputs

    client, runs = _runs(default_run)
    run_id = runs[0].info.run_id
    mlflow.set_tracking_uri(f"sqlite:///{default_run / 'mlflow.db'}")
    try:
        model = mlflow.pyfunc.load_model(f"runs:/{run_id}/scimta_model")
        # Registered too: one version of "scimta_model" per run.
        versions = mlflow.MlflowClient().search_model_versions("name = 'scimta_model'")
        requirements = (
            Path(mlflow.pyfunc.get_model_dependencies(f"runs:/{run_id}/scimta_model"))
            .read_text()
            .split()
        )
    finally:
        mlflow.set_tracking_uri(None)
    assert run_id in {version.run_id for version in versions}
    # What loading imports, at this environment's versions (TensorFlow and Keras included).
    pinned = dict(requirement.split("==") for requirement in requirements)
    for name in ("scimta-kedro", "mlflow", "keras", "tensorflow-cpu"):
        assert pinned[name] == importlib.metadata.version(name)
    assert set(model.metadata.get_input_schema().input_names()) == {
        "features",
        "graph_row",
        "graph_col",
        "graph_value",
    }
    preprocessed = ad.read_h5ad(default_run / PREPROCESSED)
    graph = ad.read_h5ad(default_run / "data/03_primary/cell_graph.h5ad")
    embedded = ad.read_h5ad(default_run / "data/07_model_output/embedded_cells.h5ad")
    predicted = model.predict(graph_inputs(preprocessed.obsm["X_pca"], graph.obsp[CONNECTIVITIES]))
    np.testing.assert_allclose(predicted["latent"], embedded.obsm["X_scimta"], atol=1e-4)
    soft = embedded.obsm["scimta_soft_assignment"]
    np.testing.assert_array_equal(predicted["cluster"], soft.argmax(axis=1))


def test_default_run_without_batch_key_logs_no_batch_metrics(default_run):
    # What the stages compute is tested on in-memory slices (tests/pipelines/<stage>/);
    # here, what reaches the files and MLflow.
    summary = json.loads((default_run / BATCH_SUMMARY).read_text())
    assert summary["batch_corrected"] is False
    for image in ("umap.png", "community_heatmap.png", "top_genes.png"):
        assert (default_run / "data/08_reporting" / image).read_bytes()[:4] == b"\x89PNG"
    _, runs = _runs(default_run)
    assert not any(name.startswith("batch_correction_metrics") for name in runs[0].data.metrics)


def test_one_stage_reruns_on_what_earlier_stages_wrote(default_run):
    before = (default_run / PREPROCESSED).stat().st_mtime_ns
    result = run_kedro(
        default_run, "--pipelines", "clustering", "--params", "clustering.umap_min_dist=0.1"
    )
    assert_succeeded(result)
    assert (default_run / PREPROCESSED).stat().st_mtime_ns == before
    _, runs = _runs(default_run)
    assert runs[-1].info.run_name == "simulated · clustering"  # input stem · pipeline
    assert runs[-1].data.params["clustering.umap_min_dist"] == "0.1"


def test_imputation_alone_loads_the_saved_model(default_run):
    before = (default_run / IMPUTED).read_bytes()
    result = run_kedro(
        default_run, "--pipelines", "imputation", "--params", "imputation.value=mean"
    )
    assert_succeeded(result)
    assert (default_run / IMPUTED).read_bytes() != before


def test_tuning_logs_nested_trials_and_a_parameters_file_for_env_tuned(default_run):
    assert_succeeded(run_kedro(default_run, "--pipelines", "tuning"))
    client, runs = _runs(default_run)
    parent = next(run for run in runs if run.info.run_name == "simulated · tuning")
    children = [
        run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    ]
    assert len(children) == 3
    assert all("training.latent_dim" in child.data.params for child in children)
    assert all("ari" in child.data.metrics for child in children)  # simulated labels, reported
    assert {
        "tuning/parameters_tuned.yml",
        "tuning/tuning_trials.csv",
        "plots/optimisation_history.png",
        "plots/parameter_importances.png",
    } <= set(_artifact_paths(client, parent.info.run_id))
    tuned = yaml.safe_load((default_run / "conf/tuned/parameters_tuned.yml").read_text())
    assert_succeeded(run_kedro(default_run, "--env", "tuned", "--pipelines", "graph_construction"))
    _, runs = _runs(default_run)
    used = runs[-1].data.params["graph_construction.n_neighbors"]
    assert used == str(tuned["graph_construction"]["n_neighbors"])


def test_failed_run_leaves_earlier_outputs_untouched(default_run, tmp_path):
    bad = simulate_counts(
        SimulationConfig(n_cells=50, n_genes=60, n_groups=2, genes_per_programme=5)
    )
    bad.X = bad.X.toarray()
    bad.X[0, 0] = np.nan
    bad.write_h5ad(tmp_path / "bad.h5ad")
    outputs = [default_run / path for path in (CLUSTERED, PREPROCESSED, SUMMARY)]
    before = [path.read_bytes() for path in outputs]
    result = run_kedro(default_run, "--params", f"input_path={tmp_path / 'bad.h5ad'}")
    assert result.returncode != 0
    assert "contains NaN or infinite values" in result.stdout + result.stderr
    assert [path.read_bytes() for path in outputs] == before


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ("training.target_frequency_exponent=-1", "target_frequency_exponent must be"),
        # A typo of a top-level key would otherwise analyse the simulator instead of the file.
        ("input_pth=cells.h5ad", "unknown parameter input_pth"),
    ],
)
def test_a_bad_parameter_fails_before_the_first_node(tmp_path_factory, parameters, named):
    root = make_project_copy(tmp_path_factory.mktemp("bad_parameter"))
    result = run_kedro(root, "--params", parameters)
    assert result.returncode != 0
    output = " ".join((result.stdout + result.stderr).split())  # rich wraps long lines
    assert "Invalid parameters" in output and named in output
    # Failing at the training node would have saved the preprocessed cells first.
    assert not (root / PREPROCESSED).exists()


def test_a_mistyped_pipeline_is_refused_with_the_list_of_pipelines(tmp_path_factory):
    root = make_project_copy(tmp_path_factory.mktemp("mistyped_pipeline"))
    result = run_kedro(root, "--pipelines", "trainin")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "No pipeline named 'trainin' (did you mean 'training'?)" in output
    assert "The pipelines are: batch_correction, clustering, data_processing" in output
    assert not (root / PREPROCESSED).exists()


def test_a_corrupt_mlflow_store_stops_the_run_naming_the_file(tmp_path_factory):
    root = make_project_copy(tmp_path_factory.mktemp("corrupt_store"))
    (root / "mlflow.db").write_bytes(b"not a database")
    result = run_kedro(root)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "mlflow.db is not an SQLite database" in output and "Move it away" in output
    assert not (root / PREPROCESSED).exists()


def test_a_users_file_with_its_own_label_column(tmp_path_factory):
    root = make_project_copy(tmp_path_factory.mktemp("user_project"))
    cells = simulate_counts(
        SimulationConfig(
            n_cells=200, n_genes=300, n_groups=2, genes_per_programme=30, de_log_fold=2.0
        )
    )
    cells.obs = cells.obs.rename(columns={"cell_type": "annotation"})
    cells.write_h5ad(root / "mine.h5ad")
    assert_succeeded(
        run_kedro(root, "--params", f"input_path={root / 'mine.h5ad'},label_key=annotation")
    )
    summary = json.loads((root / SUMMARY).read_text())
    assert summary["input"].endswith("mine.h5ad")
    assert summary["label_key"] == "annotation" and "ari" in summary


def test_large_data_path_runs_the_whole_analysis(tmp_path_factory):
    """The 1.3M-cell code path at a small size: the file read backed and preprocessed in
    chunks, mini-batch training on subgraphs and a UMAP of sampled cells."""
    root = make_project_copy(tmp_path_factory.mktemp("large_path_project"))
    cells = simulate_counts(
        SimulationConfig(
            n_cells=400, n_genes=300, n_groups=3, genes_per_programme=30, de_log_fold=2.0
        )
    )
    cells.write_h5ad(root / "cells.h5ad")
    parameters = ",".join(
        [
            f"input_path={root / 'cells.h5ad'}",
            "label_key=cell_type",
            "data_processing.in_memory_max_nonzeros=0",
            "data_processing.preprocessing.chunk_cells=64",
            "training.max_cells_per_step=150",
            "training.pretrain_epochs=40",
            "clustering.umap_max_cells=250",
        ]
    )
    assert_succeeded(run_kedro(root, "--params", parameters))
    preprocessed = ad.read_h5ad(root / PREPROCESSED)
    assert sp.issparse(preprocessed.X)  # the streamed path: scaled but not centred, not dense
    clustered = ad.read_h5ad(root / CLUSTERED)
    assert np.isfinite(clustered.obsm["X_umap"]).all(axis=1).sum() == 250
    summary = json.loads((root / SUMMARY).read_text())
    assert summary["ari"] > 0.8
    assert (root / INTERPRETED).exists() and (root / IMPUTED).exists()


def test_walkthrough_notebook_runs_top_to_bottom_on_the_finished_run(default_run):
    (default_run / "notebooks").mkdir(exist_ok=True)
    notebook = executed_notebook(
        PROJECT_ROOT / "notebooks" / "walkthrough.ipynb", default_run / "notebooks"
    )
    printed = printed_text(notebook)
    # Every figure cell shows its figure: UMAP, loss curves, heatmap, community UMAPs,
    # dot plot, imputed gene.
    assert image_cells(notebook) >= 6
    # The first cell (the kedro extension) prints no TensorFlow or per-dataset noise.
    first = json.dumps(notebook.cells[1].outputs)  # streams and rich's display outputs
    for noise in ("oneDNN", "absl", "Replacing dataset", "Loading data from"):
        assert noise not in first
    ari_line = "gene-level ARI of the communities against the planted programmes: "
    assert float(printed.split(ari_line)[1].split()[0]) > 0.9
    assert "cluster 0: GC" in printed
