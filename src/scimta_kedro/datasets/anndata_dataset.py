"""``AnnDataDataset``: an ``.h5ad`` file in the Kedro catalog, saved atomically."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import anndata as ad
from kedro.io import AbstractDataset, DatasetError


class AnnDataDataset(AbstractDataset[ad.AnnData, ad.AnnData]):
    """Loads and saves an :class:`anndata.AnnData` as a local ``.h5ad`` file.

    A save writes a temporary file in the target folder and renames it over the target
    (an atomic replace on POSIX), so a run that fails while writing leaves the previous file
    intact.

    Example ``catalog.yml`` entry::

        preprocessed_cells:
          type: scimta_kedro.datasets.AnnDataDataset
          filepath: data/02_intermediate/preprocessed_cells.h5ad
          save_args:
            compression: gzip

    Parameters
    ----------
    filepath
        Local path of the ``.h5ad`` file.
    load_args
        Keyword arguments of :func:`anndata.read_h5ad` (e.g. ``backed: r``).
    save_args
        Keyword arguments of :meth:`anndata.AnnData.write_h5ad` (e.g. ``compression``).
    metadata
        Free-form metadata, ignored by Kedro (used by kedro-viz).
    """

    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._load_args = dict(load_args or {})
        self._save_args = dict(save_args or {})
        self.metadata = metadata

    def load(self) -> ad.AnnData:
        if not self._filepath.exists():
            raise DatasetError(
                f"'{self._filepath}' does not exist yet: run the pipeline that writes it "
                "first (kedro run, or kedro run --pipeline <earlier stage>)."
            )
        return ad.read_h5ad(self._filepath, **self._load_args)

    def save(self, data: ad.AnnData) -> None:
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
            "load_args": self._load_args,
            "save_args": self._save_args,
        }
