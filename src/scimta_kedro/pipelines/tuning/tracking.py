"""One nested MLflow run per tuning trial.

kedro-mlflow tracks a node's outputs through the catalog, one run per ``kedro run``; a study
has many trials, so each trial is logged here as a child of that run.
"""

from __future__ import annotations

import math

import mlflow
import optuna

from scimta_kedro.core.tuning_dask import WORKER_ATTRIBUTE


def log_trial(trial: optuna.trial.FrozenTrial, metrics: dict[str, float]) -> None:
    """Log a finished trial's parameters, state and metrics as a nested run."""
    with mlflow.start_run(run_name=f"trial {trial.number}", nested=True):
        mlflow.log_params(trial.params)
        tags = {"optuna_trial": trial.number, "optuna_state": trial.state.name}
        if WORKER_ATTRIBUTE in trial.user_attrs:  # trials run on a Dask cluster
            tags[WORKER_ATTRIBUTE] = trial.user_attrs[WORKER_ATTRIBUTE]
        mlflow.set_tags(tags)
        finite = {name: value for name, value in metrics.items() if math.isfinite(value)}
        if finite:
            mlflow.log_metrics(finite)
