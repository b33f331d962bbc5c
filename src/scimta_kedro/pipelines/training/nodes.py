"""Nodes of the training pipeline: a thin wrapper over ``scimta_kedro.tl.fit``."""

from __future__ import annotations

import logging
import time
from typing import Any

import anndata as ad
import keras

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.params import section_config
from scimta_kedro.core.run_info import carried_record
from scimta_kedro.core.validate import check_same_cells
from scimta_kedro.run_metrics import live_losses

logger = logging.getLogger(__name__)


def train_model(
    preprocessed_cells: ad.AnnData,
    cell_graph: ad.AnnData,
    options: dict[str, Any],
    random_state: int,
) -> tuple[keras.Model, ad.AnnData, dict[str, list[float]]]:
    """Train the graph autoencoder; return the model, the embedded cells and loss histories.

    In an MLflow run (``kedro run``) the losses stream to it while training runs, as
    ``pretrain/<loss>`` and ``finetune/<loss>`` per epoch.
    """
    check_same_cells(preprocessed_cells, cell_graph, ("preprocessed_cells", "cell_graph"))
    config = section_config("training", options, random_state)
    cells = shallow_copy(preprocessed_cells)
    cells.obsp.update(dict(cell_graph.obsp))
    streamed = live_losses()
    started = time.perf_counter()
    try:
        model = tl.fit(cells, config, on_epoch_end=streamed)
    finally:
        if streamed is not None:
            streamed.close()
    losses = cells.uns[keys.FIT]["history"]
    logger.info(
        "training: %d clusters, %d pretraining and %d fine-tuning epochs, final loss %.4f "
        "(pretraining) and %.4f (fine-tuning), %.0f s.",
        cells.obsm[keys.SOFT_ASSIGNMENT].shape[1],
        len(losses.get("pretrain_total_loss", [])),
        len(losses.get("finetune_total_loss", [])),
        _last(losses, "pretrain_total_loss"),
        _last(losses, "finetune_total_loss"),
        time.perf_counter() - started,
    )

    embedded_cells = ad.AnnData(obs=cells.obs[[keys.INITIAL_CLUSTER]].copy())
    for key in (keys.LATENT, keys.SOFT_ASSIGNMENT):
        embedded_cells.obsm[key] = cells.obsm[key]
    embedded_cells.uns[keys.FIT] = {"params": cells.uns[keys.FIT]["params"]}
    embedded_cells.uns[keys.RUN_INFO] = carried_record(preprocessed_cells)
    history = {name: [float(value) for value in values] for name, values in losses.items()}
    return model, embedded_cells, history


def _last(losses: dict, name: str) -> float:
    values = losses.get(name, [])
    return float(values[-1]) if len(values) else float("nan")
