"""Training of the graph autoencoder: reconstruction pretraining, then DEC fine-tuning."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from keras import ops
from tqdm.auto import tqdm

from .cluster import label_centroids, leiden_on_graph
from .cluster_count import partition_with_cluster_count
from .graphs import PPMIGraph
from .layers import to_sparse_tensor
from .likelihoods import (
    batch_mmd_penalty,
    clustering_kl_loss,
    edge_reconstruction_loss,
    negative_binomial_nll,
    partition_target,
    target_distribution,
    zero_inflated_negative_binomial_nll,
)
from .model import GraphAutoencoder
from .subgraphs import Subgraph, SubgraphSampler, partition_cells

logger = logging.getLogger(__name__)


# Graphs whose Leiden count sets the number of clusters with n_clusters: auto.
CLUSTER_COUNT_GRAPHS = ("knn", "ppmi")


@dataclass(frozen=True)
class TrainingConfig:
    """Model shape, optimisation and clustering settings of :func:`train_graph_autoencoder`.

    ``n_clusters`` is an int or ``"auto"``: the number of Leiden clusters (at
    ``leiden_resolution``), found without labels, of the kNN graph weighted as scanpy
    weights it (``cluster_count_graph: knn``, :attr:`GraphData.knn_connectivities`) or of the
    PPMI cell graph the model reconstructs (``ppmi``). DEC starts from the PPMI graph's Leiden
    clusters either way, split or merged to that number.
    With batches (:attr:`GraphData.batches`), ``batch_conditioned_decoder`` feeds each cell's
    batch to the expression decoder and ``batch_penalty_weight`` weighs an MMD penalty on
    batch differences of the latent codes (0: off).

    Each epoch is one optimisation step. Graphs of up to ``max_cells_per_step`` cells train
    on the whole graph at every step (full batch); larger ones on a random Cluster-GCN
    subgraph of about that many cells (:mod:`scimta_kedro.core.subgraphs`), so a step's cost
    does not grow with the number of cells.

    For the first ``start_target_epochs`` of fine-tuning (rounded up to a target update)
    DEC's target is the start partition itself, label-smoothed
    (:func:`~scimta_kedro.core.likelihoods.partition_target`), instead of the sharpened soft
    assignment: the latent space first learns the partition DEC starts from, which its
    nearest-centre assignment otherwise loses part of at once (README: accuracy benchmark).
    0 starts with DEC's own target.
    """

    hidden_units: tuple[int, ...] = (128,)
    latent_dim: int = 15
    decoder_units: tuple[int, ...] = (128, 256, 512)
    dropout_rate: float = 0.2
    likelihood: str = "nb"
    normalize_edge_decoder: bool = True
    pretrain_epochs: int = 200
    pretrain_learning_rate: float = 1e-3
    finetune_epochs: int = 100
    finetune_learning_rate: float = 5e-4
    graph_loss_weight: float = 0.3
    expression_loss_weight: float = 1.0
    cluster_loss_weight: float = 1.5
    edge_samples_per_node: int = 5
    expression_batch_size: int = 1024
    target_update_interval: int = 10
    target_frequency_exponent: float = 0.5
    label_change_tolerance: float = 0.001
    start_target_epochs: int = 40
    batch_conditioned_decoder: bool = True
    batch_penalty_weight: float = 0.0
    max_cells_per_step: int = 20000
    n_clusters: int | str = "auto"
    leiden_resolution: float = 1.0
    cluster_count_graph: str = "knn"
    log_every: int = 25
    random_state: int = 0

    def __post_init__(self) -> None:
        # YAML gives lists; the frozen config keeps hashable tuples.
        for name in ("hidden_units", "decoder_units"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.n_clusters != "auto" and not (
            isinstance(self.n_clusters, int) and self.n_clusters >= 2
        ):
            raise ValueError(
                f"n_clusters must be 'auto' or an integer >= 2, got {self.n_clusters!r}."
            )
        exponent = self.target_frequency_exponent
        if not (isinstance(exponent, int | float) and np.isfinite(exponent) and exponent >= 0):
            raise ValueError(
                f"target_frequency_exponent must be a finite number >= 0 (0.5 by default, 1.0 "
                f"is DEC's target), got {exponent!r}."
            )
        if self.cluster_count_graph not in CLUSTER_COUNT_GRAPHS:
            raise ValueError(
                f"cluster_count_graph must be one of {CLUSTER_COUNT_GRAPHS}, got "
                f"{self.cluster_count_graph!r}."
            )
        minimums = {
            "pretrain_epochs": 1,
            "finetune_epochs": 0,
            "target_update_interval": 1,
            "max_cells_per_step": 2,
            "start_target_epochs": 0,
        }
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                raise ValueError(f"{name} must be at least {minimum}, got {getattr(self, name)}.")


@dataclass
class GraphData:
    """What the model trains on, for N cells and G genes.

    Attributes
    ----------
    features
        Encoder input ``(N, F)``: scaled log expression of the HVGs, or their PCA.
    counts
        Raw counts of the same genes ``(N, G)`` (sparse or dense).
    connectivities
        Normalised propagation matrix ``(N, N)``, sparse.
    edges
        Weighted graph whose non-zeros are the edges to reconstruct ``(N, N)``, sparse.
    batches
        Batch of each cell ``(N,)`` (any labels), or ``None`` when there is one batch.
    knn_connectivities
        The UMAP-weighted kNN graph ``(N, N)`` (``PPMIGraph.knn_connectivities``), whose
        Leiden clusters count the clusters with ``n_clusters: auto`` and
        ``cluster_count_graph: knn``; ``None`` when not needed.
    """

    features: np.ndarray
    counts: sp.spmatrix | np.ndarray
    connectivities: sp.spmatrix
    edges: sp.spmatrix
    batches: np.ndarray | None = None
    knn_connectivities: sp.spmatrix | None = None

    @classmethod
    def from_graph(
        cls,
        features: np.ndarray,
        counts: sp.spmatrix | np.ndarray,
        graph: PPMIGraph,
        batches: np.ndarray | None = None,
    ) -> GraphData:
        """The cells' ``features`` and ``counts`` with every graph of :class:`PPMIGraph`."""
        return cls(
            features=features,
            counts=counts,
            connectivities=graph.connectivities,
            edges=graph.ppmi,
            batches=batches,
            knn_connectivities=graph.knn_connectivities,
        )

    def __post_init__(self) -> None:
        n_cells = self.features.shape[0]
        shapes = {
            "counts": self.counts.shape[0],
            "connectivities": self.connectivities.shape[0],
            "edges": self.edges.shape[0],
        }
        if self.batches is not None:
            shapes["batches"] = len(self.batches)
        if self.knn_connectivities is not None:
            shapes["knn_connectivities"] = self.knn_connectivities.shape[0]
        mismatched = {name: n for name, n in shapes.items() if n != n_cells}
        if mismatched:
            raise ValueError(
                f"features have {n_cells} cells but {mismatched}; build the graph and the "
                "features from the same preprocessed cells."
            )


@dataclass
class TrainingResult:
    """A trained model and what it says about the cells."""

    model: GraphAutoencoder
    latent: np.ndarray
    soft_assignment: np.ndarray
    initial_labels: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)


class _EdgeSampler:
    """Draws observed edges and the same number of uniformly random node pairs each epoch."""

    def __init__(self, edges: sp.spmatrix, samples_per_node: int, rng: np.random.Generator):
        upper = sp.triu(edges, k=1).tocoo()
        self._positives = np.column_stack([upper.row, upper.col]).astype(np.int32)
        if self._positives.shape[0] == 0:
            raise ValueError("the cell graph has no edges to reconstruct.")
        self._n_nodes = edges.shape[0]
        self._n_samples = min(self._positives.shape[0], samples_per_node * self._n_nodes)
        self._rng = rng

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        chosen = self._rng.choice(self._positives.shape[0], self._n_samples, replace=False)
        negatives = self._rng.integers(0, self._n_nodes, size=(self._n_samples, 2), dtype=np.int32)
        pairs = np.concatenate([self._positives[chosen], negatives])
        labels = np.concatenate([np.ones(self._n_samples), np.zeros(self._n_samples)])
        return pairs, labels.astype(np.float32)


class _Trainer:
    def __init__(self, data: GraphData, config: TrainingConfig):
        self.config = config
        self.features = np.asarray(data.features, dtype=np.float32)
        # Counts stay sparse; each step densifies only its batch of cells.
        self.counts = sp.csr_matrix(data.counts, dtype=np.float32)
        self.library_size = np.asarray(self.counts.sum(axis=1), dtype=np.float32)
        self.connectivities = sp.csr_matrix(data.connectivities)
        self.rng = np.random.default_rng(config.random_state)
        self.n_cells = data.features.shape[0]
        parts = partition_cells(self.features, config.max_cells_per_step, config.random_state)
        self.subgraphs = SubgraphSampler(
            data.connectivities, data.edges, parts, config.max_cells_per_step, self.rng
        )
        # Below max_cells_per_step every step gets the same (whole) graph: built once.
        self._last_graph: tuple[Subgraph, dict] | None = None
        self.batch_one_hot = (
            batch_one_hot(data.batches)
            if data.batches is not None
            else np.zeros((self.n_cells, 0), dtype=np.float32)
        )
        self.batch_penalty = config.batch_penalty_weight > 0 and self.batch_one_hot.shape[1] > 1

    @property
    def decoder_batches(self) -> int:
        """Width of the batch input of the expression decoder (0: not conditioned)."""
        return self.batch_one_hot.shape[1] if self.config.batch_conditioned_decoder else 0

    def sample(self, target: np.ndarray | None = None) -> dict:
        """This step's graph, node pairs with edge labels, and a batch of cells with counts.

        Keys: ``features`` and ``adjacency`` of the step's (sub)graph, ``pairs`` (E x 2) and
        ``labels`` (E,) within it, ``cells`` (indices of the counts batch within it),
        ``counts`` (dense batch x genes), ``library_size`` (batch x 1), ``batch`` (one-hot
        batch of the cells, batch x n_batches, zero columns without batches) and ``target``
        (the DEC target rows of the (sub)graph's cells, 0 x 0 when ``target`` is ``None``).
        """
        subgraph, graph = self._step_graph()
        pairs, labels = graph["sampler"].sample()
        members = subgraph.cells
        batch_size = min(self.config.expression_batch_size, members.size)
        cells = np.sort(self.rng.choice(members.size, batch_size, replace=False)).astype(np.int32)
        rows = members[cells]
        target = np.zeros((0, 0)) if target is None else np.asarray(target)[members]
        return {
            "features": graph["features"],
            "adjacency": graph["adjacency"],
            "pairs": pairs,
            "labels": labels,
            "cells": cells,
            "counts": self.counts[rows].toarray(),
            "library_size": self.library_size[rows],
            "batch": self.batch_one_hot[rows],
            "target": target.astype(np.float32),
        }

    def _step_graph(self) -> tuple[Subgraph, dict]:
        """This step's subgraph with its encoder input, adjacency tensor and edge sampler."""
        subgraph = self.subgraphs.sample()
        if self._last_graph is not None and self._last_graph[0] is subgraph:
            return self._last_graph
        graph = {
            "features": tf.constant(self.features[subgraph.cells]),
            "adjacency": to_sparse_tensor(subgraph.connectivities),
            "sampler": _EdgeSampler(subgraph.edges, self.config.edge_samples_per_node, self.rng),
        }
        self._last_graph = (subgraph, graph)
        return self._last_graph

    def step_signature(self) -> dict:
        """Shapes and types of :meth:`sample`'s output, with the numbers of cells unknown."""

        def floats(*shape):
            return tf.TensorSpec(shape, tf.float32)

        return {
            "features": floats(None, self.features.shape[1]),
            "adjacency": tf.SparseTensorSpec([None, None], tf.float32),
            "pairs": tf.TensorSpec([None, 2], tf.int32),
            "labels": floats(None),
            "cells": tf.TensorSpec([None], tf.int32),
            "counts": floats(None, self.counts.shape[1]),
            "library_size": floats(None, 1),
            "batch": floats(None, self.batch_one_hot.shape[1]),
            "target": floats(None, None),
        }

    def losses(self, model: GraphAutoencoder, batch: dict, training: bool) -> dict:
        latent = model.encode(batch["features"], batch["adjacency"], training=training)
        # The graph convolution needs every cell; the count likelihood only a batch of them.
        counts = batch["counts"]
        expression = model.decode_expression(
            tf.gather(latent, batch["cells"]), batch["library_size"], batch["batch"]
        )
        if model.likelihood == "zinb":
            nll = zero_inflated_negative_binomial_nll(
                counts,
                expression["mean"],
                expression["dispersion"],
                expression["dropout_logits"],
            )
        else:
            nll = negative_binomial_nll(counts, expression["mean"], expression["dispersion"])
        graph_loss = edge_reconstruction_loss(
            batch["labels"], model.score_edges(latent, batch["pairs"])
        )
        parts = {"latent": latent, "graph_loss": graph_loss, "expression_loss": ops.mean(nll)}
        if self.batch_penalty:
            parts["batch_loss"] = batch_mmd_penalty(
                tf.gather(latent, batch["cells"]), batch["batch"]
            )
        return parts

    def make_step(self, model: GraphAutoencoder, learning_rate: float, with_clustering: bool):
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        config = self.config

        # Subgraphs differ in size from step to step: one trace with unknown sizes serves all.
        @tf.function(input_signature=[self.step_signature()])
        def step(batch):
            with tf.GradientTape() as tape:
                # Dropout denoises pretraining only; DEC needs stable soft assignments.
                parts = self.losses(model, batch, training=not with_clustering)
                total = (
                    config.graph_loss_weight * parts["graph_loss"]
                    + config.expression_loss_weight * parts["expression_loss"]
                )
                if "batch_loss" in parts:
                    total = total + config.batch_penalty_weight * parts["batch_loss"]
                if with_clustering:
                    parts["cluster_loss"] = clustering_kl_loss(
                        batch["target"], model.soft_assign(parts["latent"])
                    )
                    total = total + config.cluster_loss_weight * parts["cluster_loss"]
            variables = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
            parts.pop("latent")
            return {"total_loss": total, **parts}

        return step

    def embed(self, model: GraphAutoencoder) -> np.ndarray:
        """Latent codes of all cells (inference on the whole graph)."""
        return model.encode_in_row_blocks(self.features, self.connectivities)


def batch_one_hot(batches: np.ndarray) -> np.ndarray:
    """One-hot ``(N, n_batches)`` float32 of batch labels, columns in sorted label order."""
    _, codes = np.unique(np.asarray(batches), return_inverse=True)
    return np.eye(codes.max() + 1, dtype=np.float32)[codes]


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
    trainer = _Trainer(data, config)
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


def counts_clusters_on_knn(config: TrainingConfig) -> bool:
    """Whether the number of clusters is Leiden's count on the UMAP-weighted kNN graph."""
    return config.n_clusters == "auto" and config.cluster_count_graph == "knn"


def dec_start_partition(data: GraphData, config: TrainingConfig) -> np.ndarray:
    """The partition whose latent centroids start DEC: Leiden on the PPMI cell graph, brought
    to the number of clusters (``config.n_clusters``, or for ``"auto"`` Leiden's count on
    ``config.cluster_count_graph``). Needs no training; benchmarks score it directly.

    Leiden on the kNN graph of a continuous latent space splits it into many more clusters
    than there are cell groups, and KMeans would cut the large cell types of imbalanced data
    into equal parts (DESC starts from Louvain for the same reason). With a number of
    clusters, given or counted on the kNN graph, the Leiden clusters are split or merged to
    it (core/cluster_count.py), which keeps the large types Leiden keeps whole. Random
    surfing joins each cell's neighbourhood to its neighbours', so Leiden finds fewer
    clusters on the PPMI graph than on the kNN graph at the same resolution; its partition
    split to the kNN graph's count scores as high as its own (README: accuracy benchmark).
    """
    logger.info(
        "Leiden on the cell graph (%d cells, %d stored edges).",
        data.edges.shape[0],
        data.edges.nnz,
    )
    labels = leiden_on_graph(
        data.edges, resolution=config.leiden_resolution, random_state=config.random_state
    )
    found = int(np.unique(labels).size)
    if config.n_clusters != "auto":
        n_clusters, counted_on = config.n_clusters, None
    elif counts_clusters_on_knn(config):
        counted_on = "kNN graph"
        n_clusters = int(
            np.unique(
                leiden_on_graph(
                    data.knn_connectivities,
                    resolution=config.leiden_resolution,
                    random_state=config.random_state,
                )
            ).size
        )
        logger.info("Leiden finds %d clusters on the kNN graph.", n_clusters)
    else:
        n_clusters, counted_on = found, "cell graph"
    if counted_on is not None and n_clusters < 2:
        raise ValueError(
            f"Leiden found a single cluster in the {counted_on}; raise "
            "training.leiden_resolution or set training.n_clusters explicitly."
        )
    if found != n_clusters:
        logger.info(
            "Leiden found %d clusters in the PPMI graph; %s to %d.",
            found,
            "splitting" if found < n_clusters else "merging",
            n_clusters,
        )
    return partition_with_cluster_count(
        labels,
        n_clusters,
        features=data.features,
        adjacency=data.edges,
        random_state=config.random_state,
    )


def _finetune(
    model,
    trainer: _Trainer,
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
