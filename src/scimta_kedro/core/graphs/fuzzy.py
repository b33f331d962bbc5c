"""UMAP's fuzzy neighbour weights (the weights of scanpy's ``sc.pp.neighbors``), in NumPy.

umap-learn computes them with numba functions that are compiled on every run (they are not
cached), which costs about 4 s a run, more than the weights themselves take here at 10k
cells. This is the same computation, vectorised over rows: umap-learn 0.5's
``smooth_knn_dist`` (local connectivity 1, bandwidth 1, 64 bisection steps, in float32 as
umap declares its locals) and ``compute_membership_strengths``. The weights agree with
umap's to float32 round-off (tests/core/test_graphs.py).
"""

from __future__ import annotations

import numpy as np

# umap-learn's constants (umap/umap_.py).
SMOOTH_K_TOLERANCE = 1e-5
MIN_K_DIST_SCALE = 1e-3
BISECTION_STEPS = 64


def smooth_knn_scales(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's scale ``sigma`` and nearest-neighbour distance ``rho`` (both ``(N,)``).

    ``distances`` ``(N, k)`` are each row's neighbour distances, ascending, the row itself
    first at distance 0 (as scanpy passes them). ``sigma`` is bisected so that the weights
    ``exp(-(d - rho) / sigma)`` of the other ``k - 1`` neighbours sum to ``log2(k)``.
    """
    distances = np.asarray(distances, dtype=np.float32)
    n_rows, width = distances.shape
    target = np.log2(width)
    positive = distances > 0
    has_positive = positive.any(axis=1)
    first_positive = np.argmax(positive, axis=1)
    rho = np.where(has_positive, distances[np.arange(n_rows), first_positive], 0).astype(np.float32)
    shifted = distances[:, 1:] - rho[:, None]
    low = np.zeros(n_rows, dtype=np.float32)
    high = np.full(n_rows, np.finfo(np.float32).max, dtype=np.float32)
    middle = np.ones(n_rows, dtype=np.float32)
    searching = np.ones(n_rows, dtype=bool)
    with np.errstate(over="ignore"):
        for _ in range(BISECTION_STEPS):
            rows = np.flatnonzero(searching)
            if rows.size == 0:
                break
            weights = np.where(
                shifted[rows] > 0,
                np.exp(-(shifted[rows] / middle[rows, None])),
                np.float32(1.0),
            )
            # Summed column by column in float32, in umap's order.
            total = np.zeros(rows.size, dtype=np.float32)
            for column in weights.T:
                total += column
            found = np.abs(total.astype(np.float64) - target) < SMOOTH_K_TOLERANCE
            searching[rows[found]] = False
            rows, total = rows[~found], total[~found]
            too_wide = total > target
            high[rows[too_wide]] = middle[rows[too_wide]]
            low[rows[~too_wide]] = middle[rows[~too_wide]]
            unbounded = ~too_wide & (high[rows] >= np.finfo(np.float32).max)
            middle[rows] = np.where(
                unbounded, middle[rows] * 2, (low[rows] + high[rows]) / np.float32(2)
            )
    floor = MIN_K_DIST_SCALE * np.where(
        rho > 0, distances.mean(axis=1), distances.mean(dtype=np.float64)
    )
    sigma = np.maximum(middle, floor.astype(np.float32))
    return sigma, rho


def membership_strengths(indices: np.ndarray, distances: np.ndarray) -> np.ndarray:
    """UMAP's directed weight of each listed neighbour ``(N, k)``: 0 for the row itself, 1
    up to the nearest neighbour's distance, then ``exp(-(d - rho) / sigma)``."""
    distances = np.asarray(distances, dtype=np.float32)
    sigma, rho = smooth_knn_scales(distances)
    excess = distances - rho[:, None]
    # The row itself (excess -rho) overflows; np.where gives it 0 below.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        decayed = np.exp(-(excess / sigma[:, None]))
    weights = np.where((excess <= 0) | (sigma[:, None] == 0), np.float32(1.0), decayed)
    is_self = indices == np.arange(indices.shape[0])[:, None]
    return np.where(is_self, np.float32(0.0), weights).astype(np.float32)
