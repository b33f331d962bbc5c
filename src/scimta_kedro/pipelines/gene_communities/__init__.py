"""Gene communities from the gene graph, and the gene communities that characterise each cluster."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
