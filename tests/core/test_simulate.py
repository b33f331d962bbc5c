import h5py
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


def test_written_file_equals_the_simulation_in_memory(tmp_path):
    import anndata as ad

    from scimta_kedro.core.keys import PRE_DROPOUT_LAYER
    from scimta_kedro.core.simulate import write_simulated_h5ad

    config = SimulationConfig(
        n_cells=53,
        n_genes=120,
        n_groups=3,
        genes_per_programme=10,
        chunk_size=10,
        n_batches=2,
        batch_log_fold_sd=0.3,
        keep_pre_dropout_counts=True,
        sampler="sparse",
    )
    path = tmp_path / "cells.h5ad"
    write_simulated_h5ad(config, path, progress=False)
    written, in_memory = ad.read_h5ad(path), simulate_counts(config)
    assert (written.X != in_memory.X).nnz == 0
    assert (written.layers[PRE_DROPOUT_LAYER] != in_memory.layers[PRE_DROPOUT_LAYER]).nnz == 0
    assert written.obs.equals(in_memory.obs) and written.var.equals(in_memory.var)
    assert not (tmp_path / "cells.h5ad.partial").exists()
    with h5py.File(path) as file:  # room for more than 2^31 counts
        assert file["X/indptr"].dtype == np.int64


def test_sparse_sampler_draws_the_same_model_as_the_exact_one():
    # Same seed: same genes, groups and libraries; only the count draws differ.
    config = dict(n_cells=3000, n_genes=2000, n_groups=4, dropout_midpoint=-3.0)
    exact = simulate_counts(SimulationConfig(**config)).X
    sparse = simulate_counts(SimulationConfig(**config, sampler="sparse")).X
    exact_mean, sparse_mean = (np.asarray(m.mean(axis=0)).ravel() for m in (exact, sparse))
    assert np.corrcoef(np.log1p(exact_mean), np.log1p(sparse_mean))[0, 1] > 0.99
    assert abs(sparse.nnz / exact.nnz - 1) < 0.02
    assert abs(sparse.sum() / exact.sum() - 1) < 0.02
    assert (sparse != exact).nnz > 0


def test_sparse_sampler_gives_each_gene_its_expected_detection_rate():
    config = SimulationConfig(
        n_cells=4000, n_genes=3000, n_groups=1, genes_per_programme=0, dropout_shape=0.0
    )
    for sampler in ("exact", "sparse"):
        counts = simulate_counts(SimulationConfig(**{**config.__dict__, "sampler": sampler})).X
        mean = np.asarray(counts.mean(axis=0)).ravel()
        detected = np.asarray((counts > 0).mean(axis=0)).ravel()
        # One group, no dropout: negative binomial P(count > 0) at each gene's mean.
        expected = 1 - (1 + config.dispersion * mean) ** (-1 / config.dispersion)
        tiny = mean < 0.05
        assert np.abs(detected[tiny] - expected[tiny]).mean() < 0.002, sampler
