import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from scimta_kedro.core.io import read_cells
from scimta_kedro.core.validate import (
    InputError,
    check_enough_observations,
    check_same_cells,
    make_obs_columns_usable,
    validate_counts,
)


def _counts(n_cells=30, n_genes=20, seed=0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    matrix = rng.poisson(3.0, size=(n_cells, n_genes)).astype(np.float32)
    adata = ad.AnnData(sp.csr_matrix(matrix))
    adata.obs_names = [f"c{i}" for i in range(n_cells)]
    adata.var_names = [f"g{j}" for j in range(n_genes)]
    adata.obs["cell_type"] = "a"
    return adata


def test_valid_counts_pass_unchanged():
    adata = _counts()
    result = validate_counts(adata, n_neighbors=5, obs_keys={"label_key": "cell_type"})
    assert result.shape == adata.shape


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(InputError, match=r"does not exist.*input_path"):
        read_cells(tmp_path / "missing.h5ad")


def test_file_that_is_not_h5ad_is_rejected(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"neither an \.h5ad file nor a 10x \.h5 matrix"):
        read_cells(path)


def _write_10x_h5(path, counts: sp.csr_matrix, symbols: list[str]) -> None:
    """A Cell Ranger v3 ``filtered_feature_bc_matrix.h5``: CSC genes x cells under matrix/."""
    import h5py

    by_gene = sp.csc_matrix(counts.T.astype(np.int32))
    with h5py.File(path, "w") as file:
        group = file.create_group("matrix")
        group["barcodes"] = np.array([f"AAAC-{i}" for i in range(counts.shape[0])], dtype="S")
        group["data"] = by_gene.data
        group["indices"] = by_gene.indices.astype(np.int64)
        group["indptr"] = by_gene.indptr.astype(np.int64)
        group["shape"] = np.array(by_gene.shape, dtype=np.int32)
        features = group.create_group("features")
        features["id"] = np.array([f"ENSG{j:05d}" for j in range(counts.shape[1])], dtype="S")
        features["name"] = np.array(symbols, dtype="S")
        features["feature_type"] = np.array(["Gene Expression"] * counts.shape[1], dtype="S")
        features["genome"] = np.array(["GRCh38"] * counts.shape[1], dtype="S")
        features["_all_tag_keys"] = np.array([b"genome"])


# scanpy warns about the duplicated symbols before read_cells makes them unique.
@pytest.mark.filterwarnings("ignore:Variable names are not unique")
def test_10x_h5_matrix_reads_as_the_same_counts_with_unique_symbols(tmp_path):
    counts = sp.random(30, 12, density=0.3, format="csr", random_state=0) * 20
    counts.data = np.ceil(counts.data)
    symbols = [f"G{j}" for j in range(11)] + ["G0"]  # 10x files repeat some symbols
    path = tmp_path / "filtered_feature_bc_matrix.h5"
    _write_10x_h5(path, counts, symbols)
    cells = read_cells(path)
    assert cells.shape == (30, 12)
    np.testing.assert_array_equal(cells.X.toarray(), counts.toarray())
    assert cells.var_names.is_unique and cells.var["gene_ids"].iloc[-1] == "ENSG00011"
    validate_counts(cells, n_neighbors=5)  # passes every input check as it is


def test_h5_that_is_not_a_10x_matrix_is_named(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["something"] = np.arange(3)
    with pytest.raises(InputError, match="not a Cell Ranger feature-barcode matrix"):
        read_cells(path)


def test_corrupt_h5ad_is_rejected(tmp_path):
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="could not read"):
        read_cells(path)


def test_empty_matrix_is_rejected():
    with pytest.raises(InputError, match="empty"):
        validate_counts(ad.AnnData(np.zeros((0, 5), dtype=np.float32)), n_neighbors=3)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf])
def test_nan_and_inf_are_rejected(bad_value):
    adata = _counts()
    adata.X = adata.X.toarray()
    adata.X[3, 4] = bad_value
    with pytest.raises(InputError, match="NaN or infinite"):
        validate_counts(adata, n_neighbors=5)


def test_negative_counts_are_rejected():
    adata = _counts()
    adata.X = adata.X.toarray()
    adata.X[0, 0] = -1
    with pytest.raises(InputError, match="negative"):
        validate_counts(adata, n_neighbors=5)


def test_log_transformed_data_is_recognised():
    adata = _counts()
    adata.X = adata.X.log1p()
    with pytest.raises(InputError, match="log-transformed"):
        validate_counts(adata, n_neighbors=5)


def test_normalised_data_is_recognised_and_the_counts_layer_is_suggested():
    adata = _counts()
    adata.layers["counts"] = adata.X.copy()
    totals = np.asarray(adata.X.sum(axis=1))
    adata.X = sp.csr_matrix(adata.X.multiply(1e4 / totals))
    with pytest.raises(InputError, match=r"library-size normalised.*\['counts'\]"):
        validate_counts(adata, n_neighbors=5)
    # The fix the message names works.
    validate_counts(adata, n_neighbors=5, counts_layer="counts")


def test_unknown_counts_layer_lists_the_layers():
    with pytest.raises(InputError, match=r"counts_layer 'raw'.*available layers: \[\]"):
        validate_counts(_counts(), n_neighbors=5, counts_layer="raw")


def test_too_few_cells_for_k_names_both_numbers_and_the_parameter():
    with pytest.raises(InputError, match=r"only 10 cells.*n_neighbors=15.*Lower"):
        validate_counts(_counts(n_cells=10), n_neighbors=15)


def test_all_zero_cells_and_genes_are_dropped_and_logged(caplog):
    adata = _counts()
    adata.X = adata.X.toarray()
    adata.X[2, :] = 0
    adata.X[:, 7] = 0
    with caplog.at_level("INFO"):
        result = validate_counts(adata, n_neighbors=5)
    assert result.shape == (29, 19)
    assert "c2" not in result.obs_names and "g7" not in result.var_names
    assert "Dropped 1 all-zero cells and 1 all-zero genes" in caplog.text


def test_all_zero_matrix_is_an_error():
    adata = _counts()
    adata.X = sp.csr_matrix(adata.shape, dtype=np.float32)
    with pytest.raises(InputError, match="only zero counts"):
        validate_counts(adata, n_neighbors=5)


@pytest.mark.parametrize("axis", ["obs", "var"])
def test_duplicated_names_are_rejected(axis):
    adata = _counts()
    names = list(getattr(adata, f"{axis}_names"))
    names[1] = names[0]
    setattr(adata, f"{axis}_names", names)
    with pytest.raises(InputError, match=r"duplicated.*make_unique"):
        validate_counts(adata, n_neighbors=5)


def test_missing_label_column_lists_the_available_columns():
    with pytest.raises(InputError, match=r"label_key 'celltype'.*\['cell_type'\]"):
        validate_counts(_counts(), n_neighbors=5, obs_keys={"label_key": "celltype"})


def test_unset_label_key_is_not_checked():
    validate_counts(_counts(), n_neighbors=5, obs_keys={"label_key": None, "batch_key": ""})


def test_k_must_be_positive():
    with pytest.raises(InputError, match="at least 1"):
        check_enough_observations(10, 0)


def test_outputs_of_different_cells_are_detected():
    first, second = _counts(), _counts()
    second.obs_names = [f"x{i}" for i in range(second.n_obs)]
    with pytest.raises(InputError, match="different cells"):
        check_same_cells(first, second, ("a", "b"))


def test_a_label_column_with_missing_values_is_refused_before_training():
    adata = _counts()
    adata.obs["cell_type"] = ["a"] * 29 + [np.nan]
    with pytest.raises(InputError, match=r"label_key 'cell_type' has 1 missing values"):
        make_obs_columns_usable(adata, label_key="cell_type")


def test_a_batch_column_with_one_batch_is_refused():
    adata = _counts()
    adata.obs["plate"] = "p1"
    with pytest.raises(InputError, match=r"batch_key 'plate' holds a single batch \('p1'\)"):
        make_obs_columns_usable(adata, batch_key="plate")


def test_numeric_batch_and_label_columns_become_categories():
    adata = _counts()
    adata.obs["plate"] = np.arange(30) % 3
    adata.obs["cell_type"] = np.arange(30) % 2
    make_obs_columns_usable(adata, label_key="cell_type", batch_key="plate")
    assert list(adata.obs["plate"].cat.categories) == ["0", "1", "2"]
    assert list(adata.obs["cell_type"].cat.categories) == ["0", "1"]


def test_an_h5ad_without_x_names_the_counts_layer_setting(tmp_path):
    adata = _counts()
    adata.layers["raw"] = adata.X.copy()
    adata.X = None
    with pytest.raises(InputError, match=r"no X matrix.*counts_layer \(layers: \['raw'\]\)"):
        validate_counts(adata, n_neighbors=5)


def test_an_h5ad_renamed_h5_is_named_as_such(tmp_path):
    _counts().write_h5ad(tmp_path / "cells.h5")
    with pytest.raises(InputError, match=r"AnnData file with an .h5 suffix.*Rename it to .h5ad"):
        read_cells(tmp_path / "cells.h5")
