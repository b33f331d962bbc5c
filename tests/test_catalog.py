"""The catalog as kedro-viz shows it: every dataset in the layer its data folder names."""

from __future__ import annotations

import re

import yaml
from kedro.io import DataCatalog

from .pipelines.conftest import PROJECT_ROOT

# data/<folder>/ -> kedro-viz layer (Kedro's data-layer convention).
FOLDER_LAYERS = {
    "02_intermediate": "intermediate",
    "03_primary": "primary",
    "06_models": "models",
    "07_model_output": "model_output",
    "08_reporting": "reporting",
}


def _catalog() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf" / "base" / "catalog.yml").read_text())


def test_every_entry_has_the_layer_of_its_folder():
    for name, entry in _catalog().items():
        layer = entry.get("metadata", {}).get("kedro-viz", {}).get("layer")
        assert layer, f"{name} has no kedro-viz layer"
        folder = re.search(r"data/(0\d_[a-z_]+)/", yaml.safe_dump(entry))
        if folder:
            assert layer == FOLDER_LAYERS[folder.group(1)], name


def test_the_catalog_with_its_metadata_builds():
    catalog = DataCatalog.from_config(_catalog())
    assert catalog.get("cell_graph").metadata == {"kedro-viz": {"layer": "primary"}}
    assert catalog.get("umap_plot").metadata == {"kedro-viz": {"layer": "reporting"}}
