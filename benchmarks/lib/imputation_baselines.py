"""Comparison baselines of the imputation benchmark (not part of the product).

:func:`alra` re-implements ALRA (Linderman et al. 2022, Nat Commun 13:192; the authors'
``alra.R``): rank-k randomized SVD of the log-normalised matrix with k chosen by the
spectral gap (``choose_k``: last singular-value gap more than 6 s.d. above the mean of the
noise gaps), per-gene zeroing of values below the magnitude of the gene's 0.1% quantile,
rescaling of each gene's non-zeros to the mean and s.d. of its observed non-zeros, and
restoring observed values that the thresholding zeroed.

It takes and returns a dense cells x genes log-normalised matrix. MAGIC is not
re-implemented: the benchmark runs ``magic-impute`` 3.0 itself (the benchmark extra).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.extmath import randomized_svd


def choose_rank(log_data: np.ndarray, max_rank: int = 100, threshold: float = 6.0) -> int:
    """ALRA's ``choose_k``: the last large gap in the top ``max_rank`` singular values."""
    max_rank = min(max_rank, min(log_data.shape) - 1)
    _, singular_values, _ = randomized_svd(log_data, max_rank, n_iter=10, random_state=0)
    gaps = singular_values[:-1] - singular_values[1:]
    noise = gaps[int(0.8 * gaps.size) :]
    deviations = (gaps - noise.mean()) / max(noise.std(ddof=1), 1e-12)
    large = np.flatnonzero(deviations > threshold)
    return int(large.max() + 1) if large.size else 1


def alra(log_data: np.ndarray, rank: int | None = None, quantile: float = 0.001) -> np.ndarray:
    """ALRA imputation of a dense log-normalised matrix (cells x genes)."""
    rank = rank or choose_rank(log_data)
    left, singular_values, right = randomized_svd(log_data, rank, n_iter=10, random_state=0)
    low_rank = (left * singular_values) @ right
    thresholds = np.abs(np.quantile(low_rank, quantile, axis=0))
    low_rank[low_rank <= thresholds] = 0.0

    def nonzero_moments(matrix):
        mask = matrix > 0
        count = mask.sum(axis=0)
        mean = np.where(mask, matrix, 0).sum(axis=0) / np.maximum(count, 1)
        variance = np.where(mask, (matrix - mean) ** 2, 0).sum(axis=0) / np.maximum(count - 1, 1)
        return mean, np.sqrt(variance), count

    mean_low, sd_low, count_low = nonzero_moments(low_rank)
    mean_obs, sd_obs, count_obs = nonzero_moments(log_data)
    scalable = (count_low > 1) & (count_obs > 1) & (sd_low > 0)
    factor = np.where(scalable, sd_obs / np.where(sd_low > 0, sd_low, 1), 1.0)
    shift = np.where(scalable, mean_obs - mean_low * factor, 0.0)
    scaled = np.where(low_rank > 0, low_rank * factor + shift, 0.0)
    scaled[scaled < 0] = 0.0
    restore = (log_data > 0) & (scaled == 0)
    scaled[restore] = log_data[restore]
    return scaled.astype(np.float32)
