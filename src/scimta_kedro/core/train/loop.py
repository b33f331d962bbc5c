"""Training of the graph autoencoder: reconstruction pretraining, then DEC fine-tuning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from ..cluster import label_centroids
from ..dec_start import counts_clusters_on_knn, dec_start_partition
from ..nn.likelihoods import partition_target, target_distribution
from ..nn.model import GraphAutoencoder
from .config import TrainingConfig
from .data import GraphData
from .trainer import Trainer

logger = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    """A trained model and what it says about the cells."""

    model: GraphAutoencoder
    latent: np.ndarray
    soft_assignment: np.ndarray
    initial_labels: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)


def _record(history: dict, phase: str, losses: dict) -> None:
    for name, value in losses.items():
        history.setdefault(f"{phase}_{name}", []).append(float(value))


def _progress(epochs: int, description: str):
    return tqdm(range(epochs), desc=description, unit="epoch", mininterval=1.0)


def train_graph_autoencoder(
    data: GraphData,
    config: TrainingConfig,
    on_epoch_end: Callable[[str, int, dict[str, float]], None] | None = None,
    initial_labels: np.ndarray | None = None,
) -> TrainingResult:
    """Pretrain on edge and count reconstruction, then fine-tune with the DEC loss.

    The number of clusters is ``config.n_clusters``, or for ``"auto"`` the number of Leiden
    clusters of ``data.knn_connectivities`` (or of ``data.edges`` with
    ``cluster_count_graph: ppmi``). DEC centres start at the pretrained latent
    centroids of the PPMI graph's Leiden clusters, split or merged to that number.
    Fine-tuning stops early when fewer than ``label_change_tolerance`` of the cells change
    cluster between two target updates (as in DEC). Labels are never used.

    ``initial_labels`` ``(N,)``, if given, replaces that start: DEC starts from the latent
    centroids of this partition (an earlier clustering, say), with as many clusters as it
    has; Leiden is not run, and ``config.n_clusters`` must be ``"auto"`` or that number.

    ``on_epoch_end(phase, epoch, losses)``, if given, is called after every epoch of both
    phases (``"pretrain"``, ``"finetune"``) with the epoch's losses as floats; an exception it
    raises stops training (hyperparameter tuning prunes trials this way).

    Memory: the dense encoder features ``(N, F)``, the sparse counts and graphs; each step
    holds the activations of at most about ``max_cells_per_step`` cells, densifies the counts
    of ``expression_batch_size`` cells and scores ``2 * edge_samples_per_node`` node pairs
    per cell of its (sub)graph.
    """
    n_cells = data.features.shape[0]
    if config.n_clusters != "auto" and config.n_clusters > n_cells:
        # Checked before pretraining, which would otherwise run for nothing.
        raise ValueError(
            f"training.n_clusters={config.n_clusters} exceeds the {n_cells} cells; lower it "
            "or use n_clusters: auto."
        )
    if initial_labels is not None:
        _check_initial_labels(initial_labels, n_cells, config)
    elif counts_clusters_on_knn(config) and data.knn_connectivities is None:
        raise ValueError(
            "n_clusters: auto with cluster_count_graph: knn counts the clusters on the "
            "UMAP-weighted kNN graph, but GraphData.knn_connectivities is None; pass the cell "
            "graph's knn_connectivities or set cluster_count_graph: ppmi."
        )
    keras.utils.set_random_seed(config.random_state)
    if config.deterministic_ops:
        # Multi-threaded CPU kernels otherwise sum in a varying order: on weakly structured
        # data a cell could change cluster between two runs of one seed (no measured cost).
        tf.config.experimental.enable_op_determinism()
    trainer = Trainer(data, config)
    model = GraphAutoencoder(
        n_genes=data.counts.shape[1],
        n_features=data.features.shape[1],
        hidden_units=config.hidden_units,
        latent_dim=config.latent_dim,
        decoder_units=config.decoder_units,
        dropout_rate=config.dropout_rate,
        likelihood=config.likelihood,
        normalize_edge_decoder=config.normalize_edge_decoder,
        n_batches=trainer.decoder_batches,
    )
    model.build()
    history: dict[str, list[float]] = {}

    step = trainer.make_step(model, config.pretrain_learning_rate, with_clustering=False)
    for epoch in _progress(config.pretrain_epochs, "pretraining"):
        losses = step(trainer.sample())
        _record(history, "pretrain", losses)
        _log_epoch("pretrain", epoch, config, losses)
        if on_epoch_end is not None:
            on_epoch_end("pretrain", epoch, {name: float(v) for name, v in losses.items()})

    latent = trainer.embed(model)
    if initial_labels is None:
        initial_labels = dec_start_partition(data, config)
        source = "Leiden estimate" if config.n_clusters == "auto" else "set by the user"
    else:
        initial_labels = np.unique(initial_labels, return_inverse=True)[1].ravel()
        source = "the partition given"
    n_clusters = int(np.unique(initial_labels).size)
    logger.info("Fine-tuning with %d clusters (%s).", n_clusters, source)
    centres = label_centroids(latent, initial_labels)
    model = model.with_clustering(centres)
    latent, soft_assignment = _finetune(
        model, trainer, config, history, initial_labels=initial_labels, on_epoch_end=on_epoch_end
    )
    return TrainingResult(
        model=model,
        latent=latent,
        soft_assignment=soft_assignment,
        initial_labels=initial_labels,
        history=history,
    )


def _check_initial_labels(labels: np.ndarray, n_cells: int, config: TrainingConfig) -> None:
    labels = np.asarray(labels)
    if labels.shape != (n_cells,):
        raise ValueError(
            f"initial_labels has shape {labels.shape}; it needs one label per cell ({n_cells},)."
        )
    found = np.unique(labels).size
    if found < 2:
        raise ValueError("initial_labels holds a single cluster; DEC needs at least 2.")
    if config.n_clusters not in ("auto", found):
        raise ValueError(
            f"initial_labels has {found} clusters but training.n_clusters is "
            f"{config.n_clusters}; set n_clusters to auto or {found}."
        )


def _finetune(
    model,
    trainer: Trainer,
    config: TrainingConfig,
    history: dict,
    *,
    initial_labels: np.ndarray,
    on_epoch_end=None,
) -> tuple[np.ndarray, np.ndarray]:
    """DEC fine-tuning; returns the final latent codes and soft assignments."""
    step = trainer.make_step(model, config.finetune_learning_rate, with_clustering=True)
    if config.start_target_epochs > 0:
        # The start is the first target, so no pass over all cells is needed before step 1.
        previous_labels = initial_labels
        target = partition_target(initial_labels, model.clustering.n_clusters)
    else:
        soft_assignment = model.soft_assign(trainer.embed(model)).numpy()
        previous_labels = soft_assignment.argmax(axis=1)
        target = target_distribution(soft_assignment, config.target_frequency_exponent)
    for epoch in _progress(config.finetune_epochs, "DEC fine-tuning"):
        if epoch > 0 and epoch % config.target_update_interval == 0:
            soft_assignment = model.soft_assign(trainer.embed(model)).numpy()
            labels = soft_assignment.argmax(axis=1)
            changed = float(np.mean(labels != previous_labels))
            previous_labels = labels
            history.setdefault("finetune_label_change", []).append(changed)
            # While the start partition is the target, DEC neither stops nor re-targets.
            if epoch >= config.start_target_epochs:
                if changed < config.label_change_tolerance:
                    logger.info(
                        "DEC converged at epoch %d: %.4f%% of cells changed.",
                        epoch,
                        100 * changed,
                    )
                    break
                target = target_distribution(soft_assignment, config.target_frequency_exponent)
        losses = step(trainer.sample(target))
        _record(history, "finetune", losses)
        _log_epoch("finetune", epoch, config, losses)
        if on_epoch_end is not None:
            on_epoch_end("finetune", epoch, {name: float(v) for name, v in losses.items()})
    latent = trainer.embed(model)
    return latent, model.soft_assign(latent).numpy()


def _log_epoch(phase: str, epoch: int, config: TrainingConfig, losses: dict) -> None:
    if (epoch + 1) % config.log_every == 0:
        summary = ", ".join(f"{name}={float(value):.4f}" for name, value in losses.items())
        logger.info("%s epoch %d: %s", phase, epoch + 1, summary)
