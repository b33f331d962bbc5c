"""Label-free hyperparameter tuning with Optuna, every trial a nested MLflow run."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
