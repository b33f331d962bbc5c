"""What a run records in MLflow about its input: the input as an MLflow dataset, and tags.

The hooks call these; the core library never imports MLflow. A user finds the runs of one
input in the UI with ``tags.scimta.input_name = 'pbmc_4k'`` or in the run's "Datasets" box.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anndata as ad
import mlflow
import numpy as np
import scipy.sparse as sp
from mlflow.data.meta_dataset import MetaDataset
from mlflow.data.sources import CodeDatasetSource, LocalArtifactDatasetSource

from scimta_kedro.core.keys import RUN_INFO

SIMULATED = "simulated"
# Digests name content, not identity: 16 hex digits (64 bits) keep two inputs apart.
DIGEST_CHARACTERS = 16
_CHUNK_BYTES = 1 << 24


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or of every file's name and bytes under a folder."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with file.open("rb") as stream:
            while chunk := stream.read(_CHUNK_BYTES):
                digest.update(chunk)
    return digest.hexdigest()[:DIGEST_CHARACTERS]


def matrix_digest(matrix) -> str:
    """SHA-256 of an in-memory count matrix (the simulated input has no file)."""
    digest = hashlib.sha256()
    if sp.issparse(matrix):
        matrix = sp.csr_matrix(matrix)
        for part in (matrix.data, matrix.indices, matrix.indptr):
            digest.update(np.ascontiguousarray(part).tobytes())
    else:
        digest.update(np.ascontiguousarray(matrix).tobytes())
    return digest.hexdigest()[:DIGEST_CHARACTERS]


def is_simulated(input_path: str) -> bool:
    return input_path in ("", SIMULATED)


def input_name(input_path: str) -> str:
    """The input's file stem, or ``simulated``: what the run name and tags call it."""
    return SIMULATED if is_simulated(input_path) else Path(input_path).stem


def input_dataset(cells: ad.AnnData) -> tuple[MetaDataset, dict[str, str]]:
    """The validated input as an MLflow dataset (source, name, digest) and its input tags
    (shape, columns), from ``uns["scimta"]`` of the first node's output."""
    record = cells.uns.get(RUN_INFO, {})
    path = str(record.get("input_path") or "")
    if not is_simulated(path):
        source = LocalArtifactDatasetSource(str(Path(path).resolve()))
        digest = file_digest(Path(path))
    else:
        source = CodeDatasetSource({"simulator": "scimta_kedro.core.simulate"})
        digest = matrix_digest(cells.X)
    dataset = MetaDataset(source=source, name=input_name(path), digest=digest)
    tags = {
        "n_cells": str(cells.n_obs),
        "n_genes": str(cells.n_vars),
        "label_key": str(record.get("label_key") or ""),
        "batch_key": str(record.get("batch_key") or ""),
    }
    return dataset, tags


def log_input(cells: ad.AnnData) -> None:
    """Log the input dataset and the run's identity tags (``scimta.*``)."""
    dataset, tags = input_dataset(cells)
    mlflow.log_input(dataset, context="input", tags=tags)
    record = cells.uns.get(RUN_INFO, {})
    identity: dict[str, Any] = {
        "input_name": dataset.name,
        "input_digest": dataset.digest,
        "label_key": tags["label_key"],
        "batch_key": tags["batch_key"],
        **{
            name: record.get(name)
            for name in ("run_id", "input_path", "input_size_bytes", "input_modified")
        },
    }
    mlflow.set_tags(
        {
            f"scimta.{name}": str(value)
            for name, value in identity.items()
            if value not in (None, "")
        }
    )
