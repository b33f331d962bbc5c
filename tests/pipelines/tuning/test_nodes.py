"""The tuning node: labels are reported, never used; a bad search space fails at once."""

from __future__ import annotations

import numpy as np
import pytest

from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.validate import InputError
from scimta_kedro.pipelines.tuning.nodes import tune_hyperparameters

from ...simulated import FAST

TUNING = {
    "study": {"n_trials": 3, "storage": None, "pruning_warmup_epochs": 5, "report_every": 5},
    "objective": {"evaluation_cells": 100},
    "search_space": {
        "graph_construction.n_neighbors": {"type": "int", "low": 5, "high": 15},
        "training.latent_dim": {"type": "int", "low": 4, "high": 12},
    },
}
GRAPH = {"use_rep": "X_pca", "n_neighbors": 10, "max_entries_per_row": 30, "gene_graph": {}}
# The trials' kNN graphs (5-15 neighbours on 10 PCs of 300 cells) give Leiden 4-7 clusters
# for the 3 planted groups, the PPMI graph 3; this test is about the labels, so it counts there.
TRAINING = {
    **FAST,
    "pretrain_epochs": 20,
    "finetune_epochs": 6,
    "encoder_input": "X_pca",
    "cluster_count_graph": "ppmi",
}


@pytest.fixture
def labelled_cells(small_counts, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    cells = preprocess_counts(
        small_counts, PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=10)
    )
    cells.uns["scimta"] = {"label_key": "cell_type"}
    return cells


def _tune(cells, tuning=TUNING):
    return tune_hyperparameters(cells, tuning, GRAPH, training_options=TRAINING, random_state=0)


def test_wrong_labels_give_the_same_pick_and_only_change_the_report(labelled_cells):
    best, trials, _, _ = _tune(labelled_cells)
    wrong = labelled_cells.copy()
    wrong.obs["cell_type"] = np.random.default_rng(0).permutation(wrong.obs["cell_type"].to_numpy())
    best_wrong, trials_wrong, _, _ = _tune(wrong)
    assert best == best_wrong
    # float32 training: equal up to summation order, as the same-seed training test allows
    np.testing.assert_allclose(trials["value"], trials_wrong["value"], rtol=1e-6)
    assert trials["ari"].max() > 0.8 > trials_wrong["ari"].max()


def test_a_bad_search_space_entry_fails_before_training(labelled_cells):
    bad = {**TUNING, "search_space": {"training.latent_dims": {"type": "int", "low": 2, "high": 8}}}
    with pytest.raises(InputError, match="'training.latent_dims' is not a parameter"):
        _tune(labelled_cells, bad)


def test_trials_on_a_dask_cluster_are_nested_mlflow_runs_logged_once(labelled_cells):
    import mlflow

    tuning = {**TUNING, "dask": {"n_workers": 2, "memory_limit": "3GiB"}}
    with mlflow.start_run() as parent:
        _, trials, study, _ = _tune(labelled_cells, tuning)
    children = mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="list",
    )
    assert sorted(int(run.data.tags["optuna_trial"]) for run in children) == [0, 1, 2]
    by_number = {int(run.data.tags["optuna_trial"]): run for run in children}
    for trial in study.trials:
        logged = by_number[trial.number].data
        assert logged.params == {name: str(value) for name, value in trial.params.items()}
        assert logged.metrics["objective"] == pytest.approx(trial.value)
        assert logged.tags["dask_worker"] == trial.user_attrs["dask_worker"]
    assert trials["ari"].notna().all()
