"""Fixtures of the core tests that need a trained model: trained once for all of them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.simulate import simulate_counts
from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.tuning import ObjectiveConfig, TuningData

from ..simulated import FAST, SMALL_SIMULATION


@pytest.fixture(scope="package")
def planted():
    """Preprocessed cells of three well separated planted groups (with their counts before
    dropout), and their graph."""
    cells = preprocess_counts(
        simulate_counts(replace(SMALL_SIMULATION, keep_pre_dropout_counts=True)),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    graph = build_ppmi_graph(
        cells.obsm["X_pca"], GraphConfig(n_neighbors=10, max_entries_per_row=30)
    )
    # The encoder reads the PCA, as with the default training.encoder_input.
    data = GraphData.from_graph(cells.obsm["X_pca"], cells.layers[COUNTS_LAYER], graph)
    return cells, data


@pytest.fixture(scope="package")
def trained(planted):
    return train_graph_autoencoder(planted[1], TrainingConfig(**FAST))


# The tuning tests' objective and preprocessing: small, so that a trial takes seconds.
TINY_OBJECTIVE = ObjectiveConfig(evaluation_cells=100)
TUNING_PREPROCESSING = PreprocessConfig(n_pcs=10)


@pytest.fixture(scope="package")
def tuning_data():
    """The counts split of the planted groups, as every tuning trial shares it."""
    cells = preprocess_counts(
        simulate_counts(SMALL_SIMULATION),
        PreprocessConfig(min_genes_per_cell=10, n_top_genes=200, n_pcs=15),
    )
    return TuningData.from_counts(cells.layers[COUNTS_LAYER], TINY_OBJECTIVE, TUNING_PREPROCESSING)
