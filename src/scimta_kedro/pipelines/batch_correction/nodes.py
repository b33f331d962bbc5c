"""Nodes of the batch_correction pipeline: batch mixing before and after, and UMAPs."""

from __future__ import annotations

import logging
from typing import Any

import anndata as ad
from matplotlib.figure import Figure

from scimta_kedro import tl
from scimta_kedro.core import keys
from scimta_kedro.core.batches import batch_labels, batch_mixing_scores
from scimta_kedro.core.cluster import ClusteringConfig
from scimta_kedro.core.params import section_config
from scimta_kedro.core.plots import message_figure, umap_grid
from scimta_kedro.core.run_info import recorded_column, recorded_params

logger = logging.getLogger(__name__)

UNCORRECTED = keys.PCA
NO_BATCH_KEY = (
    "batch_key is not set, so there is nothing to correct. Set it to the obs column of "
    'batches (kedro run --params "batch_key=batch") to build a batch-corrected latent.'
)


def _cell_types(cells: ad.AnnData) -> tuple[str, str]:
    """The obs column that stands for cell types (labels, else clusters) and its kind."""
    label_key = recorded_column(cells, "label_key")
    return (label_key, "labels") if label_key else (keys.CLUSTER, "clusters")


def evaluate_batch_correction(
    clustered_cells: ad.AnnData, options: dict[str, Any], random_state: int
) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Batch mixing of the uncorrected PCA and of the scIMTA latent, as MLflow metrics and a
    JSON summary. Without a batch key, no metrics and a summary that says so."""
    config = section_config("batch_correction", options)
    batches = batch_labels(clustered_cells)
    if batches is None:
        logger.info(NO_BATCH_KEY)
        return {}, {"batch_key": None, "batch_corrected": False, "note": NO_BATCH_KEY}
    cell_type_key, cell_type_kind = _cell_types(clustered_cells)
    cell_types = clustered_cells.obs[cell_type_key].astype(str).to_numpy()
    scores = {
        name: batch_mixing_scores(
            clustered_cells.obsm[representation],
            batches,
            cell_types,
            n_neighbors=config.n_neighbors,
            max_cells=config.max_cells,
            random_state=random_state,
        )
        for name, representation in (("uncorrected_pca", UNCORRECTED), ("scimta", keys.LATENT))
    }
    logger.info("Batch mixing, uncorrected PCA: %s; scIMTA latent: %s", *scores.values())
    metrics = {
        f"{name}_{score}": {"value": value, "step": 0}
        for name, values in scores.items()
        for score, value in values.items()
    }
    summary = {
        "batch_key": recorded_column(clustered_cells, "batch_key"),
        "batch_corrected": True,
        "n_batches": int(len(set(batches))),
        "cell_types_from": f"{cell_type_kind} ({cell_type_key})",
        **scores,
    }
    return metrics, summary


def plot_batch_umaps(clustered_cells: ad.AnnData) -> Figure:
    """UMAPs of the uncorrected PCA and of the scIMTA latent, coloured by batch and cell type;
    the uncorrected one is laid out as the clustering stage laid out the latent's."""
    batch_key = recorded_column(clustered_cells, "batch_key")
    if not batch_key:
        return message_figure(NO_BATCH_KEY)
    cell_type_key, _ = _cell_types(clustered_cells)
    uncorrected = ad.AnnData(obs=clustered_cells.obs[[batch_key, cell_type_key]].copy())
    uncorrected.obsm[UNCORRECTED] = clustered_cells.obsm[UNCORRECTED]
    umap_settings = recorded_params(clustered_cells, keys.UMAP_INFO)
    tl.umap(
        uncorrected,
        ClusteringConfig(
            **{key: value for key, value in umap_settings.items() if key.startswith("umap_")}
        ),
        use_rep=UNCORRECTED,
        random_state=umap_settings.get("random_state", 0),
    )
    return umap_grid(
        [(uncorrected, "uncorrected PCA"), (clustered_cells, "scIMTA latent")],
        [batch_key, cell_type_key],
    )
