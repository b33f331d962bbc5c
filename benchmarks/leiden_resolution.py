"""Leiden resolution sweep: how many clusters the PPMI cell graph gives, and at what ARI.

With ``training.n_clusters: auto`` the number of clusters, and DEC's start, are the Leiden
clusters of the PPMI cell graph at ``training.leiden_resolution``. For every labelled
``.h5ad`` in ``../shared/data`` (or ``--data-dir``) this builds that graph with the default
parameters (seed 0) and runs Leiden at each resolution with several seeds. Per resolution it
reports the number of clusters, whether it lies within a factor 1.5 of the annotated number
of cell types, the ARI of the Leiden partition against the labels (reporting only: it is
DEC's start, not the final clusters), and the label-free seed stability (mean pairwise ARI
between the seeds' partitions). Nothing is chosen here; the table shows what a resolution
would trade.

Usage::

    .venv/bin/python benchmarks/leiden_resolution.py [--data-dir ../shared/data]
        [--resolutions 0.5 1 2] [--seeds 0 1 2] [--output benchmarks/results/leiden_resolution.md]
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
from default_graph import preprocessed_cells_and_graph
from scratch_project import PROJECT_ROOT, labelled_datasets, rows_for_each_dataset, write_results
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.cluster import leiden_on_graph

LABEL_KEY = "cell_type"
DEFAULT_RESOLUTIONS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)


def sweep(dataset: Path, resolutions, seeds) -> list[dict]:
    """One row per resolution for ``dataset``."""
    cells, graph = preprocessed_cells_and_graph(dataset, seed=0)
    labels = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(labels).size)
    rows = []
    for resolution in resolutions:
        partitions = [
            leiden_on_graph(graph.ppmi, resolution=resolution, random_state=seed) for seed in seeds
        ]
        counts = [int(np.unique(partition).size) for partition in partitions]
        pairs = list(itertools.combinations(partitions, 2))
        rows.append(
            {
                "dataset": dataset.stem,
                "true_k": true_k,
                "resolution": resolution,
                "clusters": counts,
                "within_1_5x": all(true_k / 1.5 <= n <= 1.5 * true_k for n in counts),
                "ari": float(np.mean([adjusted_rand_score(labels, p) for p in partitions])),
                "stability": (
                    float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])) if pairs else 1.0
                ),
            }
        )
    return rows


def table(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        "Leiden on the default PPMI cell graph (seed 0); ARI of the Leiden partition (DEC's "
        "start with `n_clusters: auto`), mean over the Leiden seeds; stability = mean pairwise "
        "ARI between the seeds' partitions (label-free).",
        "",
        "| dataset | true k | resolution | clusters (per seed) | within 1.5x | ARI | stability |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['dataset']} | {row['true_k']} | {row['resolution']:g} | "
            f"{'/'.join(map(str, row['clusters']))} | {'yes' if row['within_1_5x'] else 'no'} | "
            f"{row['ari']:.3f} | {row['stability']:.3f} |"
        )
    lines += ["", "| resolution | mean ARI | datasets within 1.5x of k | mean stability |"]
    lines.append("|---|---|---|---|")
    for resolution in sorted({row["resolution"] for row in rows}):
        at = [row for row in rows if row["resolution"] == resolution]
        lines.append(
            f"| {resolution:g} | {np.mean([r['ari'] for r in at]):.3f} | "
            f"{sum(r['within_1_5x'] for r in at)}/{len(at)} | "
            f"{np.mean([r['stability'] for r in at]):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--resolutions", type=float, nargs="+", default=DEFAULT_RESOLUTIONS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/leiden_resolution.md"
    )
    args = parser.parse_args()
    rows = rows_for_each_dataset(
        labelled_datasets(args.data_dir),
        lambda dataset: sweep(dataset, args.resolutions, args.seeds),
    )
    write_results(
        args.output, table(rows, ".venv/bin/python benchmarks/leiden_resolution.py"), rows
    )


if __name__ == "__main__":
    main()
