"""What the steps record in ``uns``: the data contract (``uns["scimta"]``) and each step's
parameters (``uns[key]["params"]``)."""

from __future__ import annotations

import dataclasses
import time
import uuid
from pathlib import Path
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


def new_analysis_record(input_path: str) -> dict[str, Any]:
    """A fresh analysis identity: a random ``run_id`` and the input's fingerprint (path,
    size in bytes, modification time), so that every later output can name what made it."""
    record: dict[str, Any] = {"run_id": uuid.uuid4().hex, "input_path": input_path}
    path = Path(input_path)
    if input_path and path.is_file():
        stat = path.stat()
        record["input_size_bytes"] = int(stat.st_size)
        record["input_modified"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stat.st_mtime))
    return record


def carried_record(adata: ad.AnnData) -> dict[str, Any]:
    """``uns["scimta"]`` of ``adata`` (``{}`` if none), to hand on to a stage's output."""
    return dict(adata.uns.get(keys.RUN_INFO, {}))


def describe_run(adata: ad.AnnData) -> str:
    """``run <id> on <input>`` of the analysis that made ``adata``."""
    record = adata.uns.get(keys.RUN_INFO, {})
    return f"run {record.get('run_id', '?')} on {record.get('input_path') or 'unknown input'}"
