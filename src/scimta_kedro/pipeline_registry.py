"""Project pipelines: each stage alone, and ``__default__`` for the whole analysis."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Opt-in pipelines: tuning trains the model once per trial, so it is run on purpose
# (kedro run --pipeline tuning), not as part of every analysis.
NOT_IN_DEFAULT = ("tuning",)


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under ``pipelines/`` by its folder name, plus ``__default__``."""
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(
        pipeline for name, pipeline in pipelines.items() if name not in NOT_IN_DEFAULT
    )
    return pipelines
