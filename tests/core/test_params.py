"""One source of truth: conf/base writes out the library's defaults, and nothing else."""

from __future__ import annotations

import pytest
import yaml

from scimta_kedro.core.errors import InputError
from scimta_kedro.core.graphs import GENE_GRAPH
from scimta_kedro.core.params import (
    PROJECT_CHOICES,
    SECTIONS,
    check_parameters,
    library_defaults,
    section_config,
)
from scimta_kedro.core.train import TrainingConfig

from ..pipelines.conftest import PROJECT_ROOT

# Free-form blocks: their keys are the user's (dotted parameter names), not config fields.
FREE_FORM = {"tuning.search_space"}


def _conf_base() -> dict:
    blocks = {}
    for path in sorted((PROJECT_ROOT / "conf" / "base").glob("parameters_*.yml")):
        blocks.update(yaml.safe_load(path.read_text()))
    return blocks


def _leaves(tree: dict, prefix: str = "") -> dict:
    leaves = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in FREE_FORM:
            leaves.update(_leaves(value, f"{path}."))
        elif path not in FREE_FORM:
            leaves[path] = value
    return leaves


def test_every_section_of_conf_base_has_a_config():
    assert set(_conf_base()) == set(SECTIONS)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_conf_base_values_are_the_library_defaults(section):
    shipped = _leaves({section: _conf_base()[section]})
    library = _leaves({section: library_defaults(section)})
    assert set(shipped) <= set(library), "conf/base has keys the library does not know"
    differences = {
        path: (value, library[path])
        for path, value in shipped.items()
        if value != library[path] and path not in PROJECT_CHOICES
    }
    assert differences == {}, "conf/base and the library's defaults disagree (YAML, library)"


def test_project_choices_are_real_differences():
    # A listed choice that no longer differs from the library would be a stale excuse.
    for path in PROJECT_CHOICES:
        section, *rest = path.split(".")
        shipped, library = _conf_base()[section], library_defaults(section)
        for key in rest:
            shipped, library = shipped[key], library[key]
        assert shipped != library, path


def test_a_block_overrides_single_keys_and_keeps_the_rest():
    config = section_config(
        "graph_construction", {"n_neighbors": 20, "gene_graph": {"surf_steps": 3}}, 7
    )
    assert config.cell_graph.n_neighbors == 20 and config.cell_graph.random_state == 7
    assert config.gene_graph.surf_steps == 3
    assert config.gene_graph.metric == GENE_GRAPH.metric == "cosine"
    assert config.gene_graph.random_state == 7
    assert section_config("training", {}, 3) == TrainingConfig(random_state=3)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"trainning": {"n_clusters": 5}}, "unknown parameter trainning"),
        ({"training": {"n_cluster": 5}}, r"unknown parameter training.n_cluster; the keys"),
        (
            {"data_processing": {"simulation": {"n_cell": 5}}},
            "unknown parameter data_processing.simulation.n_cell",
        ),
        ({"training": {"pretrain_epochs": 0}}, "training.pretrain_epochs must be at least 1"),
        ({"tuning": {"study": 3}}, "tuning.study must be a mapping"),
        # Types and ranges, each before any node runs, with the key a user types.
        ({"training": {"latent_dim": "abc"}}, "training.latent_dim must be an integer"),
        ({"training": {"pretrain_learning_rate": -1}}, "pretrain_learning_rate must be greater"),
        ({"training": {"dropout_rate": 2}}, r"training.dropout_rate must lie in \[0, 1\)"),
        ({"training": {"likelihood": "poisson"}}, r"likelihood must be one of \['nb', 'zinb'\]"),
        ({"training": {"hidden_units": "abc"}}, "hidden_units must be a list of integers"),
        ({"training": {"normalize_edge_decoder": "maybe"}}, "must be true or false"),
        ({"graph_construction": {"n_neighbors": 2.5}}, "graph_construction.n_neighbors must be an"),
        ({"graph_construction": {"n_neighbors": -1}}, "graph_construction.n_neighbors must be at"),
        (
            {"data_processing": {"preprocessing": {"n_pcs": 0}}},
            "data_processing.preprocessing.n_pcs must be at least 1",
        ),
        (
            {"data_processing": {"preprocessing": {"n_top_genes": "abc"}}},
            "data_processing.preprocessing.n_top_genes must be an integer",
        ),
        ({"random_state": "abc"}, "random_state must be an integer"),
        ({"clustering": {"umap_neighbors": "x"}}, "clustering.umap_neighbors must be an integer"),
    ],
)
def test_unknown_keys_and_bad_values_name_their_full_path(parameters, message):
    with pytest.raises(InputError, match=message):
        check_parameters(parameters)
