"""imputation as a Kedro slice: dropouts filled, raw counts kept, measured values near."""

from __future__ import annotations

import numpy as np
from kedro.framework.project import pipelines

from scimta_kedro.core import keys

from ..conftest import run_slice


def test_imputation_fills_dropouts_and_keeps_raw_counts(tiny_run):
    parameters, upstream = tiny_run
    outputs = run_slice(pipelines["imputation"], parameters, upstream)
    imputed, preprocessed = outputs["imputed_cells"], upstream["preprocessed_cells"]
    assert list(imputed.var_names) == list(preprocessed.var_names)
    counts = imputed.layers[keys.COUNTS_LAYER]
    assert (counts != preprocessed.layers[keys.COUNTS_LAYER]).nnz == 0
    values = imputed.layers[keys.IMPUTED]
    assert np.isfinite(values.data).all() and (values.data >= 0).all()
    assert values.nnz > counts.nnz
    # The default posterior trusts measured counts (prior_strength 0.003): they move little.
    observed = imputed.X.toarray()
    measured = counts.toarray() > 0
    assert np.corrcoef(values.toarray()[measured], observed[measured])[0, 1] > 0.95
    metrics = outputs["imputation_metrics"]
    assert 0 < metrics["filled_zero_fraction"]["value"] <= 1
    assert imputed.uns[keys.IMPUTED]["params"]["min_detection_probability"] == 0.01
    assert imputed.uns[keys.IMPUTED]["params"]["value"] == "posterior"
