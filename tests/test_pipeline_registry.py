"""The registry: every stage folder is a pipeline, and unknown names list the real ones."""

from __future__ import annotations

import pytest

from scimta_kedro.pipeline_registry import (
    UnknownPipelineError,
    check_requested,
    pipeline_names,
)


def test_every_stage_folder_and_the_default_are_pipelines():
    names = pipeline_names()
    assert names[-1] == "__default__"
    assert {"data_processing", "training", "clustering", "imputation", "tuning"} <= set(names)


def test_known_names_pass():
    check_requested(None)
    check_requested(["training", "__default__"])


def test_an_unknown_name_lists_the_pipelines_and_the_closest():
    with pytest.raises(UnknownPipelineError) as raised:
        check_requested(["clustering", "trainin", "nonsense"])
    message = str(raised.value)
    assert "'trainin' (did you mean 'training'?)" in message
    assert "'nonsense';" not in message and "'nonsense'." in message
    assert "The pipelines are: " + ", ".join(pipeline_names()) in message
