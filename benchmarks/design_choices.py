"""Design-choice ablation on the default simulation (the data `make run` analyses).

Each variant changes one setting of the default model and reports the number of clusters and
the ARI against the planted groups (labels only score; nothing is chosen with them), next to
three references without the model: scanpy-style Leiden on the PCA kNN graph, Leiden on the
PPMI cell graph the model reconstructs, and KMeans with the planted number of groups on the
PCs.

Usage::

    .venv/bin/python -m benchmarks.design_choices [--output benchmarks/results/design_choices.md]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.scratch_project import PROJECT_ROOT, default_config, default_parameters
from scimta_kedro.core.cluster import (
    kmeans_labels,
    leiden_on_embedding,
    leiden_on_graph,
)
from scimta_kedro.core.graphs import build_ppmi_graph
from scimta_kedro.core.keys import COUNTS_LAYER
from scimta_kedro.core.preprocess import preprocess_counts
from scimta_kedro.core.simulate import LABEL_KEY, simulate_counts
from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder
from scimta_kedro.core.validate import validate_counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/design_choices.md"
    )
    arguments = parser.parse_args()

    processing, graphs = default_config("data_processing"), default_config("graph_construction")
    training = default_parameters("training")
    cells = simulate_counts(processing.simulation)
    cells = validate_counts(cells, n_neighbors=graphs.cell_graph.n_neighbors)
    cells = preprocess_counts(cells, processing.preprocessing)
    graph = build_ppmi_graph(cells.obsm[graphs.use_rep], graphs.cell_graph)
    truth = cells.obs[LABEL_KEY].to_numpy()

    rows = []

    def report(name: str, labels, seconds: float | None = None) -> None:
        row = (name, len(set(labels)), adjusted_rand_score(truth, labels), seconds)
        rows.append(row)
        print(f"{name:<60} k={row[1]:<3} ARI={row[2]:.3f}", flush=True)

    report(
        "Leiden on the PCA kNN graph (scanpy, resolution 1.0)",
        leiden_on_embedding(cells.obsm["X_pca"]),
    )
    report("Leiden on the PPMI cell graph (resolution 1.0)", leiden_on_graph(graph.ppmi))
    n_groups = processing.simulation.n_groups
    report(f"KMeans({n_groups}) on the 50 PCs", kmeans_labels(cells.obsm["X_pca"], n_groups))

    training.pop("encoder_input")  # each variant below names its own
    defaults = TrainingConfig(**{**training, "log_every": 10**9})
    variants = [
        ("default (unit-code bilinear decoder, PCA input)", "X_pca", defaults),
        ("scaled-gene input (encoder_input: X)", "X", defaults),
        ("graph_loss_weight: 1.0", "X_pca", replace(defaults, graph_loss_weight=1.0)),
        (
            "plain bilinear decoder (normalize_edge_decoder: false)",
            "X_pca",
            replace(defaults, normalize_edge_decoder=False),
        ),
        ("likelihood: zinb", "X_pca", replace(defaults, likelihood="zinb")),
        (
            f"n_clusters: {n_groups} (the planted number; Leiden clusters brought to it)",
            "X_pca",
            replace(defaults, n_clusters=n_groups),
        ),
    ]
    for name, encoder_input, config in variants:
        features = cells.X if encoder_input == "X" else cells.obsm[encoder_input]
        start = time.perf_counter()
        result = train_graph_autoencoder(
            GraphData.from_graph(features, cells.layers[COUNTS_LAYER], graph),
            config,
        )
        report(name, result.soft_assignment.argmax(axis=1), time.perf_counter() - start)

    table = "| variant | clusters | ARI | training time (s) |\n|---|---|---|---|\n" + "\n".join(
        f"| {name} | {k} | {ari:.3f} | {'' if seconds is None else f'{seconds:.0f}'} |"
        for name, k, ari, seconds in rows
    )
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.design_choices`  \n"
        f"Data: the default simulation ({cells.n_obs} cells, 6 planted groups); "
        f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}\n\n{table}\n"
    )
    print("\n" + table)


if __name__ == "__main__":
    main()
