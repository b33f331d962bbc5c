"""Where DEC ends from different starts, with the true number of clusters given.

For every labelled ``.h5ad`` in ``../shared/data`` (or ``--data-dir``) and seed, this builds the
default PPMI cell graph and trains the default model with ``n_clusters`` = the number of
annotated cell types three times, changing only the partition DEC starts from:

- the default: the Leiden clusters of the cell graph, split or merged to k;
- KMeans(k) on the encoder input (the 50 PCs), the start before it;
- the annotated cell types themselves: a **diagnostic that reads the labels**, never a method.
  It asks whether the trained latent space can hold the annotation at all, i.e. whether the
  gap to it lies in the model or in the start.

Every training pretrains the same model from the same seed, so the three differ only in the
start. Per run: ARI of the start and of the final clusters against the labels (reporting),
and two label-free scores of the final clusters a method could select by: the modularity of
the PPMI cell graph, and the mean largest soft assignment (DEC's confidence).

Usage::

    .venv/bin/python -m benchmarks.sweeps.dec_starts [--data-dir ../shared/data] [--seeds 0]
        [--output benchmarks/results/dec_starts.md]
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import preprocessed_cells_and_graph, training_data
from benchmarks.lib.scratch_project import (
    benchmark_parser,
    biology_mean,
    default_parameters,
    labelled_datasets,
    write_results,
)
from scimta_kedro.core.cluster import kmeans_labels
from scimta_kedro.core.cluster_count import partition_modularity
from scimta_kedro.core.params import section_config
from scimta_kedro.core.train import train_graph_autoencoder

LABEL_KEY = "cell_type"
STARTS = (
    "Leiden brought to k (default)",
    "KMeans(k) on the encoder input",
    "annotated labels (diagnostic: reads the labels)",
)


def runs_on(dataset: Path, seed: int) -> list[dict]:
    options = default_parameters("training")
    cells, graph = preprocessed_cells_and_graph(dataset, seed)
    labels = cells.obs[LABEL_KEY].to_numpy()
    annotated = np.unique(labels, return_inverse=True)[1].ravel()
    true_k = int(annotated.max()) + 1
    data = training_data(cells, graph)
    config = section_config("training", {**options, "n_clusters": true_k}, seed)
    kmeans = kmeans_labels(data.features, true_k, seed)
    rows = []
    for start, initial_labels in zip(STARTS, (None, kmeans, annotated), strict=True):
        began = time.perf_counter()
        result = train_graph_autoencoder(data, config, initial_labels=initial_labels)
        final = result.soft_assignment.argmax(axis=1)
        rows.append(
            {
                "dataset": dataset.stem,
                "true_k": true_k,
                "seed": seed,
                "start": start,
                "start_ari": adjusted_rand_score(labels, result.initial_labels),
                "ari": adjusted_rand_score(labels, final),
                "modularity": partition_modularity(graph.ppmi, final),
                "confidence": float(result.soft_assignment.max(axis=1).mean()),
                "seconds": time.perf_counter() - began,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return rows


FIELDS = ("start_ari", "ari", "modularity", "confidence")


def table(rows: list[dict], command: str) -> str:
    lines = [
        f"Command: `{command}`  ",
        "k = the annotated number of cell types. ARI against the labels (reporting only); "
        "modularity of the final clusters on the PPMI cell graph and DEC's mean largest soft "
        "assignment are label-free. Means over the seeds; the mean rows weigh each biology "
        "once (the two bladder files as one, the two Baron files as one).",
        "",
        "| dataset | true k | DEC's start | ARI of the start | ARI after DEC | modularity "
        "| confidence |",
        "|---|---|---|---|---|---|---|",
    ]
    datasets = list(dict.fromkeys(row["dataset"] for row in rows))
    means = {}
    for dataset in datasets:
        for start in STARTS:
            chosen = [r for r in rows if r["dataset"] == dataset and r["start"] == start]
            means[dataset, start] = {f: float(np.mean([r[f] for r in chosen])) for f in FIELDS}
            means[dataset, start]["true_k"] = chosen[0]["true_k"]
    for start in STARTS:
        means["**mean**", start] = {
            f: biology_mean({dataset: means[dataset, start][f] for dataset in datasets})
            for f in FIELDS
        }
        means["**mean**", start]["true_k"] = ""
    for (dataset, start), mean in means.items():
        lines.append(
            f"| {dataset} | {mean['true_k']} | {start} | {mean['start_ari']:.3f} "
            f"| {mean['ari']:.3f} | {mean['modularity']:.3f} | {mean['confidence']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = benchmark_parser(__doc__.splitlines()[0], "dec_starts")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    arguments = parser.parse_args()
    rows = [
        row
        for dataset in labelled_datasets(arguments.data_dir)
        for seed in arguments.seeds
        for row in runs_on(dataset, seed)
    ]
    command = ".venv/bin/python -m benchmarks.sweeps.dec_starts --seeds " + " ".join(
        map(str, arguments.seeds)
    )
    write_results(arguments.output, table(rows, command), rows)


if __name__ == "__main__":
    main()
