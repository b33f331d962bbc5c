"""Sparse cell and gene graphs: kNN, random surfing, PPMI, symmetric normalisation."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
