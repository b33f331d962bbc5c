import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.dask_preprocess import preprocess_dask
from scimta_kedro.core.io import is_on_disk, read_cells
from scimta_kedro.core.preprocess import (
    COUNTS_LAYER,
    LOG_LAYER,
    PreprocessConfig,
    preprocess_counts,
)
from scimta_kedro.core.simulate import SimulationConfig, simulate_counts
from scimta_kedro.core.streamed import preprocess_backed
from scimta_kedro.core.validate import InputError, validate_counts

CONFIG = PreprocessConfig(min_genes_per_cell=10, n_top_genes=150, n_pcs=10, chunk_cells=37)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    cells = simulate_counts(
        SimulationConfig(
            n_cells=400,
            n_genes=600,
            n_groups=3,
            de_log_fold=1.5,
            library_log_mean=8.0,
            # Two batches without a batch effect: the batch-aware HVG path, same biology.
            n_batches=2,
            batch_log_fold_sd=0.0,
            batch_library_log_sd=0.0,
            random_state=3,
        )
    )
    # Thirteen genes named as mitochondrial genes: both paths report their share.
    cells.var_names = [
        f"MT-{name}" if index < 13 else name for index, name in enumerate(cells.var_names)
    ]
    path = tmp_path_factory.mktemp("streamed") / "cells.h5ad"
    cells.write_h5ad(path)
    return cells, path


def test_large_files_are_opened_backed_and_small_ones_loaded(written):
    cells, path = written
    assert not read_cells(path, max_nonzeros_in_memory=cells.X.nnz).isbacked
    backed = read_cells(path, max_nonzeros_in_memory=cells.X.nnz - 1)
    assert backed.isbacked
    assert backed.shape == cells.shape


def test_a_backed_file_keeps_its_sparse_layers_on_disk(written, tmp_path):
    cells, _ = written
    # Counts in a layer, something else in X: the counts are read in chunks like X.
    with_layer = cells.copy()
    with_layer.layers["raw_counts"] = cells.X.copy()
    with_layer.X = sp.csr_matrix(cells.X.multiply(0.5))
    path = tmp_path / "layered.h5ad"
    with_layer.write_h5ad(path)

    backed = read_cells(path, 0)
    assert backed.isbacked
    assert is_on_disk(backed.X)
    assert all(is_on_disk(backed.layers[name]) for name in ("raw_counts", "pre_dropout_counts"))
    assert list(backed.obs_names) == list(cells.obs_names)
    assert backed.obs.equals(cells.obs)
    assert backed.uns.keys() == cells.uns.keys()

    streamed = preprocess_backed(
        validate_counts(backed, counts_layer="raw_counts", n_neighbors=10),
        CONFIG,
        counts_layer="raw_counts",
    )
    in_memory = preprocess_counts(cells, CONFIG)
    assert list(streamed.var_names) == list(in_memory.var_names)
    assert (streamed.layers[COUNTS_LAYER] != in_memory.layers[COUNTS_LAYER]).nnz == 0


@pytest.fixture(params=["chunk loops", "dask"])
def backed_path(request):
    """The two ways through a backed file: this process's chunk loops, or scanpy's Dask
    support on a local cluster of two workers."""
    if request.param == "dask":
        request.getfixturevalue("dask_client_of_two")
        return preprocess_dask
    return preprocess_backed


@pytest.mark.parametrize("batch_key", [None, "batch"])
def test_backed_preprocessing_equals_the_in_memory_path(written, batch_key, backed_path):
    cells, path = written
    in_memory = preprocess_counts(cells, CONFIG, batch_key=batch_key)
    streamed = backed_path(
        validate_counts(read_cells(path, 0), n_neighbors=10), CONFIG, batch_key=batch_key
    )
    assert list(streamed.obs_names) == list(in_memory.obs_names)
    assert list(streamed.var_names) == list(in_memory.var_names)
    assert (streamed.layers[COUNTS_LAYER] != in_memory.layers[COUNTS_LAYER]).nnz == 0
    np.testing.assert_allclose(
        streamed.layers[LOG_LAYER].toarray(), in_memory.layers[LOG_LAYER].toarray(), atol=1e-5
    )
    np.testing.assert_allclose(streamed.obs["total_counts"], in_memory.obs["total_counts"])
    np.testing.assert_array_equal(streamed.obs["n_genes"], in_memory.obs["n_genes"])
    counts = cells[in_memory.obs_names].X
    # The share of the counts over the genes QC kept (total_counts).
    expected = 100 * counts[:, :13].sum(axis=1).A1 / in_memory.obs["total_counts"].to_numpy()
    np.testing.assert_allclose(in_memory.obs["pct_counts_mt"], expected, rtol=1e-5)
    np.testing.assert_allclose(streamed.obs["pct_counts_mt"], expected, rtol=1e-5)
    np.testing.assert_array_equal(streamed.var["n_cells"], in_memory.var["n_cells"])
    # X stays sparse and uncentred; centring it gives the in-memory z-scores (genes where
    # nothing was clipped).
    assert sp.issparse(streamed.X)
    unclipped = in_memory.X.max(axis=0) < CONFIG.max_scale_value
    scaled = streamed.X.toarray()[:, unclipped]
    np.testing.assert_allclose(scaled - scaled.mean(axis=0), in_memory.X[:, unclipped], atol=1e-4)
    assert streamed.X.max() > CONFIG.max_scale_value  # the clip is above each gene's mean
    for component in range(5):
        correlation = np.corrcoef(
            streamed.obsm["X_pca"][:, component], in_memory.obsm["X_pca"][:, component]
        )[0, 1]
        assert abs(correlation) > 0.999


def test_a_sample_of_cells_ranks_nearly_the_same_genes(written):
    cells, path = written
    in_memory = preprocess_counts(cells, CONFIG)
    sampled = preprocess_backed(
        read_cells(path, 0), PreprocessConfig(**{**CONFIG.__dict__, "hvg_sample_cells": 250})
    )
    assert sampled.n_obs == in_memory.n_obs
    shared = len(set(sampled.var_names) & set(in_memory.var_names))
    assert shared > 0.8 * in_memory.n_vars


def test_bad_values_in_a_backed_file_are_found_before_preprocessing(tmp_path):
    cells = simulate_counts(SimulationConfig(n_cells=60, n_genes=80, n_groups=2))
    cells.X = cells.X.tocsr()
    cells.X.data[-1] = 0.5
    path = tmp_path / "bad.h5ad"
    cells.write_h5ad(path)
    with pytest.raises(InputError, match="raw integer counts"):
        validate_counts(read_cells(path, 0), n_neighbors=5)


def test_column_stored_counts_on_disk_get_a_clear_error(tmp_path):
    cells = simulate_counts(SimulationConfig(n_cells=60, n_genes=80, n_groups=2))
    cells.X = sp.csc_matrix(cells.X)
    path = tmp_path / "columns.h5ad"
    cells.write_h5ad(path)
    with pytest.raises(InputError, match="CSR"):
        validate_counts(ad.read_h5ad(path, backed="r"), n_neighbors=5)


def test_a_backed_file_without_any_count_is_rejected(tmp_path):
    cells = simulate_counts(SimulationConfig(n_cells=60, n_genes=80, n_groups=2))
    cells.X = sp.csr_matrix(cells.shape, dtype=np.float32)
    path = tmp_path / "zeros.h5ad"
    cells.write_h5ad(path)
    with pytest.raises(InputError, match="only zero counts"):
        validate_counts(read_cells(path, -1), n_neighbors=5)


def test_dask_preprocessing_reads_the_file_on_both_workers(written, dask_client_of_two):
    from distributed import get_task_stream

    _, path = written
    with get_task_stream(dask_client_of_two) as stream:
        preprocess_dask(validate_counts(read_cells(path, 0), n_neighbors=10), CONFIG)
    workers = {task["worker"] for task in stream.data}
    assert workers == set(dask_client_of_two.scheduler_info()["workers"])
