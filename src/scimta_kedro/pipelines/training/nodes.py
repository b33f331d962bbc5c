"""Nodes of the training pipeline: a thin wrapper over ``scimta_kedro.tl.fit``."""

from __future__ import annotations

from typing import Any

import anndata as ad
import keras

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.annotated import shallow_copy
from scimta_kedro.core.params import section_config
from scimta_kedro.core.run_info import carried_record
from scimta_kedro.core.validate import check_same_cells


def train_model(
    preprocessed_cells: ad.AnnData,
    cell_graph: ad.AnnData,
    options: dict[str, Any],
    random_state: int,
) -> tuple[keras.Model, ad.AnnData, dict[str, list[dict[str, float]]]]:
    """Train the graph autoencoder; return the model, the embedded cells and loss histories."""
    check_same_cells(preprocessed_cells, cell_graph, ("preprocessed_cells", "cell_graph"))
    config = section_config("training", options, random_state)
    cells = shallow_copy(preprocessed_cells)
    cells.obsp.update(dict(cell_graph.obsp))
    model = tl.fit(cells, config)

    embedded_cells = ad.AnnData(obs=cells.obs[[keys.INITIAL_CLUSTER]].copy())
    for key in (keys.LATENT, keys.SOFT_ASSIGNMENT):
        embedded_cells.obsm[key] = cells.obsm[key]
    embedded_cells.uns[keys.FIT] = {"params": cells.uns[keys.FIT]["params"]}
    embedded_cells.uns[keys.RUN_INFO] = carried_record(preprocessed_cells)
    history = {
        name: [{"value": float(value), "step": step} for step, value in enumerate(values)]
        for name, values in cells.uns[keys.FIT]["history"].items()
    }
    return model, embedded_cells, history
