"""Batch correction report: how well the latent mixes batches, before and after."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
