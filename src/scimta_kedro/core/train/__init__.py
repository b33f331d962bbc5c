"""Training of the graph autoencoder.

``config`` (settings), ``data`` (what the model trains on), ``edges`` and ``subgraphs`` (what
each step samples), ``trainer`` (one step and how its losses combine) and ``loop`` (the two
phases: pretraining, then DEC fine-tuning from :mod:`scimta_kedro.core.dec_start`).
"""

from .config import CLUSTER_COUNT_GRAPHS, TrainingConfig
from .data import GraphData, encoder_features

# ``loop`` imports TensorFlow (about 4 s): it is loaded when training is first asked for, so
# reading a config or preprocessing does not pay for it.
_IN_LOOP = ("TrainingResult", "train_graph_autoencoder")


def __getattr__(name: str):
    if name in _IN_LOOP:
        from ...startup import import_tensorflow_quietly

        import_tensorflow_quietly()
        from . import loop

        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CLUSTER_COUNT_GRAPHS",
    "GraphData",
    "TrainingConfig",
    "TrainingResult",
    "encoder_features",
    "train_graph_autoencoder",
]
