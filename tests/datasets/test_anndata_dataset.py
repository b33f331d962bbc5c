import anndata as ad
import numpy as np
import pytest
from kedro.io import DatasetError

from scimta_kedro.datasets import AnnDataDataset


def test_round_trip_keeps_matrix_and_annotations(tmp_path, small_counts):
    dataset = AnnDataDataset(filepath=str(tmp_path / "sub" / "cells.h5ad"))
    assert not dataset.exists()
    dataset.save(small_counts)
    assert dataset.exists()
    loaded = dataset.load()
    assert (loaded.X != small_counts.X).nnz == 0
    assert list(loaded.obs["cell_type"]) == list(small_counts.obs["cell_type"])
    assert list(tmp_path.joinpath("sub").iterdir()) == [tmp_path / "sub" / "cells.h5ad"]


def test_failed_save_leaves_the_previous_file_intact(tmp_path, small_counts, monkeypatch):
    path = tmp_path / "cells.h5ad"
    dataset = AnnDataDataset(filepath=str(path))
    dataset.save(small_counts)
    before = path.read_bytes()

    def write_half_then_fail(self, filename, **kwargs):
        with open(filename, "wb") as handle:
            handle.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ad.AnnData, "write_h5ad", write_half_then_fail)
    with pytest.raises(DatasetError, match="disk full"):
        dataset.save(small_counts[:10].copy())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cells.h5ad"]  # no temporary left


def test_loading_a_missing_file_says_which_stage_to_run(tmp_path):
    with pytest.raises(DatasetError, match=r"does not exist yet.*kedro run"):
        AnnDataDataset(filepath=str(tmp_path / "none.h5ad")).load()


def test_only_anndata_can_be_saved(tmp_path):
    with pytest.raises(DatasetError, match="can only save AnnData"):
        AnnDataDataset(filepath=str(tmp_path / "x.h5ad")).save(np.zeros(3))


def test_save_args_are_passed_on(tmp_path, small_counts):
    dataset = AnnDataDataset(filepath=str(tmp_path / "c.h5ad"), save_args={"compression": "gzip"})
    dataset.save(small_counts)
    assert dataset.load().shape == small_counts.shape
    assert "gzip" in str(dataset)


def _annotated_cells(small_counts):
    cells = small_counts.copy()
    cells.layers["counts"] = cells.X.copy()
    cells.layers["log_normalized"] = cells.X.copy()
    cells.obsm["X_pca"] = np.ones((cells.n_obs, 3), dtype=np.float32)
    cells.uns["scimta"] = {"label_key": "cell_type"}
    return cells


def test_reading_only_some_matrices_keeps_every_annotation(tmp_path, small_counts):
    cells = _annotated_cells(small_counts)
    path = str(tmp_path / "cells.h5ad")
    AnnDataDataset(filepath=path).save(cells)
    annotations = AnnDataDataset(filepath=path, matrices=[]).load()
    assert annotations.X is None and not annotations.layers
    assert annotations.shape == cells.shape
    assert list(annotations.obs["cell_type"]) == list(cells.obs["cell_type"])
    np.testing.assert_array_equal(annotations.obsm["X_pca"], cells.obsm["X_pca"])
    assert annotations.uns["scimta"] == {"label_key": "cell_type"}
    counts = AnnDataDataset(filepath=path, matrices=["X", "layers/counts"]).load()
    assert set(counts.layers) == {"counts"}
    assert (counts.layers["counts"] != cells.layers["counts"]).nnz == 0
    assert (counts.X != cells.X).nnz == 0


def test_a_partial_reader_cannot_save_or_read_what_is_missing(tmp_path, small_counts):
    path = str(tmp_path / "cells.h5ad")
    AnnDataDataset(filepath=path).save(small_counts)
    with pytest.raises(DatasetError, match="has no 'layers/counts'"):
        AnnDataDataset(filepath=path, matrices=["layers/counts"]).load()
    with pytest.raises(DatasetError, match="cannot save it"):
        AnnDataDataset(filepath=path, matrices=[]).save(small_counts)
    with pytest.raises(DatasetError, match="is not 'X' or '<group>/<name>'"):
        AnnDataDataset(filepath=path, matrices=["obsm"])
