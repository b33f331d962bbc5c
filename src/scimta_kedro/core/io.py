"""Reading cells: ``.h5ad`` files (in memory or backed) and 10x ``.h5`` matrices, and row
blocks of a matrix that may be on disk."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import scipy.sparse as sp
from anndata.abc import CSCDataset, CSRDataset

from .errors import InputError

logger = logging.getLogger(__name__)

READABLE_SUFFIXES = (".h5ad", ".h5")


def read_cells(path: str | Path, max_nonzeros_in_memory: int | None = None) -> ad.AnnData:
    """Read an ``.h5ad`` file or a 10x Genomics ``.h5`` matrix, with clear errors.

    Parameters
    ----------
    path
        An AnnData ``.h5ad`` file, or a Cell Ranger ``filtered_feature_bc_matrix.h5`` (v3
        layout, or v2 with one genome). From a 10x file the gene symbols become
        ``var_names`` (made unique: 10x lists some symbols twice) and the Ensembl IDs stay in
        ``var["gene_ids"]``.
    max_nonzeros_in_memory
        An ``.h5ad`` whose sparse ``X`` stores more values than this is opened backed
        (``X`` stays on disk and is read in row chunks by the streamed preprocessing);
        ``None`` always loads it. 10x ``.h5`` files are always loaded whole.

    Returns
    -------
    The AnnData object, loaded in memory or backed (read-only).

    Raises
    ------
    InputError
        If the file does not exist, has another suffix, or cannot be parsed.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(
            f"input file '{path}' does not exist. Pass the path of an existing .h5ad or 10x "
            '.h5 file, e.g. kedro run --params "input_path=/data/cells.h5ad", or leave '
            "input_path empty to analyse the built-in simulated data."
        )
    if path.is_dir() or path.suffix not in READABLE_SUFFIXES:
        raise InputError(
            f"input '{path}' is neither an .h5ad file nor a 10x .h5 matrix. Convert it to "
            "AnnData first (e.g. scanpy.read_csv / read_mtx, then .write_h5ad('cells.h5ad')) "
            "and pass that path."
        )
    if path.suffix == ".h5" and _is_anndata(path):
        raise InputError(
            f"'{path}' is an AnnData file with an .h5 suffix, which is read as a 10x matrix. "
            "Rename it to .h5ad and pass that path."
        )
    try:
        if path.suffix == ".h5":
            return _read_10x_h5(path)
        stored = _stored_nonzeros(path)
        if max_nonzeros_in_memory is not None and stored > max_nonzeros_in_memory:
            logger.info(
                "%s stores %d counts (more than %d): reading it from disk in chunks.",
                path,
                stored,
                max_nonzeros_in_memory,
            )
            return read_backed(path)
        return ad.read_h5ad(path)
    except Exception as error:  # h5py and anndata raise many unrelated types here
        expected = (
            "a Cell Ranger feature-barcode matrix (.h5)"
            if path.suffix == ".h5"
            else "AnnData; re-export it with adata.write_h5ad()"
        )
        raise InputError(
            f"could not read '{path}' ({type(error).__name__}: {error}). The file may be "
            f"truncated or not {expected}."
        ) from error


def _is_anndata(path: Path) -> bool:
    """Whether an HDF5 file has AnnData's layout (``obs`` and ``var`` groups)."""
    try:
        with h5py.File(path, "r") as file:
            return "obs" in file and "var" in file
    except OSError:
        return False  # not HDF5 at all: the reader's own error names it


def _stored_nonzeros(path: Path) -> int:
    """Values stored in ``X`` of an ``.h5ad`` (0 for a dense or missing ``X``)."""
    with h5py.File(path, "r") as file:
        matrix = file.get("X")
        if isinstance(matrix, h5py.Group) and "data" in matrix:
            return int(matrix["data"].shape[0])
    return 0


def _read_10x_h5(path: Path) -> ad.AnnData:
    import scanpy as sc

    cells = sc.read_10x_h5(path)
    duplicated = int(cells.var_names.duplicated().sum())
    if duplicated:
        cells.var_names_make_unique()
        logger.info("Made %d duplicated 10x gene symbols unique (suffix -1, -2, ...).", duplicated)
    return cells


def read_backed(path: str | Path) -> ad.AnnData:
    """An ``.h5ad`` opened backed (read-only) with its sparse layers left on disk too.

    ``anndata.read_h5ad(backed="r")`` leaves only ``X`` on disk and loads every layer whole,
    so a large file with a counts layer beside ``X`` (or the simulator's pre-dropout counts)
    needs the memory of the whole matrix again. Here sparse layers stay on disk, read in row
    chunks as ``X`` is, and dense layers are loaded. ``obsp``, ``varp`` and ``raw`` are not
    read: the analysis uses none of them.
    """
    from anndata.io import read_elem, sparse_dataset

    file = h5py.File(path, "r")
    if "encoding-type" not in file.attrs:  # written before anndata 0.7: anndata's own reader
        file.close()
        return ad.read_h5ad(path, backed="r")
    elements = {
        key: read_elem(file[key]) for key in ("obs", "var", "uns", "obsm", "varm") if key in file
    }
    cells = ad.AnnData(filename=file, **elements)
    for name, stored in file.get("layers", {}).items():
        is_sparse = isinstance(stored, h5py.Group)
        cells.layers[name] = sparse_dataset(stored) if is_sparse else read_elem(stored)
    return cells


def is_on_disk(matrix) -> bool:
    """Whether ``matrix`` is a sparse matrix read lazily from a backed ``.h5ad``."""
    return isinstance(matrix, CSRDataset | CSCDataset)


def row_blocks(matrix, block_size: int) -> Iterator[tuple[int, sp.csr_matrix]]:
    """Yield ``(first_row, block)``: consecutive row blocks of a dense, sparse or backed
    sparse matrix as CSR. A backed matrix is read one block at a time."""
    if isinstance(matrix, CSCDataset):
        raise InputError(
            "the counts are stored column by column (CSC), which cannot be read in row chunks. "
            "Re-save them as CSR: adata.X = scipy.sparse.csr_matrix(adata.X) before "
            "adata.write_h5ad(), or analyse a file small enough to load."
        )
    for start in range(0, matrix.shape[0], block_size):
        yield start, sp.csr_matrix(matrix[start : start + block_size], dtype=np.float32)
