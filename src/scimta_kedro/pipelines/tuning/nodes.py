"""Nodes of the tuning pipeline: thin wrappers over ``core.tuning``."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from typing import Any

import anndata as ad
import numpy as np
import optuna
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from scimta_kedro.core import keys
from scimta_kedro.core.batches import batch_labels
from scimta_kedro.core.dask_cluster import dask_client
from scimta_kedro.core.params import section_config
from scimta_kedro.core.plots import message_figure
from scimta_kedro.core.preprocess import PreprocessConfig
from scimta_kedro.core.run_info import recorded_column, recorded_params
from scimta_kedro.core.tuning import (
    TrialResult,
    TuningData,
    nested,
    parse_search_space,
    run_study,
)
from scimta_kedro.core.tuning_dask import run_study_on_dask

from .tracking import log_trial

logger = logging.getLogger(__name__)


def _trial_options(
    graph_options: dict, training_options: dict, random_state: int
) -> dict[str, dict]:
    """The options one trial starts from, keyed by their parameter block: the fields of the
    cell graph's and the training's configs (what a trial can change), checked."""
    graphs = section_config("graph_construction", graph_options, random_state)
    training = section_config("training", training_options, random_state)
    if training.encoder_input != "X_pca":
        logger.warning("Tuning trains on PCA features whatever training.encoder_input says.")
    return {
        "graph_construction": _fields(graphs.cell_graph),
        "training": {
            key: value for key, value in _fields(training).items() if key != "encoder_input"
        },
    }


def _fields(config) -> dict[str, Any]:
    return {
        name: value
        for name, value in dataclasses.asdict(config).items()
        if name not in ("random_state", "block_size")
    }


def tune_hyperparameters(
    preprocessed_cells: ad.AnnData,
    tuning_options: dict[str, Any],
    graph_options: dict[str, Any],
    *,
    training_options: dict[str, Any],
    random_state: int,
) -> tuple[dict, pd.DataFrame, optuna.Study, dict[str, dict[str, float]]]:
    """Run or resume the study; the best parameters, the trial table, the study, metrics.

    The objective sees counts only. When the data have labels (``label_key``) each trial's
    clusters are scored against them for the record, after the trial has finished. With
    ``tuning.dask`` set the trials run on a Dask cluster; each is still logged here, once,
    as a nested MLflow run.
    """
    parameters = _trial_options(graph_options, training_options, random_state)
    tuning = section_config("tuning", tuning_options, random_state)
    dimensions = parse_search_space(tuning.search_space, parameters)
    data = TuningData.from_counts(
        preprocessed_cells.layers[keys.COUNTS_LAYER],
        tuning.objective,
        PreprocessConfig(**recorded_params(preprocessed_cells, keys.PREPROCESS)),
        batch_labels(preprocessed_cells),
    )
    label_key = recorded_column(preprocessed_cells, "label_key")
    labels = preprocessed_cells.obs[label_key].to_numpy() if label_key else None
    reported: dict[int, dict[str, float]] = {}

    def on_trial_finished(trial: optuna.trial.FrozenTrial, result: TrialResult | None) -> None:
        metrics = {"objective": trial.value if trial.value is not None else float("nan")}
        if result is not None:
            metrics |= {
                "likelihood_gain": result.likelihood_gain,
                "silhouette": result.silhouette,
                "n_clusters": result.n_clusters,
            }
            if labels is not None:
                metrics["ari"] = adjusted_rand_score(labels, result.clusters)
                metrics["nmi"] = normalized_mutual_info_score(labels, result.clusters)
        reported[trial.number] = metrics
        log_trial(trial, metrics)
        logger.info("Trial %d %s: %s", trial.number, trial.state.name, metrics)

    study_options = {
        "objective_config": tuning.objective,
        "study_config": tuning.study,
        "on_trial_finished": on_trial_finished,
    }
    if tuning.dask.enabled:
        with dask_client(tuning.dask) as client:
            study = run_study_on_dask(data, dimensions, parameters, client=client, **study_options)
    else:
        study = run_study(data, dimensions, parameters, **study_options)
    trials = study.trials_dataframe()
    for column in ("ari", "nmi"):
        trials[column] = [
            reported.get(number, {}).get(column, np.nan) for number in trials["number"]
        ]
    complete = [trial for trial in study.trials if trial.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(
            "No tuning trial finished: all were pruned or failed. Raise "
            "tuning.study.pruning_warmup_epochs or widen tuning.search_space."
        )
    best = study.best_trial
    logger.info("Best trial %d (objective %.4f): %s", best.number, best.value, best.params)
    metrics = {
        "best_objective": best.value,
        "best_trial": best.number,
        "n_trials_complete": len(complete),
        "n_trials_pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
    }
    return (
        nested(best.params),
        trials,
        study,
        {name: {"value": float(value), "step": 0} for name, value in metrics.items()},
    )


def plot_optimisation_history(study: optuna.Study) -> Figure:
    """Objective of every trial and the best so far (Optuna's matplotlib plot)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        axis = optuna.visualization.matplotlib.plot_optimization_history(study)
    return axis.figure


def plot_parameter_importances(study: optuna.Study) -> Figure:
    """fANOVA importance of each tuned parameter for the objective (needs >= 2 trials)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            axis = optuna.visualization.matplotlib.plot_param_importances(study)
        return axis.figure
    except (ValueError, RuntimeError) as error:
        return message_figure(f"No importances yet: {error}")
