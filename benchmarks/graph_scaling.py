"""Graph-stage breakdown: time of each step of the cell graph at growing numbers of cells.

The scale benchmark times ``graph_construction`` and ``training`` as wholes; this one splits
the cell graph of ``core.graphs.build_ppmi_graph`` into its steps (kNN search, random surfing,
PPMI, symmetrisation and normalisation, and the kNN graph's UMAP weights that the number of
clusters is counted on) and times the Leiden steps with which training finds DEC's start:
on the PPMI graph one run (above ``training.start_ensemble_max_cells``) and the consensus of
``training.start_ensemble_runs`` seeded runs and a final run (up to it), and the count, one
run on the weighted kNN graph. The cells are a seeded
50-dimensional Gaussian mixture of 10 groups (a stand-in for 50 principal components), the
parameters the project's defaults (``conf/base``); the exponent of each step is fitted between
the sizes. One process; every size is built once.

Usage::

    .venv/bin/python -m benchmarks.graph_scaling [--cells 300000 1300000]
        [--output benchmarks/results/graph_scaling.md]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.lib.scratch_project import PROJECT_ROOT, default_config, scaling_exponent
from scimta_kedro.core.cluster import leiden_on_graph
from scimta_kedro.core.ensemble_leiden import ensemble_leiden
from scimta_kedro.core.graphs import (
    binary_knn_graph,
    nearest_neighbour_table,
    ppmi,
    random_surf,
    symmetric_mean,
    symmetric_normalize,
    umap_connectivities,
)

GRAPH_STEPS = ("knn", "random_surf", "ppmi", "symmetrise_and_normalise", "knn_weights")
LEIDEN_STEPS = ("leiden_ppmi", "leiden_ppmi_consensus", "leiden_knn_count")
COLUMNS = (*GRAPH_STEPS, "graph sum", *LEIDEN_STEPS)


def mixture(n_cells: int, seed: int = 0, dimensions: int = 50, groups: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(groups, dimensions)).astype(np.float32)
    members = rng.integers(groups, size=n_cells)
    noise = rng.standard_normal((n_cells, dimensions), dtype=np.float32)
    return centres[members] + noise


def symmetrised(weights):
    """The PPMI graph (what Leiden and the edge decoder read) and its propagation matrix."""
    symmetric = symmetric_mean(weights)
    return symmetric, symmetric_normalize(symmetric)


def time_steps(n_cells: int) -> dict:
    embedding = mixture(n_cells)
    config = default_config("graph_construction").cell_graph
    training = default_config("training")
    seconds = {}

    def timed(step, compute, *arguments, **options):
        start = time.perf_counter()
        result = compute(*arguments, **options)
        seconds[step] = time.perf_counter() - start
        return result

    table = timed("knn", nearest_neighbour_table, embedding, config)
    knn = binary_knn_graph(table)
    cooccurrence = timed("random_surf", random_surf, knn, config)
    weights = timed("ppmi", ppmi, cooccurrence)
    del cooccurrence
    symmetric, connectivities = timed("symmetrise_and_normalise", symmetrised, weights)
    knn_weights = timed("knn_weights", umap_connectivities, table)
    found = {
        "leiden_ppmi": timed(
            "leiden_ppmi", leiden_on_graph, symmetric, resolution=training.start_resolution
        ),
        "leiden_ppmi_consensus": timed(
            "leiden_ppmi_consensus",
            ensemble_leiden,
            symmetric,
            resolution=training.start_resolution,
            runs=training.start_ensemble_runs,
        ),
        "leiden_knn_count": timed(
            "leiden_knn_count", leiden_on_graph, knn_weights, resolution=training.leiden_resolution
        ),
    }
    row = {
        "cells": n_cells,
        "seconds": seconds,
        "edges": int(connectivities.nnz),
        "knn_weight_entries": int(knn_weights.nnz),
        "clusters": {step: int(np.unique(labels).size) for step, labels in found.items()},
    }
    print(n_cells, {step: f"{value:.1f} s" for step, value in seconds.items()}, flush=True)
    return row


def column_seconds(row: dict) -> list[float]:
    """A row's seconds in the order of :data:`COLUMNS`."""
    graph = [row["seconds"][step] for step in GRAPH_STEPS]
    return [*graph, sum(graph), *(row["seconds"][step] for step in LEIDEN_STEPS)]


def markdown(rows: list[dict]) -> str:
    lines = [
        "| cells | " + " | ".join(COLUMNS) + " | clusters (PPMI / kNN) | stored edges |",
        "|---" * (len(COLUMNS) + 3) + "|",
    ]
    for row in rows:
        clusters = row["clusters"]
        lines.append(
            f"| {row['cells']} | "
            + " | ".join(f"{value:.1f} s" for value in column_seconds(row))
            + f" | {clusters['leiden_ppmi']} / {clusters['leiden_knn_count']} | {row['edges']} |"
        )
    if len(rows) > 1:
        sizes = [row["cells"] for row in rows]
        per_column = zip(*(column_seconds(row) for row in rows), strict=True)
        fitted = [scaling_exponent(sizes, list(values)) for values in per_column]
        lines.append("| exponent | " + " | ".join(f"{value:.2f}" for value in fitted) + " | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, nargs="+", default=[300000, 1300000])
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/graph_scaling.md"
    )
    arguments = parser.parse_args()
    rows = [time_steps(n_cells) for n_cells in sorted(arguments.cells)]
    arguments.output.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    text = markdown(rows)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.graph_scaling "
        f"--cells {' '.join(str(row['cells']) for row in rows)}`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        "Seconds per step of the cell graph, and of training's Leiden steps for DEC's start "
        "(leiden_ppmi: one run; leiden_ppmi_consensus: the consensus of "
        f"{default_config('training').start_ensemble_runs} seeded runs and a final run), "
        "with the default parameters on a 50-dimensional Gaussian mixture:\n\n" + text
    )
    print(text)


if __name__ == "__main__":
    main()
