"""Leiden resolution sweep: how many clusters the cell graphs give, and at what ARI.

With ``training.n_clusters: auto`` the number of clusters is Leiden's count, at
``training.leiden_resolution``, on the UMAP-weighted kNN graph (``cluster_count_graph: knn``)
or on the PPMI cell graph (``ppmi``), and DEC starts from the PPMI graph's Leiden clusters
brought to that count. For every labelled ``.h5ad`` in ``../shared/data`` (or
``--data-dir``) this builds the graphs with the default parameters (seed 0) and runs Leiden
at each resolution with several seeds. Per resolution it reports, for both count graphs,
the number of clusters, whether it lies within a factor 1.5 of the annotated number of cell
types and the ARI of DEC's start against the labels (reporting only: not the final
clusters), and the label-free seed stability of the PPMI partition (mean pairwise ARI
between the seeds' partitions). Nothing is chosen here; the table shows what a resolution
would trade.

Usage::

    .venv/bin/python -m benchmarks.sweeps.leiden_resolution [--data-dir ../shared/data]
        [--resolutions 0.5 1 2] [--seeds 0 1 2] [--output benchmarks/results/leiden_resolution.md]
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import default_start, preprocessed_cells_and_graph, training_data
from benchmarks.lib.scratch_project import (
    benchmark_parser,
    labelled_datasets,
    rows_for_each_dataset,
    write_results,
)

LABEL_KEY = "cell_type"
DEFAULT_RESOLUTIONS = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
COUNT_GRAPHS = ("knn", "ppmi")


def sweep(dataset: Path, resolutions, seeds) -> list[dict]:
    """One row per resolution and count graph for ``dataset``."""
    cells, graph = preprocessed_cells_and_graph(dataset, seed=0)
    labels = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(labels).size)
    data = training_data(cells, graph)
    rows = []
    for resolution, count_graph in itertools.product(resolutions, COUNT_GRAPHS):
        starts = [
            default_start(data, seed, leiden_resolution=resolution, cluster_count_graph=count_graph)
            for seed in seeds
        ]
        counts = [int(np.unique(start).size) for start in starts]
        pairs = list(itertools.combinations(starts, 2))
        rows.append(
            {
                "dataset": dataset.stem,
                "true_k": true_k,
                "resolution": resolution,
                "count_graph": count_graph,
                "clusters": counts,
                "within_1_5x": all(true_k / 1.5 <= n <= 1.5 * true_k for n in counts),
                "ari": float(np.mean([adjusted_rand_score(labels, s) for s in starts])),
                "stability": (
                    float(np.mean([adjusted_rand_score(a, b) for a, b in pairs])) if pairs else 1.0
                ),
            }
        )
    return rows


def table(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        "Default graphs (seed 0). Count graph: where Leiden counts the clusters (`knn`, the "
        "default: the UMAP-weighted kNN graph; `ppmi`: the PPMI graph). ARI of DEC's start "
        "with `n_clusters: auto` (the PPMI graph's Leiden clusters brought to that count), "
        "mean over the Leiden seeds; stability = mean pairwise ARI between the seeds' starts "
        "(label-free).",
        "",
        "| dataset | true k | resolution | count graph | clusters (per seed) | within 1.5x "
        "| ARI | stability |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['dataset']} | {row['true_k']} | {row['resolution']:g} | "
            f"{row['count_graph']} | {'/'.join(map(str, row['clusters']))} | "
            f"{'yes' if row['within_1_5x'] else 'no'} | {row['ari']:.3f} | "
            f"{row['stability']:.3f} |"
        )
    lines += [
        "",
        "| resolution | count graph | mean ARI | datasets within 1.5x of k | mean stability |",
        "|---|---|---|---|---|",
    ]
    for resolution in sorted({row["resolution"] for row in rows}):
        for count_graph in COUNT_GRAPHS:
            at = [
                row
                for row in rows
                if row["resolution"] == resolution and row["count_graph"] == count_graph
            ]
            lines.append(
                f"| {resolution:g} | {count_graph} | {np.mean([r['ari'] for r in at]):.3f} | "
                f"{sum(r['within_1_5x'] for r in at)}/{len(at)} | "
                f"{np.mean([r['stability'] for r in at]):.3f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "leiden_resolution")
    parser.add_argument("--resolutions", type=float, nargs="+", default=DEFAULT_RESOLUTIONS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows = rows_for_each_dataset(
        labelled_datasets(args.data_dir),
        lambda dataset: sweep(dataset, args.resolutions, args.seeds),
    )
    write_results(
        args.output, table(rows, ".venv/bin/python -m benchmarks.sweeps.leiden_resolution"), rows
    )


if __name__ == "__main__":
    main()
