"""Settings of :func:`~scimta_kedro.core.train.train_graph_autoencoder`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..value_checks import check_ranges

# Count likelihoods of the expression decoder (core/nn/likelihoods.py).
LIKELIHOODS = ("nb", "zinb")

# Graphs whose Leiden count sets the number of clusters with n_clusters: auto.
CLUSTER_COUNT_GRAPHS = ("knn", "ppmi")


@dataclass(frozen=True)
class TrainingConfig:
    """Model shape, optimisation and clustering settings of :func:`train_graph_autoencoder`.

    ``n_clusters`` is an int or ``"auto"``: the number of Leiden clusters (at
    ``leiden_resolution``), found without labels, of the kNN graph weighted as scanpy
    weights it (``cluster_count_graph: knn``, :attr:`GraphData.knn_connectivities`) or of the
    PPMI cell graph the model reconstructs (``ppmi``). DEC starts from the PPMI graph's Leiden
    clusters at ``start_resolution`` either way, split or merged to that number; with
    ``start_ensemble_runs`` above 1, Leiden's consensus over that many seeded runs
    (:func:`~scimta_kedro.core.ensemble_leiden.ensemble_leiden`), on graphs of up to
    ``start_ensemble_max_cells`` cells (``None``: any size; larger graphs take one run).
    With batches (:attr:`GraphData.batches`), ``batch_conditioned_decoder`` feeds each cell's
    batch to the expression decoder and ``batch_penalty_weight`` weighs an MMD penalty on
    batch differences of the latent codes (0: off).

    ``encoder_input`` names what the encoder reads: ``"X"`` (the scaled HVGs) or an
    ``obsm`` key such as ``"X_pca"`` (:func:`scimta_kedro.tl.fit` reads it; the training loop
    gets the matrix itself in :attr:`GraphData.features`).

    Each epoch is one optimisation step. Graphs of up to ``max_cells_per_step`` cells train
    on the whole graph at every step (full batch); larger ones on a random Cluster-GCN
    subgraph of about that many cells (:mod:`scimta_kedro.core.train.subgraphs`), so a step's cost
    does not grow with the number of cells.

    For the first ``start_target_epochs`` of fine-tuning (rounded up to a target update)
    DEC's target is the start partition itself, label-smoothed
    (:func:`~scimta_kedro.core.nn.likelihoods.partition_target`), instead of the sharpened soft
    assignment: the latent space first learns the partition DEC starts from, which its
    nearest-centre assignment otherwise loses part of at once (docs/benchmarks.md: accuracy).
    0 starts with DEC's own target.
    """

    encoder_input: str = "X_pca"
    hidden_units: tuple[int, ...] = (128,)
    latent_dim: int = 15
    decoder_units: tuple[int, ...] = (128, 256, 512)
    dropout_rate: float = 0.2
    likelihood: str = "nb"
    normalize_edge_decoder: bool = True
    pretrain_epochs: int = 60
    pretrain_learning_rate: float = 1e-3
    finetune_epochs: int = 30
    finetune_learning_rate: float = 5e-4
    graph_loss_weight: float = 0.3
    expression_loss_weight: float = 1.0
    cluster_loss_weight: float = 1.5
    edge_samples_per_node: int = 5
    expression_batch_size: int = 256
    target_update_interval: int = 10
    target_frequency_exponent: float = 0.5
    label_change_tolerance: float = 0.001
    start_target_epochs: int = 20
    batch_conditioned_decoder: bool = True
    batch_penalty_weight: float = 1.0
    max_cells_per_step: int = 20000
    n_clusters: int | str = "auto"
    leiden_resolution: float = 0.3
    start_resolution: float = 0.3
    start_ensemble_runs: int = 3
    start_ensemble_max_cells: int | None = 100000
    cluster_count_graph: str = "knn"
    log_every: int = 25
    deterministic_ops: bool = True
    random_state: int = 0

    def __post_init__(self) -> None:
        # YAML gives lists; the frozen config keeps hashable tuples.
        for name in ("hidden_units", "decoder_units"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.n_clusters != "auto" and not (
            isinstance(self.n_clusters, int) and self.n_clusters >= 2
        ):
            raise ValueError(
                f"n_clusters must be 'auto' or an integer >= 2, got {self.n_clusters!r}."
            )
        exponent = self.target_frequency_exponent
        if not (isinstance(exponent, int | float) and np.isfinite(exponent) and exponent >= 0):
            raise ValueError(
                f"target_frequency_exponent must be a finite number >= 0 (0.5 by default, 1.0 "
                f"is DEC's target), got {exponent!r}."
            )
        check_ranges(
            self,
            at_least={
                "pretrain_epochs": 1,
                "finetune_epochs": 0,
                "target_update_interval": 1,
                "max_cells_per_step": 2,
                "start_target_epochs": 0,
                "latent_dim": 1,
                "edge_samples_per_node": 1,
                "expression_batch_size": 1,
                "graph_loss_weight": 0,
                "expression_loss_weight": 0,
                "cluster_loss_weight": 0,
                "batch_penalty_weight": 0,
                "log_every": 1,
                "start_ensemble_runs": 1,
                "start_ensemble_max_cells": 1,
            },
            above={
                "pretrain_learning_rate": 0,
                "finetune_learning_rate": 0,
                "leiden_resolution": 0,
                "start_resolution": 0,
            },
            within={"dropout_rate": (0, 1)},
            between={"label_change_tolerance": (0, 1)},
            choices={"likelihood": LIKELIHOODS, "cluster_count_graph": CLUSTER_COUNT_GRAPHS},
        )
        for name in ("hidden_units", "decoder_units"):
            if any(units < 1 for units in getattr(self, name)):
                raise ValueError(
                    f"{name} must be positive layer widths, got {getattr(self, name)}."
                )
