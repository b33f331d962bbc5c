"""Sparse cell graph: kNN on PCA, random surfing, PPMI, symmetric normalisation."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
