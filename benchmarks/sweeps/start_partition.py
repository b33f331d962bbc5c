"""Start partition sweep: how DEC's start is found, k given and k found, chosen leave-one-out.

DEC starts from Leiden's partition of the PPMI cell graph at ``training.start_resolution``,
split (2-means) or merged (modularity) to the number of clusters: the number given, or with
``n_clusters: auto`` Leiden's count at ``training.leiden_resolution`` on the graph
``training.cluster_count_graph`` names. For every labelled ``.h5ad`` in ``../shared/data``
this builds the default graphs (seed 0) and, for each Leiden seed, scores against the labels
(reporting only):

* **k given** (the annotated number): the start from each ``start_resolution`` of the grid,
  and two rivals that reach k without splitting, Leiden with its resolution bisected to k on
  the kNN graph and on the PPMI graph;
* **auto**: the start with the default ``start_resolution`` brought to the count of each
  (count graph, ``leiden_resolution``), its number of clusters and whether it lies within a
  factor 1.5 of the annotated number.

The leave-one-dataset-out view chooses, for each held-out dataset, the candidate that is best
on all the others (k given: mean ARI; auto: datasets within 1.5x, then mean ARI) and reports
what that choice scores on the held-out one. The two bladder files are one dataset, as are
the two Baron pancreas files: they are held out together and weigh as one in every mean.

Usage::

    .venv/bin/python -m benchmarks.sweeps.start_partition [--data-dir ../shared/data]
        [--seeds 0 1 2] [--output benchmarks/results/start_partition.md]
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import default_start, preprocessed_cells_and_graph, training_data
from benchmarks.lib.leiden_to_k import bisected_to_k
from benchmarks.lib.scratch_project import (
    biologies_where_all,
    biology,
    biology_mean,
    run_seeded_sweep,
    within_factor,
)
from scimta_kedro.core.cluster import leiden_on_graph

LABEL_KEY = "cell_type"
START_RESOLUTIONS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
COUNT_RESOLUTIONS = (0.3, 0.5, 0.7, 1.0, 1.5)
COUNT_GRAPHS = ("knn", "ppmi")


def _leiden_at(graph, seed: int):
    return lambda resolution: leiden_on_graph(graph, resolution=resolution, random_state=seed)


def sweep(dataset: Path, seeds) -> list[dict]:
    cells, graph = preprocessed_cells_and_graph(dataset, seed=0)
    labels = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(labels).size)
    data = training_data(cells, graph)
    base = {"dataset": dataset.stem, "true_k": true_k}
    rows = []

    def add(mode: str, candidate: str, partitions: list[np.ndarray]) -> None:
        counts = [int(np.unique(p).size) for p in partitions]
        rows.append(
            {
                **base,
                "mode": mode,
                "candidate": candidate,
                "clusters": counts,
                "within_1_5x": all(within_factor(n, true_k) for n in counts),
                "ari": float(np.mean([adjusted_rand_score(labels, p) for p in partitions])),
            }
        )

    for resolution in START_RESOLUTIONS:
        starts = [
            default_start(data, s, n_clusters=true_k, start_resolution=resolution) for s in seeds
        ]
        add("k given", f"start_resolution {resolution:g}", starts)
    add(
        "k given",
        "Leiden bisected to k (kNN)",
        [bisected_to_k(_leiden_at(data.knn_connectivities, s), true_k) for s in seeds],
    )
    add(
        "k given",
        "Leiden bisected to k (PPMI)",
        [bisected_to_k(_leiden_at(data.edges, s), true_k) for s in seeds],
    )
    for count_graph, resolution in itertools.product(COUNT_GRAPHS, COUNT_RESOLUTIONS):
        starts = [
            default_start(data, s, cluster_count_graph=count_graph, leiden_resolution=resolution)
            for s in seeds
        ]
        add("auto", f"{count_graph} r={resolution:g}", starts)
    return rows


def leave_one_out(rows: list[dict], mode: str) -> list[dict]:
    """For each held-out dataset (one biology), the candidate best on the others."""
    at = [row for row in rows if row["mode"] == mode]
    candidates = list(dict.fromkeys(row["candidate"] for row in at))
    score = {(r["dataset"], r["candidate"]): r for r in at}
    datasets = sorted({row["dataset"] for row in at})
    biologies = sorted({biology(d) for d in datasets})
    folds = []
    for held in biologies:
        kept = [d for d in datasets if biology(d) != held]

        def merit(candidate: str, kept=kept) -> tuple:
            ari = biology_mean({d: score[d, candidate]["ari"] for d in kept})
            if mode == "k given":
                return (ari,)
            within = biology_mean({d: float(score[d, candidate]["within_1_5x"]) for d in kept})
            return (round(within, 6), ari)

        chosen = max(candidates, key=merit)
        held_rows = [score[d, chosen] for d in datasets if biology(d) == held]
        folds.append(
            {
                "held_out": held,
                "chosen": chosen,
                "held_out_ari": float(np.mean([r["ari"] for r in held_rows])),
                "held_out_within": all(r["within_1_5x"] for r in held_rows),
            }
        )
    return folds


def table(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        "Default graphs (seed 0); ARI of DEC's start against the labels (reporting only), mean "
        "over the Leiden seeds; clusters per seed. Means weigh each biology once.",
    ]
    for mode in ("k given", "auto"):
        at = [row for row in rows if row["mode"] == mode]
        datasets = sorted({row["dataset"] for row in at})
        candidates = list(dict.fromkeys(row["candidate"] for row in at))
        score = {(r["dataset"], r["candidate"]): r for r in at}
        lines += [
            "",
            f"**{mode}**: ARI (clusters of seed 0{'; * = within 1.5x of k' if mode == 'auto' else ''})",
            "",
            "| dataset | true k | " + " | ".join(candidates) + " |",
            "|---|---|" + "---|" * len(candidates),
        ]
        for dataset in datasets:
            cells = []
            for candidate in candidates:
                row = score[dataset, candidate]
                mark = "*" if mode == "auto" and row["within_1_5x"] else ""
                cells.append(f"{row['ari']:.3f} ({row['clusters'][0]}{mark})")
            true_k = score[dataset, candidates[0]]["true_k"]
            lines.append(f"| {dataset} | {true_k} | " + " | ".join(cells) + " |")
        means = [biology_mean({d: score[d, c]["ari"] for d in datasets}) for c in candidates]
        lines.append("| **mean** | | " + " | ".join(f"{m:.3f}" for m in means) + " |")
        if mode == "auto":
            within = [
                sum(biologies_where_all((d, score[d, c]["within_1_5x"]) for d in datasets).values())
                for c in candidates
            ]
            n_biologies = len({biology(d) for d in datasets})
            lines.append(
                "| **datasets within 1.5x** | | "
                + " | ".join(f"{w}/{n_biologies}" for w in within)
                + " |"
            )
        folds = leave_one_out(rows, mode)
        lines += [
            "",
            f"Leave one dataset out ({mode}): the candidate chosen on the other datasets, and "
            "what it scores on the one held out.",
            "",
            "| held out | chosen on the others | held-out ARI | held-out count within 1.5x |",
            "|---|---|---|---|",
        ]
        for fold in folds:
            lines.append(
                f"| {fold['held_out']} | {fold['chosen']} | {fold['held_out_ari']:.3f} | "
                f"{'yes' if fold['held_out_within'] else 'no'} |"
            )
        lines.append(
            f"| **mean** | | {np.mean([f['held_out_ari'] for f in folds]):.3f} | "
            f"{sum(f['held_out_within'] for f in folds)}/{len(folds)} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    run_seeded_sweep(__doc__.splitlines()[0], "start_partition", sweep, table)


if __name__ == "__main__":
    main()
