"""Parameter blocks -> typed configs: the only adapter between Kedro's parameters and the library.

Every default lives once, in the library's config dataclasses. ``conf/base/parameters_*.yml``
writes each one out so that a user sees and overrides it there; a test
(``tests/core/test_params.py``) fails when a value in ``conf/base`` and the library's default
differ, except the project choices in :data:`PROJECT_CHOICES`, each with its reason.

A block is the dict Kedro passes as ``params:<section>``. :func:`section_config` builds the
section's config from it, with ``random_state`` (the run-wide seed) set in every config that
has one, and refuses a key that no config has at any level, naming its full dotted path and
the keys that exist.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from .batches import BatchMixingConfig
from .cluster import ClusteringConfig
from .communities import CommunityConfig
from .dask_cluster import DaskConfig
from .errors import InputError
from .graphs import GENE_GRAPH, GraphConfig
from .impute import ImputationConfig
from .keys import PCA
from .preprocess import PreprocessConfig
from .simulate import SimulationConfig
from .train import TrainingConfig
from .tuning import ObjectiveConfig, StudyConfig
from .value_checks import type_problem

# Run-wide parameters of conf/base/parameters.yml, outside every section.
RUN_PARAMETERS = ("input_path", "label_key", "batch_key", "random_state")

# Where conf/base deliberately differs from the library's default, and why.
PROJECT_CHOICES = {
    "tuning.study.storage": (
        "a project keeps its Optuna study on disk (data/06_models) so that an interrupted "
        "tuning resumes; the library's default study lives in memory"
    ),
}


@dataclass(frozen=True)
class DataProcessingParams:
    """``params:data_processing``: where the counts are, when to stream, the simulator and
    the preprocessing.

    ``counts_layer`` holds raw counts when ``X`` is normalised (``None``: ``X``). An
    ``.h5ad`` whose ``X`` stores more than ``in_memory_max_nonzeros`` counts stays on disk and
    is preprocessed in row chunks (``None``: always load): by this process, or on the Dask
    cluster that ``dask`` names (:mod:`scimta_kedro.core.dask_preprocess`).
    """

    counts_layer: str | None = None
    in_memory_max_nonzeros: int | None = 200_000_000
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    preprocessing: PreprocessConfig = field(default_factory=PreprocessConfig)
    dask: DaskConfig = field(default_factory=DaskConfig)


@dataclass(frozen=True)
class GraphConstructionParams:
    """``params:graph_construction``: the cell graph's keys at the top of the block (``use_rep``
    names the ``obsm`` embedding it is built on) and the gene graph's under ``gene_graph``."""

    use_rep: str = PCA
    cell_graph: GraphConfig = field(default_factory=GraphConfig)
    gene_graph: GraphConfig = GENE_GRAPH


@dataclass(frozen=True)
class TuningParams:
    """``params:tuning``: the study, the label-free objective, the search space (dotted
    parameter names -> ranges, checked by :func:`scimta_kedro.core.tuning.parse_search_space`)
    and the Dask cluster the trials run on (none: in this process)."""

    study: StudyConfig = field(default_factory=StudyConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    search_space: dict[str, dict] = field(default_factory=dict)
    dask: DaskConfig = field(default_factory=DaskConfig)


SECTIONS: dict[str, type] = {
    "data_processing": DataProcessingParams,
    "graph_construction": GraphConstructionParams,
    "training": TrainingConfig,
    "clustering": ClusteringConfig,
    "gene_communities": CommunityConfig,
    "imputation": ImputationConfig,
    "batch_correction": BatchMixingConfig,
    "tuning": TuningParams,
}
# Blocks whose keys are free-form (no config field per key).
_FREE_FORM = {"tuning.search_space"}
# GraphConstructionParams keeps the cell graph's keys flat at the top of its block.
_FLAT = {"graph_construction": "cell_graph"}


def section_config(section: str, block: dict[str, Any] | None, random_state: int = 0) -> Any:
    """The typed config of ``params:<section>``; keys left out take the library's defaults.

    Raises
    ------
    InputError
        For an unknown section or key (with the dotted path and the valid keys) or a value a
        config refuses (with the section's name).
    """
    if section not in SECTIONS:
        raise InputError(f"'{section}' is not a parameter section; sections: {list(SECTIONS)}.")
    block = dict(block or {})
    if section in _FLAT:
        inner = _FLAT[section]
        own = {f.name for f in dataclasses.fields(SECTIONS[section])} - {inner}
        block = {
            **{key: value for key, value in block.items() if key in own},
            inner: {key: value for key, value in block.items() if key not in own},
        }
    return _build(SECTIONS[section], block, section, random_state)


def _build(cls: type, block: Any, where: str, random_state: int) -> Any:
    if not isinstance(block, dict):
        raise InputError(f"{where} must be a mapping of keys to values, got {block!r}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    settable = sorted(name for name in fields if name != "random_state")
    unknown = sorted(set(block) - set(settable))
    if unknown:
        raise InputError(
            f"unknown parameter {', '.join(f'{where}.{key}' for key in unknown)}; the keys of "
            f"{where} are {settable}. Fix the name in conf/base, conf/local or --params."
        )
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in block.items():
        default = _default(fields[name])
        path = _block_path(f"{where}.{name}")
        if dataclasses.is_dataclass(default) and path not in _FREE_FORM:
            if not isinstance(value, dict | None):
                raise InputError(f"{path} must be a mapping of keys to values, got {value!r}.")
            # A nested block overrides single keys of its default (GENE_GRAPH, say).
            merged = {**_settable_values(default), **(value or {})}
            values[name] = _build(type(default), merged, path, random_state)
        else:
            expected = type_problem(value, hints[name])
            if expected is not None:
                raise InputError(f"{path} must be {expected}, got {value!r}.")
            values[name] = value
    if "random_state" in fields:
        values["random_state"] = random_state
    for name, f in fields.items():
        default = _default(f)
        if name not in values and dataclasses.is_dataclass(default):
            values[name] = _build(type(default), _settable_values(default), name, random_state)
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        # A config's own check names its field; prefix the section's path to it.
        raise InputError(f"{_block_path(where)}.{str(error).rstrip('.')}.") from error


def _block_path(where: str) -> str:
    """The dotted path a user types for a block: the flat cell graph's keys are the section's
    own (``graph_construction.n_neighbors``, not ``graph_construction.cell_graph...``)."""
    section, _, inner = where.partition(".")
    return section if _FLAT.get(section) == inner else where


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _settable_values(config: Any) -> dict[str, Any]:
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name != "random_state"
    }


def library_defaults(section: str) -> dict[str, Any]:
    """The library's defaults of ``params:<section>`` in the shape of its YAML block (tuples
    as lists, ``random_state`` left out: it is the run-wide seed)."""
    tree = _as_tree(SECTIONS[section]())
    if section in _FLAT:
        tree = {**tree.pop(_FLAT[section]), **tree}
    return tree


def _as_tree(config: Any) -> dict[str, Any]:
    tree = {}
    for name, value in _settable_values(config).items():
        if dataclasses.is_dataclass(value):
            tree[name] = _as_tree(value)
        else:
            tree[name] = list(value) if isinstance(value, tuple) else value
    return tree


def check_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """Every section's config of a run's whole ``parameters`` dict; an unknown top-level key
    (a mistyped ``input_path``, say) is refused like an unknown key inside a section."""
    unknown = sorted(set(parameters) - set(SECTIONS) - set(RUN_PARAMETERS))
    if unknown:
        raise InputError(
            f"unknown parameter {', '.join(unknown)}; the run-wide parameters are "
            f"{list(RUN_PARAMETERS)} and the sections {list(SECTIONS)}. Fix the name in "
            "conf/base, conf/local or --params."
        )
    random_state = parameters.get("random_state", 0)
    if type_problem(random_state, int) is not None:
        raise InputError(f"random_state must be an integer (the run's seed), got {random_state!r}.")
    return {
        section: section_config(section, parameters[section], random_state)
        for section in SECTIONS
        if section in parameters
    }
