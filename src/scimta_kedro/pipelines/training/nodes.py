"""Nodes of the training pipeline."""

from __future__ import annotations

from typing import Any

import anndata as ad
import keras
import pandas as pd

from scimta_kedro.core import keys
from scimta_kedro.core.batches import batch_labels
from scimta_kedro.core.preprocess import COUNTS_LAYER
from scimta_kedro.core.train import (
    GraphData,
    TrainingConfig,
    counts_clusters_on_knn,
    train_graph_autoencoder,
)
from scimta_kedro.core.validate import InputError, check_same_cells


def encoder_features(cells: ad.AnnData, encoder_input: str):
    """The matrix the encoder reads: ``X`` or an ``obsm`` key (``training.encoder_input``)."""
    if encoder_input == "X":
        return cells.X
    if encoder_input not in cells.obsm:
        raise InputError(
            f"training.encoder_input '{encoder_input}' is neither 'X' nor a key of obsm; "
            f"available: {['X', *cells.obsm.keys()]}."
        )
    return cells.obsm[encoder_input]


def training_config(options: dict[str, Any], random_state: int) -> TrainingConfig:
    """The :class:`TrainingConfig` of ``params:training`` (``encoder_input`` is the node's)."""
    fields = {key: value for key, value in options.items() if key != "encoder_input"}
    return TrainingConfig(**fields, random_state=random_state)


def knn_connectivities(cell_graph: ad.AnnData, config: TrainingConfig):
    """The cell graph's UMAP-weighted kNN graph when it counts the clusters, else ``None``."""
    if not counts_clusters_on_knn(config):
        return None
    if keys.KNN_CONNECTIVITIES not in cell_graph.obsp:
        raise InputError(
            f"cell_graph has no obsp['{keys.KNN_CONNECTIVITIES}'], which counts the clusters "
            "with training.n_clusters: auto; it was built by an older version. Re-run "
            "`kedro run --pipeline graph_construction`, or set "
            "training.cluster_count_graph: ppmi."
        )
    return cell_graph.obsp[keys.KNN_CONNECTIVITIES]


def train_model(
    preprocessed_cells: ad.AnnData,
    cell_graph: ad.AnnData,
    options: dict[str, Any],
    random_state: int,
) -> tuple[keras.Model, ad.AnnData, dict[str, list[dict[str, float]]]]:
    """Train the graph autoencoder; return the model, the embedded cells and loss histories."""
    check_same_cells(preprocessed_cells, cell_graph, ("preprocessed_cells", "cell_graph"))
    config = training_config(options, random_state)
    data = GraphData(
        features=encoder_features(preprocessed_cells, options["encoder_input"]),
        counts=preprocessed_cells.layers[COUNTS_LAYER],
        connectivities=cell_graph.obsp[keys.CONNECTIVITIES],
        edges=cell_graph.obsp[keys.PPMI],
        batches=batch_labels(preprocessed_cells),
        knn_connectivities=knn_connectivities(cell_graph, config),
    )
    result = train_graph_autoencoder(data, config)

    embedded_cells = ad.AnnData(obs=preprocessed_cells.obs[[]].copy())
    embedded_cells.obsm[keys.LATENT] = result.latent
    embedded_cells.obsm[keys.SOFT_ASSIGNMENT] = result.soft_assignment
    embedded_cells.obs[keys.INITIAL_CLUSTER] = pd.Categorical(result.initial_labels.astype(str))
    history = {
        name: [{"value": value, "step": step} for step, value in enumerate(values)]
        for name, values in result.history.items()
    }
    return result.model, embedded_cells, history
