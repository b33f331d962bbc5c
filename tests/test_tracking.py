"""The input recorded as an MLflow dataset: source, name, a content digest, shape tags."""

from __future__ import annotations

import json

import anndata as ad
import mlflow
import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro import tracking
from scimta_kedro.core.keys import RUN_INFO


def _cells(input_path: str, value: float = 1.0) -> ad.AnnData:
    cells = ad.AnnData(X=sp.csr_matrix(np.full((4, 3), value, dtype=np.float32)))
    cells.uns[RUN_INFO] = {"run_id": "abc", "input_path": input_path, "label_key": "cell_type"}
    return cells


def test_a_file_digest_follows_its_content_not_its_name(tmp_path):
    first, second = tmp_path / "a.h5ad", tmp_path / "b.h5ad"
    first.write_bytes(b"counts")
    second.write_bytes(b"counts")
    assert tracking.file_digest(first) == tracking.file_digest(second)
    second.write_bytes(b"other counts")
    assert tracking.file_digest(first) != tracking.file_digest(second)
    assert len(tracking.file_digest(first)) == tracking.DIGEST_CHARACTERS


def test_a_folder_digest_covers_its_files(tmp_path):
    folder = tmp_path / "filtered_feature_bc_matrix"
    folder.mkdir()
    (folder / "matrix.mtx").write_bytes(b"1 2 3")
    before = tracking.file_digest(folder)
    (folder / "barcodes.tsv").write_bytes(b"AAAC")
    assert tracking.file_digest(folder) != before


def test_the_input_dataset_names_the_file_and_its_shape(tmp_path):
    path = tmp_path / "pbmc_4k.h5ad"
    path.write_bytes(b"data")
    dataset, tags = tracking.input_dataset(_cells(str(path)))
    assert dataset.name == "pbmc_4k"
    assert dataset.digest == tracking.file_digest(path)
    assert json.loads(dataset.source.to_json())["uri"] == str(path.resolve())
    assert tags == {"n_cells": "4", "n_genes": "3", "label_key": "cell_type", "batch_key": ""}


def test_simulated_input_is_digested_from_its_matrix():
    first, _ = tracking.input_dataset(_cells("simulated"))
    again, _ = tracking.input_dataset(_cells("simulated"))
    other, _ = tracking.input_dataset(_cells("simulated", value=2.0))
    assert first.name == "simulated"
    assert first.digest == again.digest != other.digest


def test_log_input_records_the_dataset_and_identity_tags(tmp_path):
    path = tmp_path / "kidney.h5ad"
    path.write_bytes(b"data")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            tracking.log_input(_cells(str(path)))
        recorded = mlflow.get_run(run.info.run_id)
    finally:
        mlflow.set_tracking_uri(None)
    (dataset_input,) = recorded.inputs.dataset_inputs
    assert dataset_input.dataset.name == "kidney"
    assert recorded.data.tags["scimta.input_name"] == "kidney"
    assert recorded.data.tags["scimta.input_digest"] == tracking.file_digest(path)
    assert recorded.data.tags["scimta.run_id"] == "abc"
    assert "scimta.batch_key" not in recorded.data.tags


@pytest.mark.parametrize(("path", "name"), [("", "simulated"), ("/x/pbmc_4k.h5ad", "pbmc_4k")])
def test_input_name(path, name):
    assert tracking.input_name(path) == name
