"""One optimisation step: what a step sees (sampling) and how its losses combine."""

from __future__ import annotations

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from keras import ops

from ..batches import batch_one_hot
from ..nn.layers import to_sparse_tensor
from ..nn.likelihoods import (
    batch_mmd_penalty,
    clustering_kl_loss,
    edge_reconstruction_loss,
    negative_binomial_nll,
    zero_inflated_negative_binomial_nll,
)
from ..nn.model import GraphAutoencoder
from .config import TrainingConfig
from .data import GraphData
from .edges import EdgeSampler
from .subgraphs import Subgraph, SubgraphSampler, partition_cells

# Largest |A - A^T| of the propagation matrix taken as symmetric (float32 rounding of the
# symmetric normalisation is 4e-9).
SYMMETRY_TOLERANCE = 1e-6


def is_symmetric(matrix: sp.csr_matrix) -> bool:
    return not matrix.nnz or abs(matrix - matrix.T).max() <= SYMMETRY_TOLERANCE


class Trainer:
    """Samples each step's (sub)graph and counts batch, and builds the step that
    combines the edge, count, batch and clustering losses."""

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
        # Subgraph rows are rescaled (not symmetric); the whole normalised graph is.
        self.symmetric_adjacency = self.subgraphs.whole_graph_every_step and is_symmetric(
            self.connectivities
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
            "sampler": EdgeSampler(subgraph.edges, self.config.edge_samples_per_node, self.rng),
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
        # Adam's moment variables are made here, eagerly: made on the first call, inside the
        # trace, each variable's initialiser is lifted out of the graph, and the first steps
        # of the two phases took 3-5 s longer (docs/benchmarks.md). They start at zero
        # either way, so the latent space is the same to the bit.
        optimizer.build(model.trainable_variables)
        config = self.config
        model.use_symmetric_adjacency(self.symmetric_adjacency)

        # Subgraphs differ in size from step to step: one trace with unknown sizes serves all.
        # The step branches only on Python values, so autograph's source conversion (about
        # 1 s of each trace) is skipped.
        @tf.function(input_signature=[self.step_signature()], autograph=False)
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
