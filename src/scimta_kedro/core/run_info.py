"""What data processing recorded about the run in ``uns["scimta"]`` for the later stages."""

from __future__ import annotations

import anndata as ad

from . import keys


def recorded_column(adata: ad.AnnData, parameter: str) -> str:
    """The ``obs`` column recorded for ``parameter`` (``"label_key"`` or ``"batch_key"``);
    ``""`` when the run has none."""
    return adata.uns.get(keys.RUN_INFO, {}).get(parameter, "") or ""
