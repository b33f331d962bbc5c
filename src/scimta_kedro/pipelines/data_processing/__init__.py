"""Load, validate, QC, normalise, select HVGs, scale and run PCA."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
