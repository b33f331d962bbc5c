"""Count likelihoods and the losses of the graph autoencoder.

Written with ``keras.ops``; ``lgamma`` comes from TensorFlow because ``keras.ops`` has none.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

_EPSILON = 1e-8


def negative_binomial_nll(counts, mean, dispersion):
    """Elementwise negative log-likelihood of counts under NB(mean, inverse dispersion).

    Parameters
    ----------
    counts
        Observed counts ``(N, G)``.
    mean
        Expected counts ``(N, G)``, positive.
    dispersion
        Inverse dispersion ``theta`` per gene ``(G,)``: variance = mean + mean^2 / theta.
    """
    theta = dispersion
    log_theta_mean = ops.log(theta + mean + _EPSILON)
    log_likelihood = (
        tf.math.lgamma(counts + theta)
        - tf.math.lgamma(theta)
        - tf.math.lgamma(counts + 1.0)
        + theta * (ops.log(theta + _EPSILON) - log_theta_mean)
        + counts * (ops.log(mean + _EPSILON) - log_theta_mean)
    )
    return -log_likelihood


def zero_inflated_negative_binomial_nll(counts, mean, dispersion, dropout_logits):
    """Elementwise negative log-likelihood under a zero-inflated NB (dropout ``sigmoid(logits)``)."""
    nb_nll = negative_binomial_nll(counts, mean, dispersion)
    # log P(0) under NB = theta * log(theta / (theta + mean)).
    nb_zero_log_prob = dispersion * (
        ops.log(dispersion + _EPSILON) - ops.log(dispersion + mean + _EPSILON)
    )
    log_dropout = -ops.softplus(-dropout_logits)
    log_no_dropout = -ops.softplus(dropout_logits)
    zero_nll = -ops.logaddexp(log_dropout, log_no_dropout + nb_zero_log_prob)
    non_zero_nll = nb_nll - log_no_dropout
    return ops.where(counts < 0.5, zero_nll, non_zero_nll)


def edge_reconstruction_loss(labels, logits):
    """Mean binary cross-entropy of edge logits against 0/1 edge labels."""
    return ops.mean(
        ops.maximum(logits, 0.0) - logits * labels + ops.log1p(ops.exp(-ops.abs(logits)))
    )


def target_distribution(soft_assignment, frequency_exponent: float = 1.0):
    """DEC's sharpened target: ``p_ij ∝ q_ij^2 / f_j^a`` with cluster frequencies ``f_j``.

    ``a = 1`` is DEC's target. Dividing by the frequency pulls cells towards small clusters,
    so on imbalanced data a cluster of a few cells can grow into a large neighbouring type;
    ``a < 1`` weakens that pull (``a = 0``: no frequency term).
    """
    weight = ops.square(soft_assignment) / ops.power(
        ops.sum(soft_assignment, axis=0), frequency_exponent
    )
    return weight / ops.sum(weight, axis=1, keepdims=True)


# Share of each cell's target spread evenly over all clusters: the start's target stays soft,
# as DEC's own is, so a cell the start misplaced is not pulled into that cluster with full
# weight (hard 0/1 targets measured within 0.002 of it on real data: docs/benchmarks.md).
PARTITION_TARGET_SMOOTHING = 0.1


def partition_target(labels: np.ndarray, n_clusters: int) -> np.ndarray:
    """A target ``(N, n_clusters)`` for the DEC loss from a partition ``labels``
    (codes ``0..n_clusters-1``): one-hot, label-smoothed by
    :data:`PARTITION_TARGET_SMOOTHING`."""
    target = np.full(
        (labels.shape[0], n_clusters), PARTITION_TARGET_SMOOTHING / n_clusters, np.float32
    )
    target[np.arange(labels.shape[0]), labels] += 1.0 - PARTITION_TARGET_SMOOTHING
    return target


def clustering_kl_loss(target, soft_assignment):
    """``KL(P || Q)`` averaged over cells."""
    return ops.mean(
        ops.sum(target * (ops.log(target + _EPSILON) - ops.log(soft_assignment + _EPSILON)), axis=1)
    )


# Kernel widths, as multiples of the batch's mean squared distance (scale-free MMD).
_MMD_BANDWIDTHS = (0.25, 1.0, 4.0)


def batch_mmd_penalty(latent, batch_one_hot):
    """Mean over batches of the squared MMD between a batch's codes and the other cells'.

    Gaussian kernels at several widths relative to the mean squared distance of the codes
    (held constant in the gradient), so the penalty does not shrink by shrinking the latent.
    Zero when every batch's codes are distributed like the rest (Gretton et al. 2012).

    Parameters
    ----------
    latent
        Codes of a sample of cells ``(N, d)``.
    batch_one_hot
        Their one-hot batches ``(N, B)``; batches absent from the sample are skipped.
    """
    squared_norms = ops.sum(ops.square(latent), axis=1, keepdims=True)
    distances = ops.maximum(
        squared_norms
        + ops.transpose(squared_norms)
        - 2.0 * ops.matmul(latent, ops.transpose(latent)),
        0.0,
    )
    scale = ops.stop_gradient(ops.mean(distances)) + _EPSILON
    kernel = sum(ops.exp(-distances / (width * scale)) for width in _MMD_BANDWIDTHS)
    inside = ops.cast(batch_one_hot, latent.dtype)
    outside = 1.0 - inside
    present = ops.sum(inside, axis=0) > 0.5
    inside = inside / ops.maximum(ops.sum(inside, axis=0), 1.0)
    outside = outside / ops.maximum(ops.sum(outside, axis=0), 1.0)
    kernel_inside = ops.matmul(kernel, inside)
    kernel_outside = ops.matmul(kernel, outside)
    mmd = (
        ops.sum(inside * kernel_inside, axis=0)
        + ops.sum(outside * kernel_outside, axis=0)
        - 2.0 * ops.sum(inside * kernel_outside, axis=0)
    )
    present = ops.cast(present, latent.dtype)
    return ops.sum(mmd * present) / ops.maximum(ops.sum(present), 1.0)
