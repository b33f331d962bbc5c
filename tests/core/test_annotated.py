"""shallow_copy: own annotations, shared matrices."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from scimta_kedro.core.annotated import shallow_copy


def _cells() -> ad.AnnData:
    cells = ad.AnnData(
        X=sp.random(20, 5, density=0.5, format="csr", dtype=np.float32, random_state=0),
        obs=pd.DataFrame({"group": ["a", "b"] * 10}, index=[f"c{i}" for i in range(20)]),
    )
    cells.layers["counts"] = cells.X.copy()
    cells.obsm["X_pca"] = np.ones((20, 2), dtype=np.float32)
    cells.uns["run"] = {"label_key": "group"}
    return cells


def test_matrices_are_shared_not_copied():
    cells = _cells()
    copied = shallow_copy(cells)
    assert copied.X is cells.X
    assert copied.layers["counts"] is cells.layers["counts"]
    assert np.shares_memory(copied.obsm["X_pca"], cells.obsm["X_pca"])
    np.testing.assert_array_equal(copied.obs["group"], cells.obs["group"])


def test_changing_the_copy_leaves_the_original_as_it_was():
    cells = _cells()
    copied = shallow_copy(cells)
    copied.obs["cluster"] = 0
    copied.var["community"] = 1
    copied.obsm["X_latent"] = np.zeros((20, 3))
    copied.uns["run"]["label_key"] = "other"
    copied.X = copied.layers.pop("counts")
    assert "cluster" not in cells.obs and "community" not in cells.var
    assert "X_latent" not in cells.obsm and "counts" in cells.layers
    assert cells.uns["run"]["label_key"] == "group"
