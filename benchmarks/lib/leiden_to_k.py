"""Leiden with its resolution bisected until it finds k clusters: the k-given anchor.

The number of Leiden clusters grows with the resolution (not strictly: a step can skip a
count). The resolution is raised until Leiden finds at least k clusters, then bisected on a
log scale between the last resolution below k and the first at or above it. The partition
with exactly k clusters is returned as soon as one is found; otherwise the one whose count
is closest to k (the lower count on a tie).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

START_RESOLUTION = 1.0
MAX_RESOLUTION = 100.0
BISECTION_STEPS = 30


def bisected_to_k(leiden_at: Callable[[float], np.ndarray], k: int) -> np.ndarray:
    """Labels of ``leiden_at(resolution)`` at the resolution that gives ``k`` clusters (or
    the closest count seen)."""
    seen: list[tuple[int, float, np.ndarray]] = []

    def run(resolution: float) -> int:
        labels = leiden_at(resolution)
        count = int(np.unique(labels).size)
        seen.append((count, resolution, labels))
        return count

    low, high = None, START_RESOLUTION
    count = run(high)
    while count < k and high < MAX_RESOLUTION:
        low, high = high, high * 2
        count = run(high)
    if count > k and low is None:
        low = high
        while count > k and low > 1e-4:
            high, low = low, low / 2
            count = run(low)
        low, high = (low, high) if count < k else (low, low)
    if count != k and low is not None and low < high:
        for _ in range(BISECTION_STEPS):
            middle = float(np.sqrt(low * high))
            count = run(middle)
            if count == k:
                break
            low, high = (middle, high) if count < k else (low, middle)
    best = min(seen, key=lambda entry: (abs(entry[0] - k), entry[0]))
    return best[2]
