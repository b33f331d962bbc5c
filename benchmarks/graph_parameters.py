"""Cell-graph parameters on real data: the partition DEC starts from, for each variant.

DEC's start is the Leiden partition of the PPMI cell graph (resolution 1.0) with
``n_clusters: auto``, and that partition split or merged to k when k is given
(core/cluster_count.py); the final clusters stay close to it (README: DEC starts). This
rebuilds the cell graph of every labelled file in ``../shared/data`` with one graph
parameter changed at a time (kNN k, surfing steps, restart probability, the surfing pruning
bound, the kNN metric, the number of PCs the kNN reads) and scores both starts against the
labels, for several seeds (preprocessing, graph and Leiden seeded alike). No model is
trained. Labels only score; the leave-one-dataset-out view shows which variant the other
files would pick for each held-out file, and what it gives there.

Usage::

    .venv/bin/python benchmarks/graph_parameters.py [--data-dir ../shared/data]
        [--seeds 0 1 2] [--output benchmarks/results/graph_parameters.md]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
from default_graph import preprocessed, validated_cells
from scratch_project import (
    PROJECT_ROOT,
    default_parameters,
    labelled_datasets,
    rows_for_each_dataset,
    write_results,
)
from sklearn.metrics import adjusted_rand_score

from scimta_kedro.core.cluster import leiden_on_graph
from scimta_kedro.core.cluster_count import partition_with_cluster_count
from scimta_kedro.core.graphs import build_ppmi_graph
from scimta_kedro.pipelines.graph_construction.nodes import cell_graph_config

LABEL_KEY = "cell_type"
DEFAULT = "default"
# Each variant changes one GraphConfig field (or, "n_pcs", the PCs the kNN search reads).
VARIANTS = {
    DEFAULT: {},
    "n_neighbors 10": {"n_neighbors": 10},
    "n_neighbors 20": {"n_neighbors": 20},
    "n_neighbors 30": {"n_neighbors": 30},
    "surf_steps 1": {"surf_steps": 1},
    "surf_steps 3": {"surf_steps": 3},
    "restart_probability 0.2": {"restart_probability": 0.2},
    "max_entries_per_row 75": {"max_entries_per_row": 75},
    "max_entries_per_row 100": {"max_entries_per_row": 100},
    "max_entries_per_row 150": {"max_entries_per_row": 150},
    "max_entries_per_row 250": {"max_entries_per_row": 250},
    "metric cosine": {"metric": "cosine"},
    "n_pcs 20": {"n_pcs": 20},
    "n_pcs 30": {"n_pcs": 30},
}


def starts(dataset: Path, seed: int) -> list[dict]:
    """One row per variant: both DEC starts on ``dataset`` with ``seed``."""
    cells = preprocessed(validated_cells(dataset), seed)
    annotation = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(annotation).size)
    options = default_parameters("graph_construction")
    pcs = cells.obsm[options["use_rep"]]
    rows = []
    for name, variant in VARIANTS.items():
        fields = {key: value for key, value in variant.items() if key != "n_pcs"}
        n_pcs = variant.get("n_pcs", pcs.shape[1])
        config = dataclasses.replace(cell_graph_config(options, seed), **fields)
        graph = build_ppmi_graph(pcs[:, :n_pcs], config)
        auto = leiden_on_graph(graph.ppmi, resolution=1.0, random_state=seed)
        given = partition_with_cluster_count(
            auto, true_k, features=pcs, adjacency=graph.ppmi, random_state=seed
        )
        found = int(np.unique(auto).size)
        rows.append(
            {
                "dataset": dataset.stem,
                "seed": seed,
                "variant": name,
                "true_k": true_k,
                "auto_clusters": found,
                "auto_within_1_5x": true_k / 1.5 <= found <= 1.5 * true_k,
                "auto_ari": float(adjusted_rand_score(annotation, auto)),
                "given_k_ari": float(adjusted_rand_score(annotation, given)),
            }
        )
    return rows


def _means(rows, score):
    """``{variant: {dataset: mean over seeds of score}}``."""
    table: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        table.setdefault(row["variant"], {}).setdefault(row["dataset"], []).append(row[score])
    return {
        variant: {dataset: float(np.mean(values)) for dataset, values in by_dataset.items()}
        for variant, by_dataset in table.items()
    }


def _leave_one_out(means: dict[str, dict[str, float]]) -> list[tuple[str, str, float, float]]:
    """(held-out dataset, variant the others pick, its score there, the default's there)."""
    datasets = sorted(means[DEFAULT])
    folds = []
    for held_out in datasets:
        others = [dataset for dataset in datasets if dataset != held_out]
        pick = max(means, key=lambda variant: np.mean([means[variant][d] for d in others]))
        folds.append((held_out, pick, means[pick][held_out], means[DEFAULT][held_out]))
    return folds


def table(rows: list[dict], command: str) -> str:
    datasets = sorted({row["dataset"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    lines = [
        f"Command: `{command}`  ",
        f"Seeds {', '.join(map(str, seeds))}; ARI of DEC's start against the labels (scoring "
        "only), mean over the seeds: Leiden (resolution 1.0) on the PPMI cell graph "
        "(`auto`), and that partition brought to the annotated k (k given). No training.",
        "",
    ]
    for score, title in (("given_k_ari", "k given"), ("auto_ari", "auto")):
        means = _means(rows, score)
        lines += [f"**Start ARI, {title}**", ""]
        lines.append("| variant | " + " | ".join(datasets) + " | mean |")
        lines.append("|---" * (len(datasets) + 2) + "|")
        for variant, by_dataset in means.items():
            values = [by_dataset[d] for d in datasets]
            cells = " | ".join(f"{value:.3f}" for value in values)
            lines.append(f"| {variant} | {cells} | {np.mean(values):.3f} |")
        lines += ["", f"Leave one dataset out ({title}):", ""]
        lines += ["| held out | variant the others pick | its ARI there | default's |"]
        lines.append("|---|---|---|---|")
        for held_out, pick, picked, default in _leave_one_out(means):
            lines.append(f"| {held_out} | {pick} | {picked:.3f} | {default:.3f} |")
        lines.append("")
    counts: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        counts.setdefault(row["variant"], {}).setdefault(row["dataset"], []).append(
            row["auto_clusters"]
        )
    lines += ["**Number of clusters with `auto` (per seed)**", ""]
    lines.append("| variant | " + " | ".join(datasets) + " | datasets within 1.5x (all seeds) |")
    lines.append("|---" * (len(datasets) + 2) + "|")
    for variant, by_dataset in counts.items():
        within = sum(
            all(
                r["auto_within_1_5x"] for r in rows if r["variant"] == variant and r["dataset"] == d
            )
            for d in datasets
        )
        cells = " | ".join("/".join(map(str, by_dataset[d])) for d in datasets)
        lines.append(f"| {variant} | {cells} | {within}/{len(datasets)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/graph_parameters.md"
    )
    args = parser.parse_args()
    rows = rows_for_each_dataset(
        labelled_datasets(args.data_dir),
        lambda dataset: [row for seed in args.seeds for row in starts(dataset, seed)],
    )
    write_results(args.output, table(rows, ".venv/bin/python benchmarks/graph_parameters.py"), rows)


if __name__ == "__main__":
    main()
