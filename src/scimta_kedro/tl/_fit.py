"""``fit``: train the graph autoencoder on the cells and their graph."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd

from ..core import keys, train
from ..core.batches import batch_labels
from ..core.dec_start import counts_clusters_on_knn
from ..core.errors import InputError
from ..core.run_info import params_record
from ..core.train import GraphData, TrainingConfig, encoder_features
from ._graph import graph_matrix

if TYPE_CHECKING:  # TensorFlow is imported when a model is first trained or loaded
    from ..core.nn.model import GraphAutoencoder


def graph_data(adata: ad.AnnData, config: TrainingConfig, graph_key: str) -> GraphData:
    """What :func:`fit` trains on: the encoder input, ``layers["counts"]``, the cell graph of
    ``graph_key`` and the batches; the kNN graph only where it counts the clusters."""
    if keys.COUNTS_LAYER not in adata.layers:
        raise InputError(
            f"the cells have no layers['{keys.COUNTS_LAYER}'] with raw counts; run "
            "st.pp.preprocess (or the data_processing pipeline) first."
        )
    where = "the cells' obsp"
    knn = (
        graph_matrix(adata.obsp, graph_key, "knn_connectivities", where)
        if counts_clusters_on_knn(config)
        else None
    )
    return GraphData(
        features=encoder_features(adata, config.encoder_input),
        counts=adata.layers[keys.COUNTS_LAYER],
        connectivities=graph_matrix(adata.obsp, graph_key, "connectivities", where),
        edges=graph_matrix(adata.obsp, graph_key, "ppmi", where),
        batches=batch_labels(adata),
        knn_connectivities=knn,
    )


def fit(
    adata: ad.AnnData,
    config: TrainingConfig | None = None,
    *,
    graph_key: str = keys.GRAPH_PREFIX,
    initial_labels: np.ndarray | None = None,
    on_epoch_end: Callable[[str, int, dict[str, float]], None] | None = None,
    **params,
) -> GraphAutoencoder:
    """Pretrain the graph autoencoder on edge and count reconstruction, then DEC fine-tuning.

    Reads the encoder input (``config.encoder_input``), ``layers["counts"]`` and the graph of
    :func:`~scimta_kedro.tl.cell_graph` (``graph_key``). Writes ``obsm["X_scimta"]`` (the
    latent codes), ``obsm["scimta_soft_assignment"]``, ``obs["scimta_initial_cluster"]``
    (DEC's start) and ``uns["scimta_fit"]`` (``params`` and the per-epoch loss ``history``).

    ``config``, ``**params``: :class:`~scimta_kedro.core.train.TrainingConfig` or its fields
    (``n_clusters=8``). ``initial_labels`` and ``on_epoch_end`` are those of
    :func:`~scimta_kedro.core.train.train_graph_autoencoder`.

    Returns the trained model (:func:`~scimta_kedro.tl.impute` decodes counts with it).
    """
    config = dataclasses.replace(config or TrainingConfig(), **params)
    result = train.train_graph_autoencoder(
        graph_data(adata, config, graph_key),
        config,
        on_epoch_end=on_epoch_end,
        initial_labels=initial_labels,
    )
    adata.obsm[keys.LATENT] = result.latent
    adata.obsm[keys.SOFT_ASSIGNMENT] = result.soft_assignment
    adata.obs[keys.INITIAL_CLUSTER] = pd.Categorical(result.initial_labels.astype(str))
    adata.uns[keys.FIT] = {
        "params": params_record(config),
        "history": {name: np.asarray(values) for name, values in result.history.items()},
    }
    return result.model
