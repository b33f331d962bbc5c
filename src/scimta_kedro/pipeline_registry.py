"""Project pipelines: each stage alone, and ``__default__`` for the whole analysis."""

from __future__ import annotations

import difflib
import importlib.resources

from kedro.framework import project
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Opt-in pipelines: tuning trains the model once per trial, so it is run on purpose
# (kedro run --pipelines tuning), not as part of every analysis.
NOT_IN_DEFAULT = ("tuning",)
DEFAULT = "__default__"


class UnknownPipelineError(ValueError):
    """``kedro run --pipelines <name>`` named a pipeline the project does not have.

    Not a KeyError: Kedro would catch that and replace the list of pipelines with its own
    message.
    """


def pipeline_names() -> list[str]:
    """The project's pipelines: one per folder of ``scimta_kedro/pipelines``, and the default."""
    folders = importlib.resources.files(f"{__package__}.pipelines").iterdir()
    stages = sorted(
        folder.name
        for folder in folders
        if folder.is_dir() and not folder.name.startswith(("_", "."))
    )
    return [*stages, DEFAULT]


def check_requested(requested: list[str] | None) -> None:
    """Refuse a requested pipeline name that is not one of :func:`pipeline_names`."""
    available = pipeline_names()
    unknown = [name for name in requested or [] if name not in available]
    if unknown:
        close = {name: difflib.get_close_matches(name, available, n=1) for name in unknown}
        hints = "; ".join(
            f"'{name}'" + (f" (did you mean '{match[0]}'?)" if match else "")
            for name, match in close.items()
        )
        raise UnknownPipelineError(
            f"No pipeline named {hints}. The pipelines are: {', '.join(available)}. "
            "Run e.g. `kedro run --pipelines training`, or `kedro run` for the whole analysis."
        )


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline under ``pipelines/`` by its folder name, plus ``__default__``."""
    # Kedro imports only the pipelines `--pipelines` asked for, and an unknown name surfaces
    # as an ImportError of a module that does not exist; name the real pipelines instead.
    check_requested(getattr(project.pipelines, "_requested_pipelines", None))
    pipelines = find_pipelines(raise_errors=True)
    pipelines[DEFAULT] = sum(
        pipeline for name, pipeline in pipelines.items() if name not in NOT_IN_DEFAULT
    )
    return pipelines
