"""Choosing DEC's start per dataset by a label-free score, k given: measured, not kept.

The default start splits Leiden's partition of the PPMI cell graph at one resolution
(``training.start_resolution``, 0.3) into the k clusters asked. The best resolution differs by
dataset (malaria IDC prefers 0.1-0.2, worm neurons 0.3; start partition sweep). This sweep
asks whether a label-free score of each candidate k-partition can choose per dataset:

* candidates: the default start at each ``start_resolution`` of the start partition sweep,
  and, in a second pool, KMeans(k) on the encoder input beside them;
* scores, each computed without the labels: Newman's modularity on the UMAP-weighted kNN
  graph and on the PPMI graph, the silhouette of the encoder input (3000 sampled cells),
  the Calinski-Harabasz index and the Davies-Bouldin index (lower is better).

For every labelled ``.h5ad`` in ``../shared/data`` it builds the default graphs (seed 0) and,
for each seed, scores each rule's pick against the labels (reporting only). The
leave-one-dataset-out view chooses, for each held-out dataset, the rule with the best mean
ARI on the others (the default start included) and reports what it scores held out. The two
bladder files are one dataset, as are the two Baron pancreas files.

Usage::

    .venv/bin/python -m benchmarks.sweeps.start_choice [--data-dir ../shared/data]
        [--seeds 0 1 2] [--output benchmarks/results/start_choice.md]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from benchmarks.lib.default_graph import default_start, preprocessed_cells_and_graph, training_data
from benchmarks.lib.scratch_project import (
    biology,
    biology_mean,
    default_config,
    run_seeded_sweep,
)
from benchmarks.sweeps.start_partition import START_RESOLUTIONS
from scimta_kedro.core.cluster import kmeans_labels
from scimta_kedro.core.cluster_count import partition_modularity

LABEL_KEY = "cell_type"
# The default start is scored as one of the grid's candidates: START_RESOLUTIONS holds it.
DEFAULT_RESOLUTION = default_config("training").start_resolution
SILHOUETTE_CELLS = 3000
# Score name -> +1 where higher is better, -1 where lower is.
SCORES = {
    "kNN modularity": 1,
    "PPMI modularity": 1,
    "silhouette": 1,
    "Calinski-Harabasz": 1,
    "Davies-Bouldin": -1,
}
KMEANS = "KMeans(k)"


def _candidate(resolution: float) -> str:
    return f"start_resolution {resolution:g}"


def sweep(dataset: Path, seeds) -> list[dict]:
    cells, graph = preprocessed_cells_and_graph(dataset, seed=0)
    labels = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(labels).size)
    data = training_data(cells, graph)
    features = np.asarray(data.features)
    sample = np.random.default_rng(0).choice(
        features.shape[0], min(SILHOUETTE_CELLS, features.shape[0]), replace=False
    )
    rows = []
    for seed in seeds:
        partitions = {
            _candidate(r): default_start(data, seed, n_clusters=true_k, start_resolution=r)
            for r in START_RESOLUTIONS
        }
        partitions[KMEANS] = kmeans_labels(features, true_k, random_state=seed)
        for candidate, partition in partitions.items():
            rows.append(
                {
                    "dataset": dataset.stem,
                    "true_k": true_k,
                    "seed": seed,
                    "candidate": candidate,
                    "ari": float(adjusted_rand_score(labels, partition)),
                    "kNN modularity": partition_modularity(data.knn_connectivities, partition),
                    "PPMI modularity": partition_modularity(data.edges, partition),
                    "silhouette": float(silhouette_score(features[sample], partition[sample])),
                    "Calinski-Harabasz": float(calinski_harabasz_score(features, partition)),
                    "Davies-Bouldin": float(davies_bouldin_score(features, partition)),
                }
            )
    return rows


def rules() -> dict[str, tuple[str | None, list[str]]]:
    """Rule name -> (score, candidates it chooses among); the default has no score."""
    resolutions = [_candidate(r) for r in START_RESOLUTIONS]
    chosen = {
        f"default ({_candidate(DEFAULT_RESOLUTION)})": (None, [_candidate(DEFAULT_RESOLUTION)])
    }
    for score in SCORES:
        chosen[f"best {score}, resolutions"] = (score, resolutions)
    for score in SCORES:
        chosen[f"best {score}, resolutions + {KMEANS}"] = (score, [*resolutions, KMEANS])
    return chosen


def picks(rows: list[dict]) -> dict[tuple[str, str], tuple[float, list[str]]]:
    """(rule, dataset) -> (mean ARI of its picks over the seeds, the candidate picked per seed)."""
    by_run: dict[tuple[str, int], dict[str, dict]] = {}
    for row in rows:
        by_run.setdefault((row["dataset"], row["seed"]), {})[row["candidate"]] = row
    result: dict[tuple[str, str], tuple[float, list[str]]] = {}
    for rule, (score, pool) in rules().items():
        per_dataset: dict[str, list[dict]] = {}
        for (dataset, _seed), candidates in sorted(by_run.items()):
            best = (
                pool[0]
                if score is None
                else max(pool, key=lambda c: SCORES[score] * candidates[c][score])
            )
            per_dataset.setdefault(dataset, []).append(candidates[best])
        for dataset, chosen in per_dataset.items():
            result[rule, dataset] = (
                float(np.mean([row["ari"] for row in chosen])),
                [row["candidate"] for row in chosen],
            )
    return result


def leave_one_out(rows: list[dict]) -> list[dict]:
    """For each held-out dataset (one biology), the rule best on the others."""
    chosen = picks(rows)
    datasets = sorted({row["dataset"] for row in rows})
    folds = []
    for held in sorted({biology(d) for d in datasets}):
        kept = [d for d in datasets if biology(d) != held]
        rule = max(rules(), key=lambda r: biology_mean({d: chosen[r, d][0] for d in kept}))
        folds.append(
            {
                "held_out": held,
                "chosen": rule,
                "held_out_ari": float(
                    np.mean([chosen[rule, d][0] for d in datasets if biology(d) == held])
                ),
            }
        )
    return folds


def _short(candidate: str) -> str:
    return candidate.replace("start_resolution ", "r")


def table(rows: list[dict], command: str) -> str:
    chosen = picks(rows)
    datasets = sorted({row["dataset"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    lines = [
        f"Command: `{command}`  ",
        "Default graphs (seed 0); ARI of DEC's start against the labels (reporting only), mean "
        f"over seeds {', '.join(map(str, seeds))}; the candidate each rule picks per seed (r = "
        "start_resolution). Means weigh each biology once.",
        "",
        "| rule | " + " | ".join(datasets) + " | mean |",
        "|---|" + "---|" * (len(datasets) + 1),
    ]
    for rule in rules():
        cells = [
            f"{chosen[rule, d][0]:.3f} ({'/'.join(_short(c) for c in chosen[rule, d][1])})"
            for d in datasets
        ]
        mean = biology_mean({d: chosen[rule, d][0] for d in datasets})
        lines.append(f"| {rule} | " + " | ".join(cells) + f" | {mean:.3f} |")
    folds = leave_one_out(rows)
    lines += [
        "",
        "Leave one dataset out: the rule chosen on the other datasets, and what it scores on "
        "the one held out.",
        "",
        "| held out | chosen on the others | held-out ARI |",
        "|---|---|---|",
    ]
    for fold in folds:
        lines.append(f"| {fold['held_out']} | {fold['chosen']} | {fold['held_out_ari']:.3f} |")
    lines.append(f"| **mean** | | {np.mean([f['held_out_ari'] for f in folds]):.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    run_seeded_sweep(__doc__.splitlines()[0], "start_choice", sweep, table)


if __name__ == "__main__":
    main()
