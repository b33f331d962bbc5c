"""Kedro datasets for formats that kedro-datasets does not cover."""

from .anndata_dataset import AnnDataDataset

__all__ = ["AnnDataDataset"]
