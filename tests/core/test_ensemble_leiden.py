"""Leiden's consensus over seeded runs (core/ensemble_leiden.py) on planted partitions."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.cluster import leiden_on_graph
from scimta_kedro.core.ensemble_leiden import ensemble_leiden
from scimta_kedro.core.train import TrainingConfig


def planted_partition(
    n_groups: int, group_size: int, p_in: float, p_out: float, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """A symmetric random graph of ``n_groups`` planted groups and their labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_groups), group_size)
    same = labels[:, None] == labels[None, :]
    edges = np.triu(rng.random(same.shape) < np.where(same, p_in, p_out), k=1)
    upper = sp.csr_matrix(edges.astype(np.float64))
    return sp.csr_matrix(upper + upper.T), labels


def test_one_run_is_leiden_itself():
    graph, _ = planted_partition(4, 50, 0.3, 0.05)
    for seed in (0, 7):
        assert np.array_equal(
            ensemble_leiden(graph, resolution=0.5, random_state=seed, runs=1),
            leiden_on_graph(graph, resolution=0.5, random_state=seed),
        )


def test_the_consensus_recovers_planted_groups_and_repeats_with_its_seed():
    graph, planted = planted_partition(5, 60, 0.25, 0.02)
    labels = ensemble_leiden(graph, resolution=1.0, random_state=3, runs=5)
    assert adjusted_rand_score(planted, labels) > 0.95
    assert np.array_equal(labels, ensemble_leiden(graph, resolution=1.0, random_state=3, runs=5))


def test_the_consensus_depends_less_on_the_seed_than_one_run():
    # Groups that touch: single runs cut the weak boundaries differently from seed to seed.
    graph, _ = planted_partition(8, 40, 0.15, 0.03, seed=1)

    def agreement(runs: int) -> float:
        partitions = [
            ensemble_leiden(graph, resolution=1.0, random_state=seed, runs=runs)
            for seed in range(6)
        ]
        return float(np.mean([adjusted_rand_score(a, b) for a, b in combinations(partitions, 2)]))

    single, consensus = agreement(1), agreement(10)
    assert single < 0.95  # the seeds do disagree on this graph
    assert consensus > single + 0.1


def test_an_ensemble_needs_at_least_one_run():
    graph, _ = planted_partition(2, 10, 0.5, 0.1)
    with pytest.raises(ValueError, match="runs must be >= 1"):
        ensemble_leiden(graph, resolution=1.0, runs=0)
    with pytest.raises(ValueError, match="start_ensemble_runs"):
        TrainingConfig(start_ensemble_runs=0)
