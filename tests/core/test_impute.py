"""Imputation from the trained count decoder: dropouts filled, measurements and zeros kept."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.stats import nbinom, pearsonr

from scimta_kedro.core.impute import ImputationConfig, impute_counts, nb_zero_probability
from scimta_kedro.core.keys import COUNTS_LAYER, PRE_DROPOUT_LAYER
from scimta_kedro.core.validate import InputError


@pytest.fixture(scope="module")
def trained_cells(planted, trained):
    """The shared planted cells (they keep their counts before dropout), graph and model."""
    cells, data = planted
    return cells, data.connectivities, trained


def _impute(trained_cells, **options):
    cells, connectivities, result = trained_cells
    return impute_counts(
        result.model,
        result.latent,
        cells.layers[COUNTS_LAYER],
        cells.obs["total_counts"].to_numpy(),
        connectivities,
        config=ImputationConfig(**options),
        target_sum=1e4,
    ).toarray()


def _log_normalised(cells, counts):
    scale = 1e4 / cells.obs["total_counts"].to_numpy()[:, None]
    return np.log1p(sp.csr_matrix(counts).toarray() * scale)


@pytest.mark.parametrize("value", ["mean", "detected"])
def test_imputed_values_are_finite_non_negative_and_keep_measurements(trained_cells, value):
    cells = trained_cells[0]
    imputed = _impute(trained_cells, value=value)
    observed = _log_normalised(cells, cells.layers[COUNTS_LAYER])
    assert imputed.shape == cells.shape
    assert np.isfinite(imputed).all() and (imputed >= 0).all()
    measured = observed > 0
    np.testing.assert_allclose(imputed[measured], observed[measured], rtol=1e-5)
    assert (imputed > 0).sum() > measured.sum()  # some zeros were filled


def test_the_result_does_not_depend_on_how_many_cells_are_decoded_at_once(trained_cells):
    n_cells = trained_cells[0].n_obs
    whole = _impute(trained_cells, batch_size=n_cells)
    in_blocks = _impute(trained_cells, batch_size=n_cells // 3 + 1)
    # The same zeros are filled. The values agree to float32 rounding only: TensorFlow's CPU
    # matrix products block their work by the number of rows, so a sum can round one ulp
    # apart between block sizes (seen on some CPUs, not others).
    np.testing.assert_array_equal(in_blocks > 0, whole > 0)
    np.testing.assert_allclose(in_blocks, whole, rtol=1e-6, atol=0)


def test_expressed_entries_are_closer_to_the_truth_before_dropout(trained_cells):
    cells = trained_cells[0]
    observed = _log_normalised(cells, cells.layers[COUNTS_LAYER])
    truth = _log_normalised(cells, cells.layers[PRE_DROPOUT_LAYER])
    expressed = truth > 0
    dropped = expressed & (observed == 0)
    assert dropped.sum() > 1000  # the simulation does drop counts out
    before = pearsonr(observed[expressed], truth[expressed]).statistic
    # The default trusts measured counts (a weak prior: it keeps the cell types, benchmark),
    # so it moves them only a little, towards the truth; a stronger prior moves further, and
    # the "detected" rule, which fills the dropouts at full level, gains most on this view.
    default = _impute(trained_cells)
    assert pearsonr(default[expressed], truth[expressed]).statistic > before
    assert np.mean(default[dropped] > 0) > 0.5
    stronger = _impute(trained_cells, prior_strength=0.1)
    assert pearsonr(stronger[expressed], truth[expressed]).statistic > before + 0.01
    detected = _impute(trained_cells, value="detected")
    assert pearsonr(detected[expressed], truth[expressed]).statistic > before + 0.05


def test_posterior_moves_from_the_count_to_the_model_mean_with_prior_strength(trained_cells):
    cells = trained_cells[0]
    observed = _log_normalised(cells, cells.layers[COUNTS_LAYER])
    model_mean = _impute(trained_cells, value="mean", min_detection_probability=0.0)
    zeros = observed == 0
    weak = _impute(trained_cells, prior_strength=1e-6, min_detection_probability=0.0)
    strong = _impute(trained_cells, prior_strength=1e6, min_detection_probability=0.0)
    np.testing.assert_allclose(weak[~zeros], observed[~zeros], atol=1e-3)
    assert weak[zeros].max() < 1e-3
    # With a dominant prior every entry is the model's mean, the zeros' fill under "mean".
    np.testing.assert_allclose(strong[zeros], model_mean[zeros], atol=1e-3)
    default = _impute(trained_cells, min_detection_probability=0.0)
    assert (weak[zeros] <= default[zeros] + 1e-6).all()
    assert (default[zeros] <= strong[zeros] + 1e-6).all()


def test_detection_threshold_decides_which_zeros_are_biological(trained_cells):
    cells = trained_cells[0]
    n_measured = cells.layers[COUNTS_LAYER].nnz
    nothing_is_a_dropout = _impute(trained_cells, min_detection_probability=1.0)
    assert np.count_nonzero(nothing_is_a_dropout) == n_measured
    everything_is_a_dropout = _impute(trained_cells, min_detection_probability=0.0)
    assert np.count_nonzero(everything_is_a_dropout) == everything_is_a_dropout.size
    default = _impute(trained_cells)
    assert n_measured < np.count_nonzero(default) < default.size


def test_mean_value_is_below_the_detected_level(trained_cells):
    detected = _impute(trained_cells, min_detection_probability=0.0, value="detected")
    mean = _impute(trained_cells, min_detection_probability=0.0, value="mean")
    filled = trained_cells[0].layers[COUNTS_LAYER].toarray() == 0
    assert (mean[filled] <= detected[filled] + 1e-6).all()


def test_nb_zero_probability_matches_scipy():
    mean, theta = np.array([0.1, 2.0, 30.0]), np.array([0.5, 2.0, 10.0])
    expected = nbinom.pmf(0, theta, theta / (theta + mean))
    np.testing.assert_allclose(nb_zero_probability(mean, theta), expected, rtol=1e-10)


def test_inputs_from_different_runs_are_named(trained_cells):
    cells, connectivities, result = trained_cells
    with pytest.raises(InputError, match="the model decodes 200 genes but the counts have 199"):
        impute_counts(
            result.model,
            result.latent,
            cells.layers[COUNTS_LAYER][:, :199],
            cells.obs["total_counts"].to_numpy(),
            connectivities,
            config=ImputationConfig(),
            target_sum=1e4,
        )
    with pytest.raises(InputError, match="latent codes for"):
        impute_counts(
            result.model,
            result.latent[:10],
            cells.layers[COUNTS_LAYER],
            cells.obs["total_counts"].to_numpy(),
            connectivities,
            config=ImputationConfig(),
            target_sum=1e4,
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"value": "median"}, "value must be one of"),
        ({"min_detection_probability": 1.5}, "min_detection_probability must lie in"),
        ({"smoothing_steps": -1}, "smoothing_steps must be at least 0"),
        ({"prior_strength": 0}, "prior_strength must be greater than 0"),
    ],
)
def test_bad_parameters_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        ImputationConfig(**options)
