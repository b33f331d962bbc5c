"""The imputation node checks its inputs before decoding anything."""

from __future__ import annotations

import anndata as ad
import pytest

from scimta_kedro.core.validate import InputError
from scimta_kedro.pipelines.imputation.nodes import impute_cells


def _cells_only(cells: ad.AnnData) -> ad.AnnData:
    return ad.AnnData(obs=cells.obs[[]].copy())


def test_missing_counts_layer_is_named(small_counts):
    with pytest.raises(InputError, match=r"no layers\['counts'\] with raw counts"):
        impute_cells(
            small_counts,
            _cells_only(small_counts),
            _cells_only(small_counts),
            None,
            options={},
        )


def test_outputs_of_another_run_are_refused(small_counts):
    with pytest.raises(InputError, match="describe different cells"):
        impute_cells(
            small_counts,
            _cells_only(small_counts[:10]),
            _cells_only(small_counts),
            None,
            options={},
        )
