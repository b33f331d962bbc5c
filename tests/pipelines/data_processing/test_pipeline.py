"""data_processing as a Kedro slice: simulated cells in, preprocessed cells out."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core import keys
from scimta_kedro.core.params import section_config

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
