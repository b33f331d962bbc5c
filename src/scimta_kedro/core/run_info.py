"""What the steps record in ``uns``: the data contract (``uns["scimta"]``) and each step's
parameters (``uns[key]["params"]``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import anndata as ad

from . import keys


def recorded_column(adata: ad.AnnData, parameter: str) -> str:
    """The ``obs`` column recorded for ``parameter`` (``"label_key"`` or ``"batch_key"``);
    ``""`` when the run has none."""
    return adata.uns.get(keys.RUN_INFO, {}).get(parameter, "") or ""


def params_record(config: Any) -> dict[str, Any]:
    """A config dataclass as the plain dict a step records in ``uns[key]["params"]`` (tuples
    as lists, ``None`` kept, so that it round-trips through ``.h5ad`` and JSON)."""
    return {
        name: list(value) if isinstance(value, tuple) else value
        for name, value in dataclasses.asdict(config).items()
    }


def recorded_params(adata: ad.AnnData, key: str) -> dict[str, Any]:
    """The parameters a step recorded in ``uns[key]["params"]``, or ``{}``."""
    return dict(adata.uns.get(key, {}).get("params", {}))
