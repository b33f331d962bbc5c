"""kedro-viz's layer view: every dataset of the default pipeline sits in a layer."""

from __future__ import annotations

import json
import os
import subprocess

from .conftest import KEDRO, make_project_copy

LAYERS = ["raw", "intermediate", "primary", "models", "model_output", "reporting"]


def test_kedro_viz_build_puts_every_dataset_in_a_layer(tmp_path):
    project = make_project_copy(tmp_path)
    result = subprocess.run(
        [KEDRO, "viz", "build"],
        cwd=project,
        env={**os.environ, "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    graph = json.loads((project / "build" / "api" / "main").read_text())
    assert graph["layers"] == LAYERS
    datasets = [node for node in graph["nodes"] if node["type"] == "data"]
    assert len(datasets) > 15
    assert [node["name"] for node in datasets if node.get("layer") not in LAYERS] == []
