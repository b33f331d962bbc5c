"""Training of the graph autoencoder.

``config`` (settings), ``data`` (what the model trains on), ``edges`` and ``subgraphs`` (what
each step samples), ``trainer`` (one step and how its losses combine) and ``loop`` (the two
phases: pretraining, then DEC fine-tuning from :mod:`scimta_kedro.core.dec_start`).
"""

from .config import CLUSTER_COUNT_GRAPHS, TrainingConfig
from .data import GraphData, encoder_features
from .loop import TrainingResult, train_graph_autoencoder

__all__ = [
    "CLUSTER_COUNT_GRAPHS",
    "GraphData",
    "TrainingConfig",
    "TrainingResult",
    "encoder_features",
    "train_graph_autoencoder",
]
