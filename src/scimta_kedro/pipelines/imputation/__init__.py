"""Dropout-aware imputation from the trained model's count decoder."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
