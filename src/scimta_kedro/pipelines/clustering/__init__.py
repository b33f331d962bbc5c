"""Final cluster assignments, UMAP, metrics and plots."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
