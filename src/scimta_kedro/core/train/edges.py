"""Edges to reconstruct: observed edges and as many random node pairs, drawn every step."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class EdgeSampler:
    """Draws observed edges and the same number of uniformly random node pairs each epoch."""

    def __init__(self, edges: sp.spmatrix, samples_per_node: int, rng: np.random.Generator):
        upper = sp.triu(edges, k=1).tocoo()
        self._positives = np.column_stack([upper.row, upper.col]).astype(np.int32)
        if self._positives.shape[0] == 0:
            raise ValueError("the cell graph has no edges to reconstruct.")
        self._n_nodes = edges.shape[0]
        self._n_samples = min(self._positives.shape[0], samples_per_node * self._n_nodes)
        self._rng = rng

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        chosen = self._rng.choice(self._positives.shape[0], self._n_samples, replace=False)
        negatives = self._rng.integers(0, self._n_nodes, size=(self._n_samples, 2), dtype=np.int32)
        pairs = np.concatenate([self._positives[chosen], negatives])
        labels = np.concatenate([np.ones(self._n_samples), np.zeros(self._n_samples)])
        return pairs, labels.astype(np.float32)
