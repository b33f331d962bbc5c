"""The served model's class, as `mlflow.pyfunc.load_model` imports it."""

from __future__ import annotations

import os
import subprocess
import sys


def test_loading_the_model_class_prints_no_mlflow_type_hint_advice():
    # MLflow checks predict's type hints when the class is defined, with its own warning
    # filter: only the class can opt out. Loading a logged model runs this import.
    result = subprocess.run(
        [sys.executable, "-c", "import scimta_kedro.serving"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    assert "Add type hints" not in result.stderr + result.stdout


def test_artifact_progress_bars_are_off_inside_and_restored_after(monkeypatch):
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    from scimta_kedro.serving import artifact_progress_bars_off

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with artifact_progress_bars_off():
        assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "true"

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    with artifact_progress_bars_off():
        assert MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get() is False
    assert "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" not in os.environ
