import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.simulate import (
    LABEL_KEY,
    NO_PROGRAMME,
    PROGRAMME_KEY,
    SimulationConfig,
    simulate_counts,
)


def test_counts_are_sparse_non_negative_integers(small_counts):
    assert sp.issparse(small_counts.X)
    values = small_counts.X.data
    assert values.min() >= 0
    np.testing.assert_array_equal(values, np.round(values))


def test_same_seed_same_data_and_other_seed_other_data():
    config = SimulationConfig(n_cells=50, n_genes=100, n_groups=2, genes_per_programme=10)
    first, second = simulate_counts(config), simulate_counts(config)
    assert (first.X != second.X).nnz == 0
    other = simulate_counts(SimulationConfig(**{**config.__dict__, "random_state": 1}))
    assert (first.X != other.X).nnz > 0


def test_programme_genes_are_up_in_their_own_group(small_counts):
    counts = small_counts.X.toarray()
    groups = small_counts.obs[LABEL_KEY].to_numpy()
    programmes = small_counts.var[PROGRAMME_KEY].to_numpy()
    for group in np.unique(groups):
        genes = programmes == group
        inside = counts[groups == group][:, genes].mean()
        outside = counts[groups != group][:, genes].mean()
        assert inside > 2 * outside
    assert (programmes == NO_PROGRAMME).sum() == 400 - 3 * 40


def test_chunked_generation_gives_every_cell_a_library():
    config = SimulationConfig(
        n_cells=25, n_genes=80, n_groups=2, genes_per_programme=5, chunk_size=7
    )
    adata = simulate_counts(config)
    assert adata.shape == (25, 80)
    assert np.asarray(adata.X.sum(axis=1)).min() > 0


def test_dropout_adds_zeros():
    base = dict(n_cells=200, n_genes=300, n_groups=2, genes_per_programme=10)
    without = simulate_counts(SimulationConfig(**base, dropout_shape=0.0))
    with_dropout = simulate_counts(SimulationConfig(**base, dropout_midpoint=1.0))
    assert with_dropout.X.nnz < without.X.nnz


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_groups": 10, "genes_per_programme": 20, "n_genes": 100}, "exceeds n_genes"),
        ({"group_weights": (1.0,)}, "one weight per group"),
        ({"n_cells": 0}, "at least 1"),
    ],
)
def test_invalid_configuration_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**overrides)
