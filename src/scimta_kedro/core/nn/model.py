"""The scIMTA graph autoencoder as a Keras 3 model.

Encoder: input dropout, then graph convolutions with skip connections to a small latent
space. Decoders: a bilinear edge decoder that scores node pairs, and an expression decoder
that gives the mean (and dispersion, and for ZINB the dropout logits) of each cell's raw
counts given its latent code and library size. An optional DEC head gives Student-t soft
assignments to cluster centres.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import scipy.sparse as sp
from keras import ops

from ..train.config import LIKELIHOODS
from .layers import (
    PACKAGE,
    BilinearEdgeDecoder,
    GraphConvSkip,
    StudentTClustering,
    to_sparse_tensor,
)


@keras.saving.register_keras_serializable(package=PACKAGE)
class GraphAutoencoder(keras.Model):
    """Graph autoencoder with an edge decoder, a count decoder and an optional DEC head.

    Parameters
    ----------
    n_genes
        Number of modelled genes (the HVGs) of the expression decoder.
    hidden_units
        Widths of the hidden graph convolutions.
    latent_dim
        Size of the latent space.
    decoder_units
        Widths of the expression decoder's hidden layers.
    dropout_rate
        Dropout on the encoder input during training.
    likelihood
        ``"nb"`` (negative binomial) or ``"zinb"`` (zero-inflated NB) for the counts.
    n_clusters
        Number of DEC centres; ``None`` builds the model without a clustering head.
    n_features
        Width of the encoder input; ``None`` means ``n_genes`` (the encoder reads the genes).
    normalize_edge_decoder
        Score edges on unit-length codes with a learned temperature (see
        :class:`BilinearEdgeDecoder`); ``False`` gives the plain bilinear form.
    n_batches
        Number of batches the expression decoder is conditioned on (0: none). The decoder
        then reads ``[latent, one-hot batch]``, so the count model explains the batch's
        effect on expression and the latent need not encode it (as in scVI).

    Call: ``model([features, adjacency])`` with features ``(N, n_features)`` and a (sparse)
    normalised adjacency ``(N, N)`` returns the latent ``(N, latent_dim)``.
    """

    def __init__(
        self,
        n_genes: int,
        *,
        hidden_units: Sequence[int] = (128,),
        latent_dim: int = 15,
        decoder_units: Sequence[int] = (128, 256, 512),
        dropout_rate: float = 0.2,
        likelihood: str = "nb",
        n_clusters: int | None = None,
        n_features: int | None = None,
        normalize_edge_decoder: bool = True,
        n_batches: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got '{likelihood}'.")
        self.n_genes = n_genes
        self.hidden_units = tuple(hidden_units)
        self.latent_dim = latent_dim
        self.decoder_units = tuple(decoder_units)
        self.dropout_rate = dropout_rate
        self.likelihood = likelihood
        self.n_clusters = n_clusters
        self.n_features = n_features or n_genes
        self.normalize_edge_decoder = normalize_edge_decoder
        self.n_batches = n_batches

        self.input_dropout = keras.layers.Dropout(dropout_rate, name="input_dropout")
        self.graph_convolutions = [
            GraphConvSkip(units, activation="relu", name=f"graph_conv_{index}")
            for index, units in enumerate(self.hidden_units)
        ]
        self.latent_convolution = GraphConvSkip(latent_dim, name="latent")
        self.edge_decoder = BilinearEdgeDecoder(
            normalize=normalize_edge_decoder, name="edge_decoder"
        )
        self.expression_hidden = [
            keras.layers.Dense(units, activation="relu", name=f"expression_hidden_{index}")
            for index, units in enumerate(self.decoder_units)
        ]
        self.gene_logits = keras.layers.Dense(n_genes, name="gene_logits")
        self.dropout_logits = (
            keras.layers.Dense(n_genes, name="dropout_logits") if likelihood == "zinb" else None
        )
        self.clustering = StudentTClustering(n_clusters, name="clustering") if n_clusters else None

    def build(self, input_shape=None) -> None:
        adjacency_shape = (None, None)
        width = self.n_features
        for convolution in self.graph_convolutions:
            convolution.build([(None, width), adjacency_shape])
            width = convolution.units
        self.latent_convolution.build([(None, width), adjacency_shape])
        latent_shape = (None, self.latent_dim)
        self.edge_decoder.build([latent_shape, (None, 2)])
        width = self.latent_dim + self.n_batches
        for dense in self.expression_hidden:
            dense.build((None, width))
            width = dense.units
        self.gene_logits.build((None, width))
        if self.dropout_logits is not None:
            self.dropout_logits.build((None, width))
        if self.clustering is not None:
            self.clustering.build(latent_shape)
        self.log_dispersion = self.add_weight(
            name="log_dispersion", shape=(self.n_genes,), initializer="zeros"
        )
        self.built = True

    def use_symmetric_adjacency(self, symmetric: bool) -> None:
        """Tell the graph convolutions whether the adjacency they train on is symmetric, so
        their gradient can multiply by it in place of its transpose (layers.adjacency_product).
        Set before a training step is traced."""
        for convolution in [*self.graph_convolutions, self.latent_convolution]:
            convolution.symmetric_adjacency = symmetric

    def encode(self, features, adjacency, training: bool = False):
        """Latent codes ``(N, latent_dim)`` of all nodes."""
        hidden = self.input_dropout(features, training=training)
        for convolution in self.graph_convolutions:
            hidden = convolution([hidden, adjacency])
        return self.latent_convolution([hidden, adjacency])

    def encode_in_row_blocks(self, features, adjacency, block_size: int = 65536):
        """Latent codes of all nodes, computed ``block_size`` adjacency rows at a time.

        Same result as :meth:`encode` (inference), for a scipy sparse ``adjacency``; the
        memory is that of a ``block_size`` slice of the adjacency instead of all of it.
        """
        adjacency = sp.csr_matrix(adjacency)
        hidden = np.asarray(features, dtype=np.float32)
        for convolution in [*self.graph_convolutions, self.latent_convolution]:
            blocks = []
            for start in range(0, hidden.shape[0], block_size):
                stop = min(start + block_size, hidden.shape[0])
                rows = to_sparse_tensor(adjacency[start:stop])
                output = convolution.propagate(hidden, rows, hidden[start:stop])
                blocks.append(ops.convert_to_numpy(output))
            hidden = np.concatenate(blocks)
        return hidden

    def decode_expression(self, latent, library_size, batch=None) -> dict:
        """Count distribution parameters given latent codes and library sizes ``(N, 1)``.

        ``batch`` is the one-hot batch ``(N, n_batches)`` of each cell; required when the
        model was built with ``n_batches > 0``, ignored otherwise.

        Returns a dict with ``mean`` ``(N, G)``, ``dispersion`` ``(G,)`` and, for ZINB,
        ``dropout_logits`` ``(N, G)``.
        """
        hidden = latent
        if self.n_batches:
            if batch is None:
                raise ValueError(
                    f"this model's decoder is conditioned on {self.n_batches} batches; pass "
                    "each cell's one-hot batch."
                )
            latent = ops.convert_to_tensor(latent)
            hidden = ops.concatenate([latent, ops.cast(batch, latent.dtype)], axis=-1)
        for dense in self.expression_hidden:
            hidden = dense(hidden)
        proportions = ops.softmax(self.gene_logits(hidden), axis=-1)
        parameters = {
            "mean": proportions * library_size,
            "dispersion": ops.exp(self.log_dispersion),
        }
        if self.dropout_logits is not None:
            parameters["dropout_logits"] = self.dropout_logits(hidden)
        return parameters

    def score_edges(self, latent, pairs):
        """Edge logits ``(E,)`` for integer node pairs ``(E, 2)``."""
        return self.edge_decoder([latent, pairs])

    def soft_assign(self, latent):
        """DEC soft assignments ``(N, n_clusters)``; needs a model built with ``n_clusters``."""
        if self.clustering is None:
            raise ValueError("this model has no clustering head; use with_clustering() first.")
        return self.clustering(latent)

    def call(self, inputs, training: bool = False):
        features, adjacency = inputs
        return self.encode(features, adjacency, training=training)

    def with_clustering(self, centres) -> GraphAutoencoder:
        """A copy of this (trained) model with a DEC head initialised at ``centres``.

        Parameters
        ----------
        centres
            Initial cluster centres ``(n_clusters, latent_dim)``.
        """
        config = {**self.get_config(), "n_clusters": int(centres.shape[0])}
        clustered = GraphAutoencoder.from_config(config)
        clustered.build()
        for source, target in zip(self._parts(), clustered._parts(), strict=True):
            target.set_weights(source.get_weights())
        clustered.log_dispersion.assign(self.log_dispersion)
        clustered.clustering.set_centres(centres)
        return clustered

    def _parts(self) -> list[keras.layers.Layer]:
        parts = [*self.graph_convolutions, self.latent_convolution, self.edge_decoder]
        parts += [*self.expression_hidden, self.gene_logits]
        return parts + ([self.dropout_logits] if self.dropout_logits is not None else [])

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "n_genes": self.n_genes,
            "hidden_units": list(self.hidden_units),
            "latent_dim": self.latent_dim,
            "decoder_units": list(self.decoder_units),
            "dropout_rate": self.dropout_rate,
            "likelihood": self.likelihood,
            "n_clusters": self.n_clusters,
            "n_features": self.n_features,
            "normalize_edge_decoder": self.normalize_edge_decoder,
            "n_batches": self.n_batches,
        }
