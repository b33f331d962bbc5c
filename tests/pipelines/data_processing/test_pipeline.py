"""data_processing as a Kedro slice: simulated cells in, preprocessed cells out."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core import keys
from scimta_kedro.core.params import section_config
from scimta_kedro.core.simulate import SimulationConfig, simulate_counts

from ..conftest import run_stages, tiny_parameters


def test_preprocessed_cells_keep_counts_and_record_their_parameters(tiny_run):
    parameters, outputs = tiny_run
    cells = outputs["preprocessed_cells"]
    preprocessing = section_config("data_processing", parameters["data_processing"])
    assert cells.n_vars == preprocessing.preprocessing.n_top_genes == 200
    assert cells.obsm[keys.PCA].shape == (cells.n_obs, 15)
    counts = cells.layers[keys.COUNTS_LAYER]
    assert sp.issparse(counts) and np.array_equal(counts.data, np.round(counts.data))
    recorded = cells.uns[keys.PREPROCESS]["params"]
    assert recorded["n_pcs"] == 15 and recorded["target_sum"] == 10000
    # The simulator's truth is the label; the input was not a file.
    assert cells.uns[keys.RUN_INFO]["label_key"] == "cell_type"
    assert cells.uns[keys.RUN_INFO]["input_path"] == "simulated"


def test_more_clusters_than_cells_are_refused_before_preprocessing():
    parameters = tiny_parameters(training={"n_clusters": 10000})
    with pytest.raises(Exception, match=r"training.n_clusters=10000 is not less than the 240"):
        run_stages(parameters, ["data_processing"])


def test_a_large_file_on_a_dask_cluster_gives_what_the_chunk_loops_give(tmp_path):
    """The data_processing slice on a file read backed: with ``data_processing.dask`` (two
    local workers, started and stopped by the node) and without."""
    cells = simulate_counts(SimulationConfig(n_cells=300, n_genes=400, n_groups=3, de_log_fold=2.0))
    cells.write_h5ad(tmp_path / "cells.h5ad")
    outputs = {}
    for dask in ({}, {"n_workers": 2, "memory_limit": "2GiB"}):
        parameters = tiny_parameters(
            input_path=str(tmp_path / "cells.h5ad"),
            label_key="cell_type",
            data_processing={
                "in_memory_max_nonzeros": 0,
                "dask": dask,
                "preprocessing": {"chunk_cells": 64},
            },
        )
        preprocessed = run_stages(parameters, ["data_processing"])["preprocessed_cells"]
        outputs[bool(dask)] = preprocessed
    chunked, on_dask = outputs[False], outputs[True]
    assert list(on_dask.var_names) == list(chunked.var_names)
    assert (on_dask.layers[keys.COUNTS_LAYER] != chunked.layers[keys.COUNTS_LAYER]).nnz == 0
    np.testing.assert_allclose(on_dask.X.toarray(), chunked.X.toarray(), atol=1e-5)
    np.testing.assert_allclose(
        np.abs(on_dask.obsm[keys.PCA]), np.abs(chunked.obsm[keys.PCA]), atol=1e-3
    )
