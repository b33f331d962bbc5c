"""Graph-stage breakdown: time of each step of the cell graph at growing numbers of cells.

The scale benchmark times ``graph_construction`` as a whole; this one splits the cell graph of
``core.graphs.build_ppmi_graph`` into its steps (kNN search, random surfing, PPMI,
symmetrisation and normalisation) on a seeded 50-dimensional Gaussian mixture of 10 groups (a
stand-in for 50 principal components), with the default graph parameters, and fits the
exponent of each step between the sizes. One process; every size is built once.

Usage::

    .venv/bin/python benchmarks/graph_scaling.py [--cells 300000 1300000]
        [--output benchmarks/results/graph_scaling.md]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from scratch_project import PROJECT_ROOT, scaling_exponent

from scimta_kedro.core.graphs import (
    GraphConfig,
    knn_adjacency,
    ppmi,
    random_surf,
    symmetric_mean,
    symmetric_normalize,
)

STEPS = ("knn", "random_surf", "ppmi", "symmetrise_and_normalise")


def mixture(n_cells: int, seed: int = 0, dimensions: int = 50, groups: int = 10) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(groups, dimensions)).astype(np.float32)
    members = rng.integers(groups, size=n_cells)
    noise = rng.standard_normal((n_cells, dimensions), dtype=np.float32)
    return centres[members] + noise


def time_steps(n_cells: int) -> dict:
    embedding = mixture(n_cells)
    config = GraphConfig()
    seconds = {}
    start = time.perf_counter()
    knn = knn_adjacency(embedding, config)
    seconds["knn"] = time.perf_counter() - start
    start = time.perf_counter()
    cooccurrence = random_surf(knn, config)
    seconds["random_surf"] = time.perf_counter() - start
    start = time.perf_counter()
    weights = ppmi(cooccurrence)
    seconds["ppmi"] = time.perf_counter() - start
    del cooccurrence
    start = time.perf_counter()
    connectivities = symmetric_normalize(symmetric_mean(weights))
    seconds["symmetrise_and_normalise"] = time.perf_counter() - start
    row = {"cells": n_cells, "seconds": seconds, "edges": int(connectivities.nnz)}
    print(n_cells, {step: f"{value:.1f} s" for step, value in seconds.items()}, flush=True)
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "| cells | " + " | ".join(STEPS) + " | sum | stored edges |",
        "|---" * (len(STEPS) + 3) + "|",
    ]
    for row in rows:
        seconds = [row["seconds"][step] for step in STEPS]
        lines.append(
            f"| {row['cells']} | "
            + " | ".join(f"{value:.1f} s" for value in seconds)
            + f" | {sum(seconds):.1f} s | {row['edges']} |"
        )
    if len(rows) > 1:
        sizes = [row["cells"] for row in rows]
        fitted = [scaling_exponent(sizes, [row["seconds"][step] for row in rows]) for step in STEPS]
        total = scaling_exponent(sizes, [sum(row["seconds"].values()) for row in rows])
        lines.append(
            "| exponent | " + " | ".join(f"{value:.2f}" for value in fitted) + f" | {total:.2f} | |"
        )
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
        "Command: `.venv/bin/python benchmarks/graph_scaling.py "
        f"--cells {' '.join(str(row['cells']) for row in rows)}`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d %H:%M')}\n\n"
        "Seconds per step of the cell graph (default parameters) on a 50-dimensional "
        "Gaussian mixture:\n\n" + text
    )
    print(text)


if __name__ == "__main__":
    main()
