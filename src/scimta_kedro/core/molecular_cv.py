"""Molecular cross-validation of a denoised count matrix (Batson, Royer & Webber 2019).

Every molecule a cell's count holds is assigned to a training part with probability
``1 - held_out_fraction`` and to a held-out part otherwise (a binomial split of each count).
Under Poisson capture the two parts are independent draws of the same cell's expression, so
an imputer run on the training part alone can be scored against the held-out part on every
entry, zeros included, without any ground truth:

* **Poisson deviance** of the held-out counts given the imputer's expected counts, rescaled
  from the training depth to the held-out depth (``held_out_fraction / (1 -
  held_out_fraction)``). An expected count of exactly zero where molecules were held out
  would make it infinite; expectations are floored at ``MIN_EXPECTED_COUNT``.
* **MSE on the log-normalised scale**: ``log1p(target_sum * y / n)`` of the held-out counts
  ``y`` (``n``: the cell's held-out library size) against the imputer's expectation of that
  same quantity under Poisson(expected count), as in the paper's ``convert_expectations``.
  ``log1p`` of the mean would be biased upwards at low counts (Jensen), which would punish a
  good mean estimate.

Both are means over all entries; lower is better, and a constant share of either is the
held-out part's own sampling noise, the same for every imputer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Floor of an expected held-out count in the deviance: a zero prediction where one
# molecule was held out costs 2 * log(1 / 1e-4) = 18.4, about what 18 missed molecules do.
MIN_EXPECTED_COUNT = 1e-4
# Poisson means above this use the second-order delta approximation of E[log1p(s * Y)];
# below it the sum over 0..POISSON_TERMS - 1 leaves a tail under 1e-9.
_DELTA_ABOVE = 20.0
_POISSON_TERMS = 70


def split_molecules(
    counts: sp.spmatrix, held_out_fraction: float = 0.1, seed: int = 0
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Binomially split integer counts into ``(training, held_out)`` parts, both CSR."""
    if not 0.0 < held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must lie in (0, 1), got {held_out_fraction}.")
    counts = sp.csr_matrix(counts, copy=True)
    counts.sum_duplicates()
    values = counts.data
    if values.size and (values.min() < 0 or not np.all(values == np.round(values))):
        raise ValueError(
            "molecular cross-validation splits raw counts: the matrix has negative or "
            "non-integer values. Pass layers['counts'], not a normalised matrix."
        )
    rng = np.random.default_rng(seed)
    held_values = rng.binomial(values.astype(np.int64), held_out_fraction).astype(np.float32)
    # Each part gets its own index arrays: eliminate_zeros rewrites them in place.
    held_out = sp.csr_matrix(
        (held_values, counts.indices.copy(), counts.indptr.copy()), shape=counts.shape
    )
    training = sp.csr_matrix(
        (values.astype(np.float32) - held_values, counts.indices.copy(), counts.indptr.copy()),
        shape=counts.shape,
    )
    training.eliminate_zeros()
    held_out.eliminate_zeros()
    return training, held_out


def expected_counts(
    log_normalized: np.ndarray, library_size: np.ndarray, target_sum: float
) -> np.ndarray:
    """Counts at each cell's ``library_size`` from ``log1p(target_sum * count / library)``."""
    return np.expm1(np.asarray(log_normalized, dtype=np.float64)) * (
        np.asarray(library_size, dtype=np.float64)[:, None] / target_sum
    )


def expected_log1p(mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``E[log1p(scale * Y)]`` for ``Y ~ Poisson(mean)``, elementwise (``scale`` per row)."""
    mean = np.asarray(mean, dtype=np.float64)
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), mean.shape)
    result = np.empty_like(mean)
    large = mean > _DELTA_ABOVE
    scaled = scale[large] * mean[large]
    result[large] = np.log1p(scaled) - scale[large] ** 2 * mean[large] / (2 * (1 + scaled) ** 2)
    small_mean, small_scale = mean[~large], scale[~large]
    probability = np.exp(-small_mean)
    total = np.zeros_like(small_mean)
    for count in range(1, _POISSON_TERMS):
        probability = probability * small_mean / count
        total += probability * np.log1p(small_scale * count)
    result[~large] = total
    return result


def held_out_scores(
    training_counts_expected: np.ndarray,
    held_out: sp.spmatrix,
    *,
    held_out_fraction: float,
    target_sum: float = 1e4,
    batch_size: int = 1024,
) -> dict[str, float]:
    """Poisson deviance and log-scale MSE of held-out counts over all entries.

    Parameters
    ----------
    training_counts_expected
        The imputer's expected counts of every entry at the training part's depth
        ``(n_cells, n_genes)`` (:func:`expected_counts` turns a log-normalised matrix into
        them).
    held_out
        The held-out part of :func:`split_molecules`.
    held_out_fraction
        The fraction the split held out.
    """
    held_out = sp.csr_matrix(held_out, dtype=np.float64)
    if np.shape(training_counts_expected) != held_out.shape:
        raise ValueError(
            f"expected counts of shape {np.shape(training_counts_expected)} for held-out "
            f"counts of shape {held_out.shape}."
        )
    depth_ratio = held_out_fraction / (1.0 - held_out_fraction)
    library = np.maximum(np.asarray(held_out.sum(axis=1)).ravel(), 1.0)
    deviance = squared = 0.0
    for start in range(0, held_out.shape[0], batch_size):
        stop = min(start + batch_size, held_out.shape[0])
        observed = held_out[start:stop].toarray()
        predicted = np.asarray(training_counts_expected[start:stop], dtype=np.float64)
        mean = np.maximum(predicted * depth_ratio, MIN_EXPECTED_COUNT)
        ratio_term = np.where(observed > 0, observed * np.log(np.maximum(observed, 1) / mean), 0)
        deviance += float(np.sum(2.0 * (ratio_term - (observed - mean))))
        scale = (target_sum / library[start:stop])[:, None]
        truth = np.log1p(scale * observed)
        squared += float(np.sum((expected_log1p(mean, scale) - truth) ** 2))
    n_entries = held_out.shape[0] * held_out.shape[1]
    return {"poisson_deviance": deviance / n_entries, "log_mse": squared / n_entries}
