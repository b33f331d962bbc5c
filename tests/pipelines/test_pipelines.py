"""The registered pipelines, their wiring, thin nodes, and kedro-viz."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.project import configure_project, pipelines

from scimta_kedro.core.validate import InputError
from scimta_kedro.pipelines.data_processing.nodes import validate_cells

STAGES = [
    "data_processing",
    "graph_construction",
    "training",
    "clustering",
    "gene_communities",
    "imputation",
    "batch_correction",
]


@pytest.fixture(scope="module")
def registered():
    configure_project("scimta_kedro")
    return dict(pipelines)


def test_every_stage_is_registered_and_default_is_their_sum(registered):
    assert set(STAGES) | {"tuning", "__default__"} == set(registered)
    default_nodes = {node.name for node in registered["__default__"].nodes}
    assert default_nodes == {node.name for stage in STAGES for node in registered[stage].nodes}


def _without_transcoding(names: set[str]) -> set[str]:
    # "preprocessed_cells@counts" is the file "preprocessed_cells" read one way.
    return {name.split("@")[0] for name in names}


def test_stages_are_joined_through_catalog_datasets(registered):
    outputs = {stage: _without_transcoding(registered[stage].all_outputs()) for stage in STAGES}
    inputs = {stage: _without_transcoding(registered[stage].inputs()) for stage in STAGES}
    assert "preprocessed_cells" in outputs["data_processing"]
    assert {"preprocessed_cells"} <= inputs["graph_construction"]
    assert {"preprocessed_cells", "cell_graph"} <= inputs["training"]
    assert {"preprocessed_cells", "embedded_cells"} <= inputs["clustering"]
    assert "gene_graph" in outputs["graph_construction"]
    assert {"preprocessed_cells", "gene_graph", "clustered_cells"} <= inputs["gene_communities"]
    assert {"preprocessed_cells", "embedded_cells", "cell_graph", "scimta_model"} <= inputs[
        "imputation"
    ]
    assert {"clustered_cells"} <= inputs["batch_correction"]


def test_simulated_data_reports_against_its_known_groups(small_counts):
    cells = validate_cells(small_counts, None, None, {"counts_layer": None}, {"n_neighbors": 5})
    record = dict(cells.uns["scimta"])
    assert len(record.pop("run_id")) == 32  # a fresh analysis id (uuid4 hex)
    assert record == {
        "label_key": "cell_type",
        "batch_key": "",
        "input_path": "simulated",
        "n_cells_input": small_counts.n_obs,
        "counts_layer": "",
    }


def test_a_users_file_without_label_key_has_no_labels(small_counts):
    cells = validate_cells(small_counts, "x.h5ad", None, {"counts_layer": None}, {"n_neighbors": 5})
    assert cells.uns["scimta"]["label_key"] == ""


def test_too_few_genes_for_the_gene_graph_is_named_before_preprocessing(small_counts):
    options = {"counts_layer": None, "preprocessing": {"n_top_genes": 12}}
    graph_options = {"n_neighbors": 5, "gene_graph": {"n_neighbors": 15}}
    with pytest.raises(InputError, match="graph_construction.gene_graph.n_neighbors=15"):
        validate_cells(small_counts, None, None, options, graph_options)


def test_missing_batch_column_lists_the_columns_before_preprocessing(small_counts):
    with pytest.raises(InputError, match=r"batch_key 'plate'.*available columns: \['cell_type'\]"):
        validate_cells(
            small_counts, None, None, {"counts_layer": None}, {"n_neighbors": 5}, batch_key="plate"
        )


def test_batch_column_is_checked_and_recorded_for_later_stages(small_counts):
    small_counts.obs["plate"] = ["p1"] * 296 + ["p2"] * 4
    with pytest.raises(InputError, match=r"'p2' \(4 cells\)"):
        validate_cells(
            small_counts, None, None, {"counts_layer": None}, {"n_neighbors": 15}, batch_key="plate"
        )
    small_counts.obs["plate"] = ["p1", "p2"] * 150
    cells = validate_cells(
        small_counts, None, None, {"counts_layer": None}, {"n_neighbors": 15}, batch_key="plate"
    )
    assert cells.uns["scimta"]["batch_key"] == "plate"


@pytest.mark.slow
def test_kedro_viz_build_shows_every_node_and_puts_every_dataset_in_a_layer(tiny_project):
    kedro_viz = str(Path(sys.executable).with_name("kedro"))
    result = subprocess.run(
        [kedro_viz, "viz", "build"],
        cwd=tiny_project,
        env={**os.environ, "DO_NOT_TRACK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    main = json.loads((tiny_project / "build" / "api" / "main").read_text())
    tasks = {node["name"] for node in main["nodes"] if node["type"] == "task"}
    assert tasks == {
        "load_cells_node",
        "validate_cells_node",
        "preprocess_cells_node",
        "build_cell_graph_node",
        "train_model_node",
        "assign_clusters_node",
        "evaluate_clusters_node",
        "plot_umap_node",
        "build_gene_graph_node",
        "find_gene_communities_node",
        "link_communities_to_clusters_node",
        "plot_community_heatmap_node",
        "plot_top_genes_node",
        "impute_cells_node",
        "evaluate_imputation_node",
        "evaluate_batch_correction_node",
        "plot_batch_umaps_node",
    }  # the default pipeline's nodes: tuning is opt-in
    assert {pipeline["id"] for pipeline in main["pipelines"]} == {
        "__default__",
        "tuning",
        *STAGES,
    }
    # The layer view: every dataset sits in one of the data/0x_* layers.
    layers = ["raw", "intermediate", "primary", "models", "model_output", "reporting"]
    assert main["layers"] == layers
    datasets = [node for node in main["nodes"] if node["type"] == "data"]
    assert [node["name"] for node in datasets if node.get("layer") not in layers] == []


def test_a_cell_graph_without_the_knn_weights_asks_for_graph_construction(small_counts):
    from scimta_kedro.core import keys
    from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
    from scimta_kedro.pipelines.graph_construction.nodes import build_cell_graph
    from scimta_kedro.pipelines.training.nodes import train_model

    from ..simulated import FAST

    cells = preprocess_counts(
        small_counts, PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15)
    )
    graph = build_cell_graph(
        cells, {"use_rep": "X_pca", "n_neighbors": 10, "max_entries_per_row": 30}, 0
    )
    assert graph.obsp[keys.KNN_CONNECTIVITIES].nnz > 0
    # A cell graph written before the count moved to the kNN graph.
    del graph.obsp[keys.KNN_CONNECTIVITIES]
    options = {**FAST, "encoder_input": "X_pca"}
    with pytest.raises(InputError, match="kedro run --pipelines graph_construction"):
        train_model(cells, graph, options, 0)
    # With the count on the PPMI graph it is not needed.
    model, embedded, _ = train_model(
        cells,
        graph,
        {**options, "pretrain_epochs": 2, "finetune_epochs": 0, "cluster_count_graph": "ppmi"},
        0,
    )
    assert embedded.n_obs == cells.n_obs
