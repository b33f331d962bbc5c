"""Keras 3 layers of the graph autoencoder: graph convolution, bilinear edge decoder, DEC head.

Each layer mirrors its ``__init__`` arguments in ``get_config`` so that a saved ``.keras``
model reloads without custom-object arguments.
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.sparse as sp
import tensorflow as tf
from keras import ops

PACKAGE = "scimta"


def to_sparse_tensor(matrix: sp.spmatrix) -> tf.SparseTensor:
    """A scipy sparse matrix as a reordered ``tf.SparseTensor`` of float32."""
    coo = sp.coo_matrix(matrix)
    indices = np.column_stack([coo.row, coo.col]).astype(np.int64)
    tensor = tf.SparseTensor(indices, coo.data.astype(np.float32), coo.shape)
    return tf.sparse.reorder(tensor)


def _csr(adjacency: tf.SparseTensor):
    return tf.raw_ops.SparseTensorToCSRSparseMatrix(
        indices=adjacency.indices, values=adjacency.values, dense_shape=adjacency.dense_shape
    )


def adjacency_product(adjacency, dense, symmetric: bool = False):
    """``adjacency @ dense`` for a sparse or dense ``adjacency`` (rows x nodes).

    A ``tf.SparseTensor`` is multiplied with TensorFlow's CSR kernel, several times faster
    on CPU than ``tf.sparse.sparse_dense_matmul`` (6x at 20k cells, 72 entries per row,
    forward and backward); the adjacency is a constant, so the gradient flows to ``dense``
    only, as ``adjacency^T @ upstream``. The kernel's own ``transpose_a`` product sums each
    output row in an order that depends on the threads (one seed trained different weights
    from run to run), so the gradient multiplies by the transpose with the plain product:
    the adjacency itself when the caller knows it is ``symmetric`` (the whole normalised
    cell graph), else an explicit transpose (40 ms of a 70 ms step at 4k cells).
    """
    if not isinstance(adjacency, tf.SparseTensor):
        return ops.matmul(adjacency, dense)
    matrix = _csr(adjacency)

    @tf.custom_gradient
    def product(right):
        def gradient(upstream):
            transposed = (
                matrix if symmetric else _csr(tf.sparse.reorder(tf.sparse.transpose(adjacency)))
            )
            return tf.raw_ops.SparseMatrixMatMul(a=transposed, b=upstream)

        return tf.raw_ops.SparseMatrixMatMul(a=matrix, b=right), gradient

    return product(ops.convert_to_tensor(dense))


@keras.saving.register_keras_serializable(package=PACKAGE)
class GraphConvSkip(keras.layers.Layer):
    """Graph convolution with a skip connection: ``act(A X W + X W_skip + b)``.

    Inputs: ``[features, adjacency]`` with features ``(N, F)`` and a sparse or dense
    normalised adjacency ``(N, N)``. Output: ``(N, units)``. The skip term keeps each node's
    own signal separate from its neighbourhood average (spektral's ``GraphConvSkip``).
    """

    def __init__(
        self,
        units: int,
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: str = "glorot_uniform",
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.units = units
        # Set by the trainer when every step's adjacency is the whole symmetric cell graph:
        # the gradient then multiplies by the adjacency itself (adjacency_product).
        self.symmetric_adjacency = False
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape) -> None:
        n_features = input_shape[0][-1]
        self.kernel = self.add_weight(
            name="kernel", shape=(n_features, self.units), initializer=self.kernel_initializer
        )
        self.skip_kernel = self.add_weight(
            name="skip_kernel", shape=(n_features, self.units), initializer=self.kernel_initializer
        )
        self.bias = (
            self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
            if self.use_bias
            else None
        )

    def call(self, inputs):
        features, adjacency = inputs
        return self.propagate(features, adjacency, features)

    def propagate(self, features, adjacency, own_features):
        """Output for the rows of ``adjacency`` only.

        ``adjacency`` is ``(R, N)`` (some rows of the ``(N, N)`` matrix), ``features`` the
        ``(N, F)`` input of all nodes and ``own_features`` the ``(R, F)`` input of the R
        nodes; ``call`` is the case R = N. Row blocks bound the memory of inference on
        large graphs.
        """
        # A X W in the cheaper order: the sparse product then has min(F, units) columns.
        if features.shape[-1] is not None and features.shape[-1] < self.units:
            output = ops.matmul(
                adjacency_product(adjacency, features, self.symmetric_adjacency), self.kernel
            )
        else:
            output = adjacency_product(
                adjacency, ops.matmul(features, self.kernel), self.symmetric_adjacency
            )
        output = output + ops.matmul(own_features, self.skip_kernel)
        if self.bias is not None:
            output = output + self.bias
        return self.activation(output)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class BilinearEdgeDecoder(keras.layers.Layer):
    """Edge logits ``z_i^T W z_j`` for given node pairs.

    Inputs: ``[latent, pairs]`` with latent ``(N, d)`` and integer pairs ``(E, 2)``.
    Output: logits ``(E,)``. Only the requested pairs are scored, never all N x N.

    With ``normalize=True`` the codes are scaled to unit length first and the form gets a
    learned temperature and bias: the logits then do not depend on the latent's scale, which
    otherwise starts large and saturates the sigmoid, leaving the edge loss without gradient.
    """

    def __init__(self, normalize: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalize = normalize

    def build(self, input_shape) -> None:
        latent_dim = input_shape[0][-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(latent_dim, latent_dim),
            initializer="identity" if self.normalize else "glorot_uniform",
        )
        if self.normalize:
            self.log_temperature = self.add_weight(
                name="log_temperature", shape=(), initializer=keras.initializers.Constant(1.0)
            )
            self.bias = self.add_weight(name="bias", shape=(), initializer="zeros")

    def call(self, inputs):
        latent, pairs = inputs
        if self.normalize:
            latent = latent / (ops.norm(latent, axis=-1, keepdims=True) + 1e-8)
        sources = ops.take(latent, pairs[:, 0], axis=0)
        targets = ops.take(latent, pairs[:, 1], axis=0)
        logits = ops.sum(ops.matmul(sources, self.kernel) * targets, axis=-1)
        if self.normalize:
            logits = ops.exp(self.log_temperature) * logits + self.bias
        return logits

    def compute_output_shape(self, input_shape):
        return (input_shape[1][0],)

    def get_config(self) -> dict:
        return {**super().get_config(), "normalize": self.normalize}


@keras.saving.register_keras_serializable(package=PACKAGE)
class StudentTClustering(keras.layers.Layer):
    """DEC soft assignment: ``q_ij ∝ (1 + |z_i - mu_j|^2 / alpha)^(-(alpha + 1) / 2)``.

    Input: latent ``(N, d)``. Output: soft assignments ``(N, n_clusters)``, rows sum to one.
    The centres ``mu`` are trainable and are initialised with :meth:`set_centres`.
    """

    def __init__(self, n_clusters: int, alpha: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.n_clusters = n_clusters
        self.alpha = alpha

    def build(self, input_shape) -> None:
        self.centres = self.add_weight(
            name="centres", shape=(self.n_clusters, input_shape[-1]), initializer="glorot_uniform"
        )

    def set_centres(self, centres) -> None:
        self.centres.assign(ops.convert_to_tensor(centres, dtype=self.centres.dtype))

    def call(self, latent):
        squared_distance = ops.sum(
            ops.square(ops.expand_dims(latent, axis=1) - self.centres), axis=-1
        )
        kernel = ops.power(1.0 + squared_distance / self.alpha, -(self.alpha + 1.0) / 2.0)
        return kernel / ops.sum(kernel, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n_clusters)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_clusters": self.n_clusters, "alpha": self.alpha}
