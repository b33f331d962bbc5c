"""``impute``: dropout-aware imputation from the trained model's count decoder."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np

from ..core import keys
from ..core.batches import batch_labels, batch_one_hot
from ..core.errors import InputError
from ..core.impute import ImputationConfig, impute_counts
from ..core.run_info import params_record, recorded_params
from ._graph import graph_matrix

if TYPE_CHECKING:  # TensorFlow is imported when a model is first trained or loaded
    from ..core.nn.model import GraphAutoencoder


def impute(
    adata: ad.AnnData,
    model: GraphAutoencoder,
    config: ImputationConfig | None = None,
    *,
    graph_key: str = keys.GRAPH_PREFIX,
    layer_added: str = keys.IMPUTED,
    **params,
) -> None:
    """``layers[layer_added]``: the HVGs' expression on the log-normalised scale with the
    dropouts filled and the biological zeros left zero (:mod:`scimta_kedro.core.impute`);
    its parameters in ``uns[layer_added]["params"]``.

    Reads the latent codes of :func:`~scimta_kedro.tl.fit`, ``layers["counts"]``,
    ``obs["total_counts"]``, the cell graph and the preprocessing's ``target_sum``.
    ``config``, ``**params``: :class:`~scimta_kedro.core.impute.ImputationConfig` or its
    fields.
    """
    config = dataclasses.replace(config or ImputationConfig(), **params)
    for slots, key, step in (
        (adata.layers, keys.COUNTS_LAYER, "st.pp.preprocess"),
        (adata.obsm, keys.LATENT, "st.tl.fit"),
    ):
        if key not in slots:
            raise InputError(f"the cells have no '{key}': run {step} first.")
    preprocessing = recorded_params(adata, keys.PREPROCESS)
    if "target_sum" not in preprocessing:
        raise InputError(
            f"uns['{keys.PREPROCESS}'] does not record the preprocessing's target_sum: "
            "preprocess the cells with st.pp.preprocess (or re-run data_processing)."
        )
    adata.layers[layer_added] = impute_counts(
        model,
        adata.obsm[keys.LATENT],
        adata.layers[keys.COUNTS_LAYER],
        adata.obs[keys.TOTAL_COUNTS].to_numpy(),
        graph_matrix(adata.obsp, graph_key, "connectivities", "the cells' obsp"),
        config=config,
        target_sum=preprocessing["target_sum"],
        batch=decoder_batches(model, adata),
    )
    adata.uns[layer_added] = {"params": params_record(config)}


def decoder_batches(model: GraphAutoencoder, adata: ad.AnnData) -> np.ndarray | None:
    """The one-hot batches a batch-conditioned decoder reads, or ``None``."""
    if not model.n_batches:
        return None
    batches = batch_labels(adata)
    if batches is None or np.unique(batches).size != model.n_batches:
        raise InputError(
            f"the model's decoder was trained on {model.n_batches} batches but these cells "
            "do not have them: re-run training on these cells."
        )
    return batch_one_hot(batches)
