"""Molecular cross-validation: the binomial split and the held-out scores of an imputer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import poisson

from scimta_kedro.core.molecular_cv import (
    expected_counts,
    expected_log1p,
    held_out_scores,
    split_molecules,
)
from scimta_kedro.core.simulate import SimulationConfig, simulate_counts

HELD_OUT = 0.1


@pytest.fixture(scope="module")
def simulated():
    return simulate_counts(SimulationConfig(n_cells=600, n_genes=300, n_groups=3))


def test_split_partitions_every_count_reproducibly(simulated):
    counts = sp.csr_matrix(simulated.X)
    training, held_out = split_molecules(counts, HELD_OUT, seed=3)
    np.testing.assert_array_equal((training + held_out).toarray(), counts.toarray())
    assert (training.data > 0).all() and (held_out.data > 0).all()
    assert held_out.sum() / counts.sum() == pytest.approx(HELD_OUT, abs=0.005)
    again_training, _ = split_molecules(counts, HELD_OUT, seed=3)
    np.testing.assert_array_equal(again_training.toarray(), training.toarray())
    other_training, _ = split_molecules(counts, HELD_OUT, seed=4)
    assert (other_training != training).nnz > 0


@pytest.mark.parametrize(
    ("matrix", "fraction", "message"),
    [
        (sp.csr_matrix(np.array([[0.5, 1.0]])), 0.1, "non-integer"),
        (sp.csr_matrix(np.array([[-1.0, 1.0]])), 0.1, "negative"),
        (sp.csr_matrix(np.array([[1.0, 1.0]])), 1.0, "held_out_fraction"),
    ],
)
def test_split_refuses_what_is_not_counts(matrix, fraction, message):
    with pytest.raises(ValueError, match=message):
        split_molecules(matrix, fraction)


def test_expected_log1p_matches_the_poisson_sum():
    means = np.array([[0.01, 0.7, 5.0, 19.0, 25.0, 300.0]])
    scale = np.array([[3.0]])
    support = np.arange(3000)
    exact = [np.sum(poisson.pmf(support, mean) * np.log1p(3.0 * support)) for mean in means[0]]
    np.testing.assert_allclose(expected_log1p(means, scale)[0], exact, rtol=2e-3)


def _scores(simulated, imputed_training_counts, held_out):
    return held_out_scores(imputed_training_counts, held_out, held_out_fraction=HELD_OUT)


def test_filling_every_zero_scores_worse_than_not_imputing(simulated):
    training, held_out = split_molecules(simulated.X, HELD_OUT, seed=0)
    observed = training.toarray()
    detected = np.where(observed > 0, observed, 0).sum(axis=0) / np.maximum(
        (observed > 0).sum(axis=0), 1
    )
    every_zero_filled = np.where(observed > 0, observed, detected[None, :])
    # A denoiser that knows the planted groups and the simulator's dispersion: each count
    # shrunk to its group's mean profile at the cell's depth, as the gamma-Poisson posterior
    # does (the cell's own count still tells its rate). Held-out molecules must rank it first.
    library = observed.sum(axis=1)
    groups = simulated.obs["cell_type"].to_numpy()
    theta = 1.0 / SimulationConfig().dispersion
    group_means = np.empty_like(observed)
    for group in np.unique(groups):
        members = groups == group
        profile = observed[members].sum(axis=0) / library[members].sum()
        prior = library[members, None] * profile[None, :]
        group_means[members] = (theta + observed[members]) * prior / (theta + prior)
    scores = {
        name: _scores(simulated, matrix, held_out)
        for name, matrix in (
            ("filled", every_zero_filled),
            ("observed", observed),
            ("group_means", group_means),
        )
    }
    for metric in ("poisson_deviance", "log_mse"):
        assert scores["group_means"][metric] < scores["observed"][metric], metric
        assert scores["group_means"][metric] < scores["filled"][metric], metric
    # On the log scale, filling every zero at the detected level is worse than leaving the
    # zeros. (The deviance punishes the observed matrix's exact zeros where molecules were
    # held out, so there both fall behind the denoiser instead.)
    assert scores["observed"]["log_mse"] < scores["filled"]["log_mse"]


def test_expected_counts_inverts_the_log_normalisation():
    counts = np.array([[0.0, 2.0, 5.0], [1.0, 0.0, 3.0]])
    library = counts.sum(axis=1)
    log_normalized = np.log1p(counts * (1e4 / library)[:, None])
    np.testing.assert_allclose(expected_counts(log_normalized, library, 1e4), counts, atol=1e-9)


def test_scores_refuse_a_shape_mismatch(simulated):
    _, held_out = split_molecules(simulated.X, HELD_OUT)
    with pytest.raises(ValueError, match="expected counts of shape"):
        held_out_scores(np.zeros((3, 3)), held_out, held_out_fraction=HELD_OUT)
