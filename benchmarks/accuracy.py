"""Accuracy benchmark: scimta-kedro's clusters against the anchors a user would pick instead.

For every labelled ``.h5ad`` in ``../shared/data`` (or ``--data-dir``), every seed and both
modes, each method in its own child process (wall time and peak RSS from ``wait4`` are that
method's alone):

* **auto** (the number of clusters found without labels):
  ours, ``kedro run --params input_path=<file>,label_key=cell_type,random_state=<seed>`` in
  a scratch copy of the project (your ``data/`` and ``mlflow.db`` are not touched) that
  holds MLflow's tables, as a project does after its first run (a first run makes them in
  about 2 s); scanpy Leiden at resolution 1.0; scVI + Leiden at resolution 1.0.
* **k given** (the annotated number of cell types): ours with ``training.n_clusters=k``;
  Leiden with its resolution bisected to k; KMeans(k) on the 50 PCs; scVI + Leiden bisected
  to k; scVI + KMeans(k) on its latent; the published method at its published settings
  (dense graph, 500 HVGs z-scored, 1000 pretraining and 300 clustering epochs, KMeans(k)
  start; files of at most 10k cells).

The anchors share the project's preprocessing (``benchmarks/lib/anchors.py``); scVI is
scvi-tools' default model on the raw counts of the same HVGs, with ``batch_key`` where the
file has a ``batch`` column (``make benchmark-install``). One scVI training per file and seed
gives its three partitions, so its three rows share one wall time.

* **batch_key** (files with a ``batch`` column): ours with ``batch_key=batch`` and the number
  of clusters found, against KMeans(true k) on the batch-corrected latent it trained
  (``obsm["X_scimta"]``): how much of what the latent separates the clusters recover.

Labels are only used to score and, for k given, counted. Per method the table gives the mean
over seeds, the ARI range, and the mean over datasets with the two bladder files and the two
Baron pancreas files counted as one dataset each, and on how many of those datasets every
seed's number of clusters lies within a factor 1.5 of the true number.

``--methods`` runs some methods only and ``--append`` keeps the result file's other rows (of
the other methods, and of these methods on the files and seeds not run now), so that the
slow scVI anchor need not be rerun when only ours changes. ``--tables-only`` rewrites the
tables from the stored rows.

Usage::

    .venv/bin/python -m benchmarks.accuracy [--data-dir ../shared/data] [--datasets a b]
        [--seeds 0 1 2] [--methods ours leiden bisect kmeans published scvi] [--append]
        [--params training.x=y --output other.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.lib.anchors import BATCH_KEY
from benchmarks.lib.scratch_project import (
    PROJECT_ROOT,
    biologies_where_all,
    biology,
    kedro_run_in_scratch_project,
    labelled_datasets,
    per_biology,
    run_measured,
    within_factor,
)

LABEL_KEY = "cell_type"
RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "accuracy.md"
METHODS = ("ours", "batch", "leiden", "bisect", "kmeans", "published", "scvi")
BATCH_MODE = "batch_key"
KMEANS_ON_LATENT = "KMeans(true k) on our corrected latent"
# Anchor partitions: name in anchors.py -> (mode, row label).
ANCHOR_ROWS = {
    "leiden": ("auto", "scanpy Leiden r=1.0"),
    "scvi_leiden": ("auto", "scVI + Leiden r=1.0"),
    "bisect": ("k given", "Leiden bisected to k"),
    "kmeans": ("k given", "KMeans(k) on 50 PCs"),
    "scvi_bisect": ("k given", "scVI + Leiden bisected to k"),
    "scvi_kmeans": ("k given", "scVI + KMeans(k)"),
    "published": ("k given", "published method, dense (500 HVGs, 1000+300 epochs)"),
}


def ours(dataset: Path, workdir: Path, n_clusters: int | None, seed: int, extra: str) -> dict:
    parameters = f"input_path={dataset},label_key={LABEL_KEY},random_state={seed}"
    if n_clusters is not None:
        parameters += f",training.n_clusters={n_clusters}"
    if extra:
        parameters += f",{extra}"
    project, wall, rss = kedro_run_in_scratch_project(
        workdir, parameters, dataset.name, tracking_database=True
    )
    summary = json.loads((project / "data/08_reporting/cluster_summary.json").read_text())
    return {
        "ari": summary["ari"],
        "ari_start": summary.get("ari_start"),
        "nmi": summary["nmi"],
        "clusters": int(summary["n_clusters"]),
        "cells": f"{summary['n_cells']} / {summary['n_cells_input']}",
        "wall_s": wall,
        "rss_gib": rss,
    }


def ours_with_batches(
    dataset: Path, workdir: Path, n_clusters: int, seed: int, extra: str
) -> list[dict]:
    """Ours with ``batch_key`` (and the ``extra`` parameters of a candidate), and
    KMeans(``n_clusters``) on the corrected latent it made."""
    import anndata as ad
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    parameters = f"input_path={dataset},label_key={LABEL_KEY},random_state={seed}"
    parameters += f",batch_key={BATCH_KEY}"
    if extra:
        parameters += f",{extra}"
    project, wall, rss = kedro_run_in_scratch_project(
        workdir, parameters, dataset.name, tracking_database=True
    )
    summary = json.loads((project / "data/08_reporting/cluster_summary.json").read_text())
    clustered = ad.read_h5ad(project / "data/07_model_output/clustered_cells.h5ad")
    labels = clustered.obs[LABEL_KEY].to_numpy()
    found = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(
        clustered.obsm["X_scimta"]
    )
    cells = f"{summary['n_cells']} / {summary['n_cells_input']}"
    common = {"cells": cells, "wall_s": wall, "rss_gib": rss, "anchor": "batch"}
    return [
        {
            "method": f"scimta-kedro (batch_key={BATCH_KEY}{', ' + extra if extra else ''})",
            "ari": summary["ari"],
            "ari_start": summary.get("ari_start"),
            "nmi": summary["nmi"],
            "clusters": int(summary["n_clusters"]),
            **common,
        },
        {
            "method": KMEANS_ON_LATENT,
            "ari": float(adjusted_rand_score(labels, found)),
            "nmi": float(normalized_mutual_info_score(labels, found)),
            "clusters": n_clusters,
            **common,
        },
    ]


def anchor(method: str, dataset: Path, n_clusters: int, seed: int) -> dict[str, dict]:
    """The partitions of one anchor process (``benchmarks/lib/anchors.py``), by name."""
    command = [sys.executable, "-m", "benchmarks.lib.anchors", method, str(dataset), LABEL_KEY]
    result, wall, rss = run_measured([*command, str(n_clusters), str(seed)], PROJECT_ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"{method} anchor failed on {dataset.name}:\n{result.stdout[-4000:]}")
    partitions = json.loads(lines[-1][len("RESULT") :])
    return {name: {**row, "wall_s": wall, "rss_gib": rss} for name, row in partitions.items()}


def _spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else "-"


def _within(row: dict) -> bool:
    return within_factor(row["clusters"], row["true_k"])


def markdown_table(rows: list[dict], mode: str) -> str:
    """One row per dataset and method of ``mode``, means over seeds, then the mean rows."""
    header = (
        "| dataset | cells (kept / input) | true k | method | clusters | ARI | ARI range over "
        "seeds | ARI of DEC's start | NMI | wall (s) | peak RSS (GiB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in sorted(rows, key=lambda row: row["dataset"]):
        if row["mode"] == mode:
            groups.setdefault((row["dataset"], row["method"]), []).append(row)
    lines, per_method = [], {}
    for (dataset, method), runs in groups.items():
        mean = {key: float(np.mean([r[key] for r in runs])) for key in ("ari", "nmi", "wall_s")}
        clusters = "/".join(str(r["clusters"]) for r in runs)
        starts = [r["ari_start"] for r in runs if r.get("ari_start") is not None]
        mean["ari_start"] = float(np.mean(starts)) if starts else float("nan")
        start = f"{mean['ari_start']:.3f}" if starts else "-"
        lines.append(
            f"| {dataset} | {runs[0]['cells']} | {runs[0]['true_k']} | {method} | {clusters} | "
            f"{mean['ari']:.3f} | {_spread([r['ari'] for r in runs])} | {start} | "
            f"{mean['nmi']:.3f} | {mean['wall_s']:.0f} | {max(r['rss_gib'] for r in runs):.2f} |"
        )
        per_method.setdefault(method, {}).setdefault(biology(dataset), []).append((mean, runs))
    for method, biologies in per_method.items():
        means = [
            {
                key: np.mean([mean[key] for mean, _ in entries])
                for key in ("ari", "ari_start", "nmi", "wall_s")
            }
            for entries in biologies.values()
        ]
        start = np.mean([m["ari_start"] for m in means])
        within = sum(
            all(_within(row) for _, runs in entries for row in runs)
            for entries in biologies.values()
        )
        lines.append(
            f"| **mean of {len(biologies)} datasets** | | | {method} | within 1.5x of k: "
            f"{within}/{len(biologies)} | {np.mean([m['ari'] for m in means]):.3f} | | "
            f"{'-' if np.isnan(start) else f'{start:.3f}'} | "
            f"{np.mean([m['nmi'] for m in means]):.3f} | "
            f"{np.mean([m['wall_s'] for m in means]):.0f} | |"
        )
    return header + "\n".join(lines) + "\n"


def _per_biology(rows: list[dict], mode: str, method: str, key: str = "ari") -> dict[str, float]:
    """Mean of ``key`` over seeds, then over the files of one biology, per biology."""
    by_file: dict[str, list[float]] = {}
    for row in rows:
        if row["mode"] == mode and row["method"] == method:
            by_file.setdefault(row["dataset"], []).append(row[key])
    return per_biology({dataset: float(np.mean(values)) for dataset, values in by_file.items()})


def targets_table(rows: list[dict]) -> str:
    """The issue's targets, each as measured: the margin, and whether it holds."""
    ours = next((r["method"] for r in rows if r.get("anchor", "ours") == "ours"), None)
    methods = {(r["mode"], r["method"]) for r in rows}
    if ours is None:
        return ""
    lines = ["| target | measured | holds |", "|---|---|---|"]

    def mean(mode: str, method: str, on: set[str] | None = None) -> float | None:
        values = _per_biology(rows, mode, method)
        values = {b: v for b, v in values.items() if on is None or b in on}
        return float(np.mean(list(values.values()))) if values else None

    given = {m for mode, m in methods if mode == "k given" and m != ours}
    for anchor in sorted(given):
        # Each anchor on the datasets it ran on (scVI may cover fewer).
        shared = set(_per_biology(rows, "k given", anchor))
        margin = mean("k given", ours, shared) - mean("k given", anchor, shared)
        lines.append(
            f"| k given: mean ARI >= {anchor} + 0.03 | {mean('k given', ours, shared):.3f} vs "
            f"{mean('k given', anchor, shared):.3f} ({margin:+.3f}) on {len(shared)} datasets | "
            f"{'yes' if margin >= 0.03 else 'no'} |"
        )
    if ("k given", "Leiden bisected to k") in methods:
        ours_by = _per_biology(rows, "k given", ours)
        bisect = _per_biology(rows, "k given", "Leiden bisected to k")
        worst = min(ours_by, key=lambda b: ours_by[b] - bisect.get(b, 0))
        gap = ours_by[worst] - bisect[worst]
        lines.append(
            "| k given: no dataset > 0.02 below Leiden bisected to k | worst: "
            f"{worst} {gap:+.3f} | {'yes' if gap >= -0.02 else 'no'} |"
        )
    auto_rows = [r for r in rows if r["mode"] == "auto" and r["method"] == ours]
    if auto_rows:
        by_biology = biologies_where_all((row["dataset"], _within(row)) for row in auto_rows)
        share = sum(by_biology.values()) / len(by_biology)
        lines.append(
            f"| auto: k within 1.5x on >= 80% of datasets | {sum(by_biology.values())}/"
            f"{len(by_biology)} ({share:.0%}) | {'yes' if share >= 0.8 else 'no'} |"
        )
        for anchor in ("scanpy Leiden r=1.0", "scVI + Leiden r=1.0"):
            if ("auto", anchor) in methods:
                # On the datasets the anchor ran on (scVI may cover fewer).
                shared = set(_per_biology(rows, "auto", anchor))
                ours_mean, anchor_mean = mean("auto", ours, shared), mean("auto", anchor, shared)
                lines.append(
                    f"| auto: mean ARI >= {anchor} + 0.05 | {ours_mean:.3f} vs "
                    f"{anchor_mean:.3f} ({ours_mean - anchor_mean:+.3f}) on {len(shared)} "
                    f"datasets | {'yes' if ours_mean - anchor_mean >= 0.05 else 'no'} |"
                )
    batch_method = next(
        (
            r["method"]
            for r in rows
            if r.get("anchor") == "batch" and r["method"] != KMEANS_ON_LATENT
        ),
        None,
    )
    if batch_method is not None:
        ours_batch = _per_biology(rows, BATCH_MODE, batch_method)
        on_latent = _per_biology(rows, BATCH_MODE, KMEANS_ON_LATENT)
        worst = min(ours_batch, key=lambda b: ours_batch[b] - on_latent[b])
        gap = ours_batch[worst] - on_latent[worst]
        mean_gap = float(np.mean([ours_batch[b] - on_latent[b] for b in ours_batch]))
        lines.append(
            f"| with `batch_key`: clusters within 0.05 of {KMEANS_ON_LATENT} | mean "
            f"{mean_gap:+.3f} on {len(ours_batch)} datasets; worst: {worst} {gap:+.3f} | "
            f"{'yes' if gap >= -0.05 else 'no'} |"
        )
    timed = [
        ((r["dataset"], r["seed"]), r["wall_s"])
        for r in auto_rows
        if 4000 <= int(r["cells"].split(" / ")[1]) <= 10000
    ]
    # Each run against scanpy's run of the same file and seed (measured side by side).
    scanpy = {
        (r["dataset"], r["seed"]): r["wall_s"]
        for r in rows
        if r["mode"] == "auto" and r["method"] == "scanpy Leiden r=1.0"
    }
    ratios = [wall / scanpy[run] for run, wall in timed if run in scanpy]
    if ratios:
        lines.append(
            "| time: whole `kedro run` <= 3x scanpy (preprocessing + neighbours + Leiden, "
            f"start-up included) at 4-10k cells | median {np.median(ratios):.1f}x, "
            f"{min(ratios):.1f}x-{max(ratios):.1f}x on {len(ratios)} runs | "
            f"{'yes' if max(ratios) <= 3 else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def seed_coverage(rows: list[dict], seeds: list[int]) -> str:
    """A header line naming the methods measured on fewer seeds than the table (empty when
    every method has every seed)."""
    seeds_of: dict[str, set[int]] = {}
    for row in rows:
        seeds_of.setdefault(row["method"], set()).add(row["seed"])
    fewer = {method: sorted(found) for method, found in seeds_of.items() if found != set(seeds)}
    if not fewer:
        return ""
    listed = "; ".join(
        f"{method}: seed {', '.join(map(str, found))}" for method, found in sorted(fewer.items())
    )
    return f"Measured on fewer seeds: {listed}  \n"


def _annotations(dataset: Path) -> tuple[int, bool]:
    """The number of annotated cell types and whether the file has a batch column (the
    labels are read for nothing else)."""
    import anndata as ad

    obs = ad.read_h5ad(dataset, backed="r").obs
    return int(obs[LABEL_KEY].nunique()), BATCH_KEY in obs


def rows_of(dataset: Path, seed: int, methods, scratch: Path, extra: str) -> list[dict]:
    """Every selected method's rows on ``dataset`` with ``seed``."""
    k, has_batches = _annotations(dataset)
    base = {"dataset": dataset.stem, "seed": seed, "true_k": k}
    rows = []
    if "ours" in methods:
        name = f"scimta-kedro ({extra or 'default'})"
        rows.append(
            {**base, "mode": "auto", "method": name, **ours(dataset, scratch, None, seed, extra)}
        )
        rows.append(
            {**base, "mode": "k given", "method": name, **ours(dataset, scratch, k, seed, extra)}
        )
    if "batch" in methods and has_batches:
        for row in ours_with_batches(dataset, scratch, k, seed, extra):
            rows.append({**base, "mode": BATCH_MODE, **row})
    for method in methods:
        if method in ("ours", "batch"):
            continue
        for partition, row in anchor(method, dataset, k, seed).items():
            mode, label = ANCHOR_ROWS[partition]
            rows.append({**base, "mode": mode, "method": label, "anchor": method, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="file stems to run (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument(
        "--append",
        action="store_true",
        help="keep the result file's rows of the methods not run now",
    )
    parser.add_argument(
        "--params",
        default="",
        help="extra kedro --params for ours and its batch rows, to measure a candidate default "
        "(benchmarks.sweeps.accuracy_candidates compares it); needs --output",
    )
    parser.add_argument(
        "--tables-only", action="store_true", help="rewrite the tables from the stored rows"
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    if arguments.params and arguments.output == RESULTS:
        parser.error("--params needs --output (the default table is the defaults')")
    files = labelled_datasets(arguments.data_dir, arguments.datasets)

    rows = []
    json_path = arguments.output.with_suffix(".json")
    if (arguments.append or arguments.tables_only) and json_path.exists():
        running = {(dataset.stem, seed) for dataset in files for seed in arguments.seeds}
        rows = [
            row
            for row in json.loads(json_path.read_text())
            if arguments.tables_only
            or row.get("anchor", "ours") not in arguments.methods
            or (row["dataset"], row["seed"]) not in running
        ]
    if arguments.tables_only:
        files = []
    with tempfile.TemporaryDirectory(prefix="scimta-benchmark-") as scratch:
        for dataset in files:
            for seed in arguments.seeds:
                new = rows_of(dataset, seed, arguments.methods, Path(scratch), arguments.params)
                for row in new:
                    print(
                        f"{row['dataset']:<40} {row['mode']:<8} {row['method']:<30} seed {seed} "
                        f"ARI {row['ari']:.3f} k={row['clusters']:<3} {row['wall_s']:.0f}s "
                        f"{row['rss_gib']:.2f} GiB",
                        flush=True,
                    )
                rows += new
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(json.dumps(rows, indent=1))
    seeds = sorted({row["seed"] for row in rows})
    command = "python -m benchmarks.accuracy --seeds " + " ".join(map(str, seeds))
    if arguments.params:
        command += f" --params {arguments.params} --output {arguments.output}"
    text = (
        f"Command: `.venv/bin/{command}`  \n"
        + seed_coverage(rows, seeds)
        + f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n"
        "### Number of clusters found (auto)\n\n"
        + markdown_table(rows, "auto")
        + "\n### Number of clusters given (the annotated k)\n\n"
        + markdown_table(rows, "k given")
        + "\n### With `batch_key` (files with a batch column; clusters found)\n\n"
        + markdown_table(rows, BATCH_MODE)
        + "\n### Targets (means over datasets, each biology once)\n\n"
        + targets_table(rows)
    )
    arguments.output.write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
