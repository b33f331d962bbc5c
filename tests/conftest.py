"""Shared fixtures: small simulated data sets that make every test fast and deterministic."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DO_NOT_TRACK", "1")

import anndata as ad  # noqa: E402
import pytest  # noqa: E402

from scimta_kedro.core.simulate import simulate_counts  # noqa: E402

from .simulated import SMALL_SIMULATION  # noqa: E402


@pytest.fixture
def small_counts() -> ad.AnnData:
    """300 cells x 400 genes of raw counts in three planted groups."""
    return simulate_counts(SMALL_SIMULATION)
