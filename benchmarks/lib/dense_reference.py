"""DENSE REFERENCE, for benchmarking only: the published scIMTA's dense computation.

Not part of the product. It re-implements what the published code does at full size: a dense
N x N kNN graph, dense random surfing and PPMI (numpy matrix powers), a dense normalised
propagation matrix, and full-batch training whose edge loss reconstructs the whole N x N
graph (every pair scored each epoch) and whose count loss scores every cell each epoch. The
encoder, the decoders and the DEC head are the project's own layers, so the comparison with
``core.graphs`` + ``core.train`` isolates dense versus sparse/sampled computation.

:func:`published_clusters` is the **published method at its published settings**, for the
accuracy benchmark's k-given anchor: this dense computation with the 500 most variable genes,
z-scored, as the encoder input (and their counts for the count decoder), 1000 pretraining
and 300 clustering epochs, and DEC started from KMeans(k) on the latent space.

Memory: several N x N float32/float64 matrices (about 0.3-0.7 GB each at 9k cells).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from scimta_kedro.core.cluster import kmeans_labels, label_centroids, leiden_on_graph
from scimta_kedro.core.graphs import GraphConfig, knn_adjacency
from scimta_kedro.core.nn.likelihoods import (
    clustering_kl_loss,
    edge_reconstruction_loss,
    negative_binomial_nll,
    target_distribution,
)
from scimta_kedro.core.nn.model import GraphAutoencoder
from scimta_kedro.core.train import TrainingConfig


def dense_ppmi_graph(embedding: np.ndarray, config: GraphConfig) -> tuple[np.ndarray, np.ndarray]:
    """Dense PPMI weights and ``D^-1/2 (W + I) D^-1/2``, both N x N float32."""
    adjacency = knn_adjacency(embedding, config).toarray().astype(np.float64)
    n = adjacency.shape[0]
    transition = adjacency / np.maximum(adjacency.sum(axis=1, keepdims=True), 1e-12)
    alpha = 1.0 - config.restart_probability
    identity = np.eye(n)
    state, total = identity, np.zeros((n, n))
    for _ in range(config.surf_steps):
        state = alpha * state @ transition + (1.0 - alpha) * identity
        total += state
    np.fill_diagonal(total, 0.0)
    total /= np.maximum(total.sum(axis=1, keepdims=True), 1e-12)
    rows, columns = total.sum(axis=1, keepdims=True), total.sum(axis=0, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        pmi = np.log(total.sum() * total / (rows @ columns))
    pmi[~np.isfinite(pmi) | (pmi < 0)] = 0.0
    weights = (pmi + pmi.T) / 2.0
    normalised = weights + identity
    degree = normalised.sum(axis=1)
    normalised /= np.sqrt(np.outer(degree, degree))
    return weights.astype(np.float32), normalised.astype(np.float32)


def train_dense(
    features: np.ndarray,
    counts: np.ndarray,
    ppmi: np.ndarray,
    propagation: np.ndarray,
    config: TrainingConfig,
    *,
    n_clusters: int | None = None,
) -> np.ndarray:
    """Full-batch pretraining and DEC fine-tuning on dense matrices; returns cluster labels.

    DEC starts from KMeans on the latent space with ``n_clusters`` (``None``: as many as
    Leiden finds on the PPMI graph)."""
    keras.utils.set_random_seed(config.random_state)
    features = tf.constant(features, dtype=tf.float32)
    counts = tf.constant(counts, dtype=tf.float32)
    library = tf.reduce_sum(counts, axis=1, keepdims=True)
    adjacency = tf.constant(propagation)
    edge_labels = tf.constant((ppmi > 0).astype(np.float32))
    model = GraphAutoencoder(
        n_genes=counts.shape[1],
        n_features=features.shape[1],
        hidden_units=config.hidden_units,
        latent_dim=config.latent_dim,
        decoder_units=config.decoder_units,
        dropout_rate=config.dropout_rate,
    )
    model.build()

    def dense_edge_logits(latent):
        """The edge decoder's unit-code bilinear form on all N x N pairs at once."""
        decoder = model.edge_decoder
        units = latent / (tf.norm(latent, axis=1, keepdims=True) + 1e-8)
        scores = units @ decoder.kernel @ tf.transpose(units)
        return tf.exp(decoder.log_temperature) * scores + decoder.bias

    def make_step(learning_rate):
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

        @tf.function
        def step(target):
            with tf.GradientTape() as tape:
                latent = model.encode(features, adjacency, training=target is None)
                graph_loss = edge_reconstruction_loss(edge_labels, dense_edge_logits(latent))
                expression = model.decode_expression(latent, library)
                count_loss = tf.reduce_mean(
                    negative_binomial_nll(counts, expression["mean"], expression["dispersion"])
                )
                total = config.graph_loss_weight * graph_loss + count_loss
                if target is not None:
                    total += config.cluster_loss_weight * clustering_kl_loss(
                        target, model.soft_assign(latent)
                    )
            variables = model.trainable_variables
            optimizer.apply_gradients(zip(tape.gradient(total, variables), variables, strict=True))
            return total

        return step

    step = make_step(config.pretrain_learning_rate)
    for _ in tqdm(range(config.pretrain_epochs), desc="dense pretraining", mininterval=5):
        step(None)
    latent = model.encode(features, adjacency).numpy()
    if n_clusters is None:
        n_clusters = int(np.unique(leiden_on_graph(ppmi, random_state=config.random_state)).size)
    # The published method starts DEC from KMeans on the latent space.
    start = kmeans_labels(latent, n_clusters, config.random_state)
    model = model.with_clustering(label_centroids(latent, start))
    step = make_step(config.finetune_learning_rate)
    for epoch in tqdm(range(config.finetune_epochs), desc="dense DEC", mininterval=5):
        if epoch % config.target_update_interval == 0:
            soft = model.soft_assign(model.encode(features, adjacency)).numpy()
            target = tf.constant(target_distribution(soft), dtype=tf.float32)
        step(target)
    return model.soft_assign(model.encode(features, adjacency)).numpy().argmax(axis=1)


# The published settings (see the module docstring).
PUBLISHED_GENES = 500
PUBLISHED_PRETRAIN_EPOCHS = 1000
PUBLISHED_CLUSTERING_EPOCHS = 300


def published_clusters(cells, n_clusters: int, seed: int) -> np.ndarray:
    """The published method's clusters of preprocessed ``cells`` (the project's HVGs, with
    ``layers["log_normalized"]`` and ``layers["counts"]``, and ``obsm["X_pca"]``) at k given."""
    import scanpy as sc

    from scimta_kedro.core.keys import COUNTS_LAYER, LOG_LAYER, PCA

    ranked = cells.var["dispersions_norm"].to_numpy()
    genes = np.argsort(-np.nan_to_num(ranked, nan=-np.inf), kind="stable")[:PUBLISHED_GENES]
    features = sc.pp.scale(cells.layers[LOG_LAYER][:, genes].toarray())
    counts = cells.layers[COUNTS_LAYER][:, genes].toarray()
    ppmi, propagation = dense_ppmi_graph(cells.obsm[PCA], GraphConfig(random_state=seed))
    config = TrainingConfig(
        pretrain_epochs=PUBLISHED_PRETRAIN_EPOCHS,
        finetune_epochs=PUBLISHED_CLUSTERING_EPOCHS,
        random_state=seed,
    )
    return train_dense(
        features.astype(np.float32), counts, ppmi, propagation, config, n_clusters=n_clusters
    )
