"""Cell-graph and HVG parameters on real data: the partition DEC starts from, for each variant.

DEC's start is the partition training finds with the default ``params:training``
(core/dec_start.py): Leiden on the PPMI cell graph at ``start_resolution``, split or merged to
the number of clusters (with ``n_clusters: auto``, Leiden's count at ``leiden_resolution``;
when k is given, k). The final clusters stay close to it (docs/method.md). This rebuilds the
cell graph of every labelled file in ``../shared/data`` with one graph parameter changed at a
time (kNN k, surfing steps, restart probability, the surfing pruning bound, the kNN metric,
the number of PCs the kNN reads, and in preprocessing the number and flavour of the highly
variable genes) and scores both starts against the labels, for several seeds (preprocessing,
graph and Leiden seeded alike). No model is trained. A preprocessing variant changes the PCs
the accuracy benchmark's KMeans anchor reads too, so KMeans(k) on each preprocessing
variant's 50 PCs is scored beside it. Labels only score. Means weigh each biology once (the
two bladder files as one, the two Baron files as one); the leave-one-dataset-out view shows
which variant the other biologies would pick for each held-out one, and what it gives there.

Usage::

    .venv/bin/python -m benchmarks.sweeps.graph_parameters [--data-dir ../shared/data]
        [--seeds 0 1 2] [--output benchmarks/results/graph_parameters.md]
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import default_start, training_data, validated_cells
from benchmarks.lib.scratch_project import (
    biologies_where_all,
    biology_mean,
    default_config,
    per_biology,
    run_seeded_sweep,
    within_factor,
)
from scimta_kedro.core.cluster import kmeans_labels
from scimta_kedro.core.graphs import build_ppmi_graph
from scimta_kedro.core.preprocess import preprocess_counts

LABEL_KEY = "cell_type"
DEFAULT = "default"
# Each variant changes one GraphConfig field (or, "n_pcs", the PCs the kNN search reads)...
VARIANTS = {
    DEFAULT: {},
    "n_neighbors 10": {"n_neighbors": 10},
    "n_neighbors 20": {"n_neighbors": 20},
    "n_neighbors 30": {"n_neighbors": 30},
    "surf_steps 1": {"surf_steps": 1},
    "surf_steps 3": {"surf_steps": 3},
    "restart_probability 0.2": {"restart_probability": 0.2},
    "max_entries_per_row 50": {"max_entries_per_row": 50},
    "max_entries_per_row 75": {"max_entries_per_row": 75},
    "max_entries_per_row 150": {"max_entries_per_row": 150},
    "max_entries_per_row 250": {"max_entries_per_row": 250},
    "metric cosine": {"metric": "cosine"},
    "n_pcs 20": {"n_pcs": 20},
    "n_pcs 30": {"n_pcs": 30},
}
# ... or one PreprocessConfig field (then the graph is the default one, on the new PCs).
PREPROCESSING_VARIANTS = {
    "n_top_genes 1000": {"n_top_genes": 1000},
    "n_top_genes 3000": {"n_top_genes": 3000},
    "n_top_genes 5000": {"n_top_genes": 5000},
    "hvg_flavor cell_ranger": {"hvg_flavor": "cell_ranger"},
}


def _start_row(dataset, seed, variant, *, cells, config, n_pcs=None) -> dict:
    """Both DEC starts, as training finds them, from the cell graph ``config`` builds on the
    first ``n_pcs`` PCs of ``cells``."""
    annotation = cells.obs[LABEL_KEY].to_numpy()
    true_k = int(np.unique(annotation).size)
    data = training_data(cells, build_ppmi_graph(cells.obsm["X_pca"][:, :n_pcs], config))
    auto = default_start(data, seed)
    given = default_start(data, seed, n_clusters=true_k)
    found = int(np.unique(auto).size)
    return {
        "dataset": dataset.stem,
        "seed": seed,
        "variant": variant,
        "true_k": true_k,
        "auto_clusters": found,
        "auto_within_1_5x": within_factor(found, true_k),
        "auto_ari": float(adjusted_rand_score(annotation, auto)),
        "given_k_ari": float(adjusted_rand_score(annotation, given)),
    }


def starts(dataset: Path, seed: int) -> list[dict]:
    """One row per variant: both DEC starts on ``dataset`` with ``seed``, and for the default
    and the preprocessing variants the KMeans anchor on their PCs."""
    counts = validated_cells(dataset)
    default_preprocessing = default_config("data_processing", seed).preprocessing
    default_graph_config = default_config("graph_construction", seed).cell_graph

    def anchored(row, cells):
        kmeans = kmeans_labels(cells.obsm["X_pca"], row["true_k"], seed)
        score = adjusted_rand_score(cells.obs[LABEL_KEY].to_numpy(), kmeans)
        return {**row, "kmeans_ari": float(score)}

    cells = preprocess_counts(counts, default_preprocessing)
    rows = []
    for name, variant in VARIANTS.items():
        fields = {key: value for key, value in variant.items() if key != "n_pcs"}
        config = dataclasses.replace(default_graph_config, **fields)
        row = _start_row(
            dataset, seed, name, cells=cells, config=config, n_pcs=variant.get("n_pcs")
        )
        rows.append(anchored(row, cells) if name == DEFAULT else row)
    for name, variant in PREPROCESSING_VARIANTS.items():
        variant_cells = preprocess_counts(
            counts, dataclasses.replace(default_preprocessing, **variant)
        )
        row = _start_row(dataset, seed, name, cells=variant_cells, config=default_graph_config)
        rows.append(anchored(row, variant_cells))
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
    """(held-out biology, variant the other biologies pick, its score there, the default's
    there)."""
    by_biology = {variant: per_biology(scores) for variant, scores in means.items()}
    folds = []
    for held_out in sorted(by_biology[DEFAULT]):
        pick = max(
            by_biology,
            key=lambda variant: np.mean(
                [score for name, score in by_biology[variant].items() if name != held_out]
            ),
        )
        folds.append((held_out, pick, by_biology[pick][held_out], by_biology[DEFAULT][held_out]))
    return folds


def table(rows: list[dict], command: str) -> str:
    datasets = sorted({row["dataset"] for row in rows})
    seeds = sorted({row["seed"] for row in rows})
    lines = [
        f"Command: `{command}`  ",
        f"Seeds {', '.join(map(str, seeds))}; ARI of DEC's start against the labels (scoring "
        "only), mean over the seeds, of DEC's start as training finds it with the default "
        "`params:training` (`auto`, and k given: the annotated k). No training. Means weigh "
        "each biology once.",
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
            lines.append(f"| {variant} | {cells} | {biology_mean(by_dataset):.3f} |")
        lines += ["", f"Leave one dataset out ({title}):", ""]
        lines += ["| held out | variant the others pick | its ARI there | default's |"]
        lines.append("|---|---|---|---|")
        for held_out, pick, picked, default in _leave_one_out(means):
            lines.append(f"| {held_out} | {pick} | {picked:.3f} | {default:.3f} |")
        lines.append("")
    anchored_rows = [row for row in rows if "kmeans_ari" in row]
    kmeans = _means(anchored_rows, "kmeans_ari")
    given_k = _means(anchored_rows, "given_k_ari")
    lines += [
        "**KMeans(k) on the 50 PCs (the accuracy benchmark's anchor), for the variants that "
        "change the PCs**",
        "",
        "| variant | " + " | ".join(datasets) + " | mean | start (k given) minus KMeans |",
    ]
    lines.append("|---" * (len(datasets) + 3) + "|")
    for variant, by_dataset in kmeans.items():
        values = [by_dataset[d] for d in datasets]
        mean = biology_mean(by_dataset)
        margin = biology_mean(given_k[variant]) - mean
        cells = " | ".join(f"{value:.3f}" for value in values)
        lines.append(f"| {variant} | {cells} | {mean:.3f} | {margin:+.3f} |")
    lines.append("")
    counts: dict[str, dict[str, list[int]]] = {}
    for row in rows:
        counts.setdefault(row["variant"], {}).setdefault(row["dataset"], []).append(
            row["auto_clusters"]
        )
    lines += ["**Number of clusters with `auto` (per seed)**", ""]
    lines.append("| variant | " + " | ".join(datasets) + " | biologies within 1.5x (all seeds) |")
    lines.append("|---" * (len(datasets) + 2) + "|")
    for variant, by_dataset in counts.items():
        by_biology = biologies_where_all(
            (r["dataset"], r["auto_within_1_5x"]) for r in rows if r["variant"] == variant
        )
        cells = " | ".join("/".join(map(str, by_dataset[d])) for d in datasets)
        lines.append(f"| {variant} | {cells} | {sum(by_biology.values())}/{len(by_biology)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    run_seeded_sweep(
        __doc__.splitlines()[0],
        "graph_parameters",
        lambda dataset, seeds: [row for seed in seeds for row in starts(dataset, seed)],
        table,
    )


if __name__ == "__main__":
    main()
