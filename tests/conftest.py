"""Shared fixtures: small simulated data sets that make every test fast and deterministic."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DO_NOT_TRACK", "1")

import anndata as ad  # noqa: E402
import pytest  # noqa: E402

from scimta_kedro.core.simulate import SimulationConfig, simulate_counts  # noqa: E402

# Well separated groups: the tests check that the method recovers planted structure, so the
# structure must be there to recover at this size (300 cells, 3 groups of 100).
SMALL_SIMULATION = SimulationConfig(
    n_cells=300,
    n_genes=400,
    n_groups=3,
    genes_per_programme=40,
    de_log_fold=2.0,
    library_log_mean=7.5,
    random_state=7,
)


@pytest.fixture
def small_counts() -> ad.AnnData:
    """300 cells x 400 genes of raw counts in three planted groups."""
    return simulate_counts(SMALL_SIMULATION)
