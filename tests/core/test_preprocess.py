import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.preprocess import (
    COUNTS_LAYER,
    LOG_LAYER,
    PreprocessConfig,
    preprocess_counts,
)
from scimta_kedro.core.validate import InputError

CONFIG = PreprocessConfig(min_genes_per_cell=10, n_top_genes=150, n_pcs=20)


def test_output_layout(small_counts):
    result = preprocess_counts(small_counts, CONFIG)
    assert result.n_vars == 150
    assert isinstance(result.X, np.ndarray) and result.X.dtype == np.float32
    assert result.X.max() <= CONFIG.max_scale_value
    assert result.obsm["X_pca"].shape == (result.n_obs, 20)
    assert sp.issparse(result.layers[COUNTS_LAYER]) and sp.issparse(result.layers[LOG_LAYER])
    assert "total_counts" in result.obs


def test_raw_counts_of_kept_genes_are_unchanged(small_counts):
    result = preprocess_counts(small_counts, CONFIG)
    original = small_counts[result.obs_names, result.var_names].X
    assert (result.layers[COUNTS_LAYER] != original).nnz == 0
    # The input object itself is not modified.
    assert "highly_variable" not in small_counts.var


def test_counts_layer_is_used_when_given(small_counts):
    small_counts.layers["raw"] = small_counts.X.copy()
    small_counts.X = small_counts.X * 0.5
    result = preprocess_counts(small_counts, CONFIG, counts_layer="raw")
    values = result.layers[COUNTS_LAYER].data
    np.testing.assert_array_equal(values, np.round(values))


def test_more_hvgs_or_pcs_than_data_are_capped(small_counts):
    result = preprocess_counts(
        small_counts, PreprocessConfig(min_genes_per_cell=10, n_top_genes=10_000, n_pcs=1000)
    )
    assert result.n_vars <= small_counts.n_vars
    assert result.obsm["X_pca"].shape[1] == min(result.n_obs, result.n_vars) - 1


def test_qc_that_removes_everything_names_the_parameter(small_counts):
    with pytest.raises(InputError, match="min_genes_per_cell"):
        preprocess_counts(small_counts, PreprocessConfig(min_genes_per_cell=100_000))


def test_qc_that_drops_many_cells_warns_with_the_parameter(small_counts, caplog):
    strict = PreprocessConfig(min_genes_per_cell=210, n_top_genes=150, n_pcs=20)
    with caplog.at_level("WARNING", logger="scimta_kedro.core.preprocess"):
        result = preprocess_counts(small_counts, strict)
    assert result.n_obs < 0.9 * small_counts.n_obs
    assert "min_genes_per_cell=210 may be too strict" in caplog.text
