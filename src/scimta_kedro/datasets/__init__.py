"""Kedro datasets for formats that kedro-datasets does not cover."""

from .anndata_dataset import AnnDataDataset
from .figure_dataset import FigureDataset

__all__ = ["AnnDataDataset", "FigureDataset"]
