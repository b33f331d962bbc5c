"""Leiden with its resolution bisected until it finds k clusters: the k-given anchor.

The number of Leiden clusters grows with the resolution (not strictly: a step can skip a
count). The resolution is doubled (or halved) from 1 until the count is k or k is
bracketed, then bisected on a log scale between the resolutions below and above k. The partition
with exactly k clusters is returned as soon as one is found; otherwise the one whose count
is closest to k (the lower count on a tie).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

START_RESOLUTION = 1.0
MAX_RESOLUTION = 100.0
MIN_RESOLUTION = 1e-4
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

    # Double or halve the resolution until k is found or bracketed: below (fewer) and above.
    below = above = None
    resolution = START_RESOLUTION
    count = run(resolution)
    while count != k:
        if count < k:
            below = resolution
            if above is not None or resolution >= MAX_RESOLUTION:
                break
            resolution *= 2
        else:
            above = resolution
            if below is not None or resolution <= MIN_RESOLUTION:
                break
            resolution /= 2
        count = run(resolution)
    if count != k and below is not None and above is not None:
        for _ in range(BISECTION_STEPS):
            middle = float(np.sqrt(below * above))
            count = run(middle)
            if count == k:
                break
            below, above = (middle, above) if count < k else (below, middle)
    best = min(seen, key=lambda entry: (abs(entry[0] - k), entry[0]))
    return best[2]
