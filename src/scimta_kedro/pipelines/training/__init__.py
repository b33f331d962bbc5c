"""Graph autoencoder: reconstruction pretraining, then DEC fine-tuning."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
