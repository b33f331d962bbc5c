"""The parameter checks that run before the first node."""

from __future__ import annotations

import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset

from scimta_kedro.core.validate import InputError
from scimta_kedro.hooks import ParameterChecks
from scimta_kedro.pipelines.data_processing.pipeline import create_pipeline as data_processing
from scimta_kedro.pipelines.training.pipeline import create_pipeline as training

from .pipelines.conftest import PROJECT_ROOT


def _parameters(section: str) -> dict:
    path = PROJECT_ROOT / "conf" / "base" / f"parameters_{section}.yml"
    return yaml.safe_load(path.read_text())[section]


def _catalog(**sections) -> DataCatalog:
    datasets = {f"params:{name}": MemoryDataset(value) for name, value in sections.items()}
    return DataCatalog(datasets={**datasets, "params:random_state": MemoryDataset(0)})


def _check(pipeline, catalog) -> None:
    ParameterChecks().before_pipeline_run(run_params={}, pipeline=pipeline, catalog=catalog)


def test_the_shipped_parameters_pass():
    catalog = _catalog(training=_parameters("training"))
    _check(training(), catalog)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"target_frequency_exponent": -1.0}, "target_frequency_exponent must be"),
        ({"n_clusters": 1}, "n_clusters must be"),
        ({"latnt_dim": 8}, "latnt_dim"),
    ],
)
def test_a_bad_training_value_fails_naming_the_section_and_the_fix(change, named):
    catalog = _catalog(training={**_parameters("training"), **change})
    with pytest.raises(InputError, match="section 'training' is invalid") as raised:
        _check(training(), catalog)
    assert named in str(raised.value) and "--params training.<key>=<value>" in str(raised.value)


def test_sections_the_pipeline_does_not_read_are_not_checked():
    # data_processing reads params:graph_construction (for its checks) but not params:training.
    catalog = _catalog(
        training={"n_clusters": 1},
        data_processing=_parameters("data_processing"),
        graph_construction=_parameters("graph_construction"),
    )
    _check(data_processing(), catalog)
