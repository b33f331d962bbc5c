"""``AnnDataDataset``: an ``.h5ad`` file in the Kedro catalog, saved atomically."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import anndata as ad
import h5py
from anndata.io import read_elem
from kedro.io import AbstractDataset, DatasetError

# Always read when only some matrices are asked for: small next to the cells x genes matrices.
ANNOTATIONS = ("obs", "var", "uns", "obsm", "varm")
# Where the large matrices of an .h5ad live: X itself, or one entry of these groups.
MATRIX_GROUPS = ("layers", "obsp", "varp")


class AnnDataDataset(AbstractDataset[ad.AnnData, ad.AnnData]):
    """Loads and saves an :class:`anndata.AnnData` as a local ``.h5ad`` file.

    A save writes a temporary file in the target folder and renames it over the target
    (an atomic replace on POSIX), so a run that fails while writing leaves the previous file
    intact.

    Example ``catalog.yml`` entries (the second reads the same file without its count
    matrices, through Kedro's transcoding: both are the dataset ``preprocessed_cells``)::

        preprocessed_cells@anndata:
          type: scimta_kedro.datasets.AnnDataDataset
          filepath: data/02_intermediate/preprocessed_cells.h5ad
          save_args:
            compression: gzip

        preprocessed_cells@annotations:
          type: scimta_kedro.datasets.AnnDataDataset
          filepath: data/02_intermediate/preprocessed_cells.h5ad
          matrices: []

    Parameters
    ----------
    filepath
        Local path of the ``.h5ad`` file.
    matrices
        Read only these matrices: ``"X"``, ``"layers/<name>"``, ``"obsp/<name>"`` or
        ``"varp/<name>"``; the annotations (``obs``, ``var``, ``uns``, ``obsm``, ``varm``)
        are always read. ``None`` (default) reads the whole file with
        :func:`anndata.read_h5ad`. A dataset that reads part of a file cannot save it.
    load_args
        Keyword arguments of :func:`anndata.read_h5ad` (e.g. ``backed: r``); whole files only.
    save_args
        Keyword arguments of :meth:`anndata.AnnData.write_h5ad` (e.g. ``compression``).
    metadata
        Free-form metadata, ignored by Kedro (used by kedro-viz).
    """

    def __init__(
        self,
        *,
        filepath: str,
        matrices: list[str] | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._matrices = None if matrices is None else list(matrices)
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.metadata = metadata
        for name in self._matrices or []:
            group, _, key = name.partition("/")
            if not (name == "X" or (group in MATRIX_GROUPS and key)):
                raise DatasetError(
                    f"AnnDataDataset '{self._filepath}': matrices entry '{name}' is not 'X' "
                    f"or '<group>/<name>' with a group in {list(MATRIX_GROUPS)}."
                )
        if self._matrices is not None and self._load_args:
            raise DatasetError(
                f"AnnDataDataset '{self._filepath}': load_args apply to whole files only; "
                "drop them or 'matrices'."
            )

    def load(self) -> ad.AnnData:
        if not self._filepath.exists():
            raise DatasetError(
                f"'{self._filepath}' does not exist yet: run the pipeline that writes it "
                "first (kedro run, or kedro run --pipelines <earlier stage>)."
            )
        if self._matrices is None:
            return ad.read_h5ad(self._filepath, **self._load_args)
        return self._load_parts()

    def _load_parts(self) -> ad.AnnData:
        elements: dict[str, Any] = {}
        with h5py.File(self._filepath, "r") as file:
            for key in ANNOTATIONS:
                if key in file:
                    elements[key] = read_elem(file[key])
            for name in self._matrices:
                if name not in file:
                    raise DatasetError(
                        f"'{self._filepath}' has no '{name}': re-run the pipeline that writes "
                        "it (it may come from an older version of the project)."
                    )
                group, _, key = name.partition("/")
                if key:
                    elements.setdefault(group, {})[key] = read_elem(file[name])
                else:
                    elements["X"] = read_elem(file[name])
        return ad.AnnData(**elements)

    def save(self, data: ad.AnnData) -> None:
        if self._matrices is not None:
            raise DatasetError(
                f"AnnDataDataset '{self._filepath}' reads only {self._matrices} of the file "
                "and cannot save it: save through the catalog entry that reads the whole file."
            )
        if not isinstance(data, ad.AnnData):
            raise DatasetError(
                f"AnnDataDataset '{self._filepath}' can only save AnnData, got "
                f"{type(data).__name__}."
            )
        self._filepath.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._filepath.with_name(f".{self._filepath.name}.{uuid.uuid4().hex}.tmp")
        try:
            data.write_h5ad(temporary, **self._save_args)
            os.replace(temporary, self._filepath)
        finally:
            temporary.unlink(missing_ok=True)

    def _exists(self) -> bool:
        return self._filepath.exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "matrices": self._matrices,
            "load_args": self._load_args,
            "save_args": self._save_args,
        }
