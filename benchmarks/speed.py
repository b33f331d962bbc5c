"""Speed benchmark: sparse scIMTA vs the dense published computation, and cost per epoch.

1. End to end at ``--cells`` (default 9000) simulated cells (the project's simulator, 6
   groups), each method in its own child process (wall time and peak RSS from ``wait4``),
   all from the same preprocessing (``core.preprocess`` defaults):

   * **scIMTA** (``core.graphs`` + ``core.train``, default parameters): sparse graph,
     sampled edges, count batches;
   * **dense reference** (``dense_reference.py``, clearly not the product): dense N x N kNN,
     surfing, PPMI and propagation, full-batch training reconstructing all N x N pairs, the
     same layers and epochs;
   * **scanpy**: ``sc.pp.neighbors`` on the same PCA and Leiden at resolution 1.0.

   ARI against the simulated groups is shown for context only.
2. Time per pretraining epoch of scIMTA at ``--epoch-cells`` (default 2000 8000 30000), the
   mean over epochs 10-30 of a 30-epoch run, and the exponent ``b`` of ``time ~ cells^b``
   (least squares on log-log).

Usage::

    .venv/bin/python -m benchmarks.speed [--cells 9000] [--epoch-cells 2000 8000 30000]
        [--output benchmarks/results/speed.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.lib.scratch_project import PROJECT_ROOT, run_measured, scaling_exponent

METHODS = ("scIMTA", "dense reference", "scanpy")


def _simulation(n_cells: int):
    from scimta_kedro.core.simulate import SimulationConfig

    return SimulationConfig(n_cells=n_cells, n_genes=5000, de_log_fold=1.0, library_log_mean=7.6)


def _preprocessed(path: Path):
    import anndata as ad

    from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts

    return preprocess_counts(ad.read_h5ad(path), PreprocessConfig())


def worker(method: str, path: Path, output: Path) -> None:
    """One method end to end on the simulated file; writes its labels' ARI to ``output``."""
    from sklearn.metrics import adjusted_rand_score

    from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
    from scimta_kedro.core.keys import COUNTS_LAYER
    from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder

    cells = _preprocessed(path)
    pca = cells.obsm["X_pca"]
    if method == "scIMTA":
        graph = build_ppmi_graph(pca, GraphConfig())
        data = GraphData.from_graph(pca, cells.layers[COUNTS_LAYER], graph)
        labels = train_graph_autoencoder(data, TrainingConfig()).soft_assignment.argmax(axis=1)
    elif method == "dense reference":
        from benchmarks.lib.dense_reference import dense_ppmi_graph, train_dense

        ppmi, propagation = dense_ppmi_graph(pca, GraphConfig())
        counts = cells.layers[COUNTS_LAYER].toarray()
        labels = train_dense(pca, counts, ppmi, propagation, TrainingConfig())
    else:
        import scanpy as sc

        sc.pp.neighbors(cells, n_neighbors=15, use_rep="X_pca", random_state=0)
        sc.tl.leiden(cells, resolution=1.0, flavor="igraph", n_iterations=2, random_state=0)
        labels = cells.obs["leiden"].to_numpy()
    ari = adjusted_rand_score(cells.obs["cell_type"], labels)
    output.write_text(json.dumps({"ari": ari, "clusters": int(np.unique(labels).size)}))


def end_to_end(n_cells: int, folder: Path) -> list[dict]:
    from scimta_kedro.core.simulate import simulate_counts

    path = folder / "cells.h5ad"
    simulate_counts(_simulation(n_cells)).write_h5ad(path)
    rows = []
    for method in METHODS:
        output = folder / "result.json"
        command = [sys.executable, "-m", __spec__.name, "--worker", method, str(path), str(output)]
        result, wall, rss = run_measured(command, PROJECT_ROOT)
        if result.returncode != 0:
            raise RuntimeError(f"{method} failed:\n{result.stdout[-3000:]}")
        rows.append(
            {"method": method, "wall_s": wall, "rss_gib": rss, **json.loads(output.read_text())}
        )
        print(rows[-1], flush=True)
    return rows


def seconds_per_epoch(n_cells: int, folder: Path) -> float:
    from scimta_kedro.core.graphs import GraphConfig, build_ppmi_graph
    from scimta_kedro.core.keys import COUNTS_LAYER
    from scimta_kedro.core.simulate import simulate_counts
    from scimta_kedro.core.train import GraphData, TrainingConfig, train_graph_autoencoder

    path = folder / f"cells_{n_cells}.h5ad"
    simulate_counts(_simulation(n_cells)).write_h5ad(path)
    cells = _preprocessed(path)
    graph = build_ppmi_graph(cells.obsm["X_pca"], GraphConfig())
    data = GraphData.from_graph(cells.obsm["X_pca"], cells.layers[COUNTS_LAYER], graph)
    stamps = []
    config = replace(TrainingConfig(), pretrain_epochs=30, finetune_epochs=0, n_clusters=2)
    train_graph_autoencoder(
        data, config, on_epoch_end=lambda phase, epoch, losses: stamps.append(time.perf_counter())
    )
    return float(np.mean(np.diff(stamps[9:30])))


def markdown(rows: list[dict], n_cells: int, epochs: dict[int, float]) -> str:
    ours = next(row for row in rows if row["method"] == "scIMTA")
    lines = [
        f"End to end at {n_cells} simulated cells (preprocessing, graph, training/clustering):",
        "",
        "| method | wall time (s) | peak RSS (GiB) | time / scIMTA | ARI (context) | clusters |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['wall_s']:.0f} | {row['rss_gib']:.2f} "
            f"| {row['wall_s'] / ours['wall_s']:.2f} | {row['ari']:.3f} | {row['clusters']} |"
        )
    sizes = np.array(sorted(epochs))
    times = np.array([epochs[size] for size in sizes])
    exponent = scaling_exponent(sizes, times)
    lines += [
        "",
        "scIMTA time per pretraining epoch (mean of epochs 10-30):",
        "",
        "| cells | s / epoch |",
        "|---|---|",
        *[f"| {size} | {epochs[size]:.3f} |" for size in sizes],
        "",
        f"Fitted exponent of time vs cells: **{exponent:.2f}**",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=9000)
    parser.add_argument("--epoch-cells", type=int, nargs="*", default=[2000, 8000, 30000])
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/speed.md")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scimta-speed-") as folder:
        rows = end_to_end(arguments.cells, Path(folder))
        epochs = {size: seconds_per_epoch(size, Path(folder)) for size in arguments.epoch_cells}
    text = markdown(rows, arguments.cells, epochs)
    arguments.output.write_text(
        f"Command: `.venv/bin/python -m benchmarks.speed --cells {arguments.cells}`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n{text}"
    )
    print(text)


if __name__ == "__main__":
    main()
