"""scimta-kedro: interpretable multi-task analysis of single-cell RNA-seq as a Kedro project."""

__version__ = "0.1.0"
