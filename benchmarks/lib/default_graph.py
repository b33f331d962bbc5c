"""A labelled file preprocessed and turned into its PPMI cell graph in-process, as the default
``data_processing`` and ``graph_construction`` stages would, for benchmarks that need the
graph without a whole ``kedro run``."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np

from benchmarks.lib.scratch_project import default_config, default_parameters
from scimta_kedro.core.dec_start import dec_start_partition
from scimta_kedro.core.graphs import PPMIGraph, build_ppmi_graph
from scimta_kedro.core.io import read_cells
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.params import section_config
from scimta_kedro.core.preprocess import preprocess_counts
from scimta_kedro.core.train import GraphData, encoder_features
from scimta_kedro.core.validate import validate_counts


def validated_cells(dataset: Path) -> ad.AnnData:
    """``dataset`` read and checked as the ``data_processing`` pipeline checks its input."""
    graphs = default_config("graph_construction")
    return validate_counts(read_cells(dataset), n_neighbors=graphs.cell_graph.n_neighbors)


def preprocessed(counts: ad.AnnData, seed: int) -> ad.AnnData:
    """Validated raw ``counts`` preprocessed with the default parameters and ``seed`` as the
    run's ``random_state``."""
    return preprocess_counts(counts, default_config("data_processing", seed).preprocessing)


def preprocessed_and_graph(counts: ad.AnnData, seed: int) -> tuple[ad.AnnData, PPMIGraph]:
    """:func:`preprocessed` ``counts`` and their default cell graph."""
    graphs = default_config("graph_construction", seed)
    cells = preprocessed(counts, seed)
    return cells, build_ppmi_graph(cells.obsm[graphs.use_rep], graphs.cell_graph)


def preprocessed_cells_and_graph(dataset: Path, seed: int) -> tuple[ad.AnnData, PPMIGraph]:
    """``dataset`` read, checked and preprocessed, and its cell graph (see
    :func:`preprocessed_and_graph`)."""
    return preprocessed_and_graph(validated_cells(dataset), seed)


def training_data(cells: ad.AnnData, graph: PPMIGraph) -> GraphData:
    """What the default training node trains on for preprocessed ``cells`` and their
    ``graph``."""
    encoder_input = default_config("training").encoder_input
    return GraphData.from_graph(
        encoder_features(cells, encoder_input), cells.layers[COUNTS_LAYER], graph
    )


def default_start(data: GraphData, seed: int, **options) -> np.ndarray:
    """DEC's start as training finds it with the default ``params:training`` (``options``
    override some, e.g. ``n_clusters=k``) and ``seed`` as the run's ``random_state``."""
    training_options = {**default_parameters("training"), **options}
    return dec_start_partition(data, section_config("training", training_options, seed))
