"""Accuracy benchmark: scimta-kedro's default pipeline vs scanpy Leiden on labelled real data.

For every labelled ``.h5ad`` in ``../shared/data`` (or ``--data-dir``):

* **scimta-kedro**: ``kedro run --params input_path=<file>,label_key=cell_type`` with the
  project's default parameters, in a scratch copy of the project (your ``data/`` and
  ``mlflow.db`` are not touched). ARI/NMI are read from the run's ``cluster_summary.json``.
* **scanpy Leiden**: the same preprocessing (``core.preprocess`` with the same parameters),
  then ``sc.pp.neighbors`` on the same PCA and ``sc.tl.leiden`` at resolution 1.0.

Each method runs in its own child process, so wall time and peak RSS (from ``wait4``) are
that method's alone. Labels are only used to score (and, with ``--given-k``, counted);
nothing is chosen with them. With several ``--seeds`` every method runs once per seed
(``random_state`` of ours; the PCA, neighbour, Leiden and KMeans seeds of the anchors); the
table gives the mean over seeds, the ARI range, and per method the mean over datasets and
on how many datasets every seed's number of clusters lies within a factor 1.5 of the true
number of cell types.

Usage::

    .venv/bin/python -m benchmarks.accuracy [--data-dir ../shared/data] [--datasets a b]
        [--given-k] [--seeds 0 1 2] [--output benchmarks/results/accuracy.md]
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

from benchmarks.lib.scratch_project import (
    PROJECT_ROOT,
    kedro_run_in_scratch_project,
    labelled_datasets,
    run_measured,
)

LABEL_KEY = "cell_type"


def scimta(
    dataset: Path, workdir: Path, n_clusters: int | None = None, seed: int = 0, extra: str = ""
) -> dict:
    parameters = f"input_path={dataset},label_key={LABEL_KEY},random_state={seed}"
    if n_clusters is not None:
        parameters += f",training.n_clusters={n_clusters}"
    if extra:
        parameters += f",{extra}"
    project, wall, rss = kedro_run_in_scratch_project(workdir, parameters, dataset.name)
    summary = json.loads((project / "data/08_reporting/cluster_summary.json").read_text())
    return {
        "ari": summary["ari"],
        "nmi": summary["nmi"],
        "clusters": int(summary["n_clusters"]),
        "cells": f"{summary['n_cells']} / {summary['n_cells_input']}",
        "wall_s": wall,
        "rss_gib": rss,
    }


SCANPY_SCRIPT = """
import json, sys
import numpy as np, scanpy as sc, yaml
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.io import read_cells
from scimta_kedro.core.validate import validate_counts
path, label_key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
n_clusters, seed = int(sys.argv[4]), int(sys.argv[5])
parameters = yaml.safe_load(open("conf/base/parameters_data_processing.yml"))["data_processing"]
graph = yaml.safe_load(open("conf/base/parameters_graph_construction.yml"))["graph_construction"]
cells = validate_counts(read_cells(path), n_neighbors=graph["n_neighbors"])
n_input = cells.n_obs
cells = preprocess_counts(cells, PreprocessConfig(**parameters["preprocessing"], random_state=seed))
def leiden(resolution):
    sc.tl.leiden(cells, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                 random_state=seed)
    return cells.obs["leiden"].to_numpy()
if mode == "kmeans":
    found = KMeans(n_clusters, n_init=10, random_state=seed).fit_predict(cells.obsm["X_pca"])
else:
    sc.pp.neighbors(cells, n_neighbors=graph["n_neighbors"], use_rep="X_pca", random_state=seed)
    found = leiden(1.0)
    if mode == "bisect":
        # Resolution bisected until Leiden gives n_clusters (closest count if never exact).
        low, high, best = 0.01, 5.0, found
        for _ in range(25):
            middle = (low + high) / 2
            found = leiden(middle)
            count = np.unique(found).size
            if abs(count - n_clusters) < abs(np.unique(best).size - n_clusters):
                best = found
            if count == n_clusters:
                break
            low, high = (middle, high) if count < n_clusters else (low, middle)
        found = best
truth = cells.obs[label_key].to_numpy()
print("RESULT" + json.dumps({
    "ari": adjusted_rand_score(truth, found), "nmi": normalized_mutual_info_score(truth, found),
    "clusters": int(np.unique(found).size), "cells": f"{cells.n_obs} / {n_input}"}))
"""


def scanpy_baseline(
    dataset: Path, mode: str = "leiden", n_clusters: int = 0, seed: int = 0
) -> dict:
    """``mode``: ``leiden`` (resolution 1.0), ``bisect`` (Leiden with ``n_clusters``) or
    ``kmeans`` (KMeans with ``n_clusters`` on the 50 PCs)."""
    command = [sys.executable, "-c", SCANPY_SCRIPT, str(dataset), LABEL_KEY, mode]
    result, wall, rss = run_measured([*command, str(n_clusters), str(seed)], PROJECT_ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"scanpy baseline failed on {dataset.name}:\n{result.stdout[-4000:]}")
    return {**json.loads(lines[-1][len("RESULT") :]), "wall_s": wall, "rss_gib": rss}


def _spread(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}" if len(values) > 1 else "-"


def markdown_table(rows: list[dict]) -> str:
    """One row per dataset and method: means over seeds, the ARI range, and the mean rows."""
    header = (
        "| dataset | cells (kept / input) | true k | method | clusters | ARI | ARI range over "
        "seeds | NMI | wall (s) | peak RSS (GiB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["dataset"], row["method"]), []).append(row)
    lines, per_method = [], {}
    for (dataset, method), runs in groups.items():
        mean = {key: float(np.mean([r[key] for r in runs])) for key in ("ari", "nmi", "wall_s")}
        clusters = "/".join(str(r["clusters"]) for r in runs)
        lines.append(
            f"| {dataset} | {runs[0]['cells']} | {runs[0]['true_k']} | {method} | {clusters} | "
            f"{mean['ari']:.3f} | {_spread([r['ari'] for r in runs])} | {mean['nmi']:.3f} | "
            f"{mean['wall_s']:.0f} | {max(r['rss_gib'] for r in runs):.2f} |"
        )
        per_method.setdefault(method, []).append((mean, runs))
    for method, entries in per_method.items():
        ari = np.mean([mean["ari"] for mean, _ in entries])
        nmi = np.mean([mean["nmi"] for mean, _ in entries])
        wall = np.mean([mean["wall_s"] for mean, _ in entries])
        within = sum(
            all(r["true_k"] / 1.5 <= r["clusters"] <= 1.5 * r["true_k"] for r in runs)
            for _, runs in entries
        )
        lines.append(
            f"| **mean** | | | {method} | within 1.5x of k: {within}/{len(entries)} | "
            f"{ari:.3f} | | {nmi:.3f} | {wall:.0f} | |"
        )
    return header + "\n".join(lines) + "\n"


def _true_k(dataset: Path) -> int:
    """The number of annotated cell types (the labels are read for nothing else)."""
    import anndata as ad

    return int(ad.read_h5ad(dataset, backed="r").obs[LABEL_KEY].nunique())


def _methods(
    dataset: Path, scratch: Path, given_k: bool, seed: int, *, extra: str, ours_only: bool
) -> list:
    """Ours and the anchors: at their defaults, or (``given_k``) all told the true k.

    With ``extra`` kedro parameters, ours is named after them instead of "default".
    """
    if not given_k:
        methods = [
            (
                f"scimta-kedro ({extra or 'default'})",
                lambda: scimta(dataset, scratch, seed=seed, extra=extra),
            ),
            ("scanpy Leiden r=1.0", lambda: scanpy_baseline(dataset, seed=seed)),
        ]
    else:
        k = _true_k(dataset)
        methods = [
            (
                f"scimta-kedro (k given{', ' + extra if extra else ''})",
                lambda: scimta(dataset, scratch, n_clusters=k, seed=seed, extra=extra),
            ),
            ("scanpy Leiden bisected to k", lambda: scanpy_baseline(dataset, "bisect", k, seed)),
            ("KMeans(k) on 50 PCs", lambda: scanpy_baseline(dataset, "kmeans", k, seed)),
        ]
    return methods[:1] if ours_only else methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="file stems to run (default: all)")
    parser.add_argument(
        "--given-k",
        action="store_true",
        help="give every method the true number of cell types (ours: training.n_clusters); "
        "anchors: Leiden with bisected resolution and KMeans on 50 PCs",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="random_state of every method; each (dataset, method) runs once per seed",
    )
    parser.add_argument(
        "--params",
        default="",
        help="extra kedro --params for ours only, to measure a candidate default "
        "(e.g. training.target_frequency_exponent=0.5); give --output with it",
    )
    parser.add_argument("--ours-only", action="store_true", help="skip the anchors")
    parser.add_argument("--output", type=Path, default=None)
    arguments = parser.parse_args()
    if (arguments.params or arguments.ours_only) and arguments.output is None:
        parser.error(
            "--params and --ours-only need --output (the default tables are the defaults')"
        )
    results = PROJECT_ROOT / "benchmarks" / "results"
    output = arguments.output or results / (
        "accuracy_given_k.md" if arguments.given_k else "accuracy.md"
    )
    files = labelled_datasets(arguments.data_dir, arguments.datasets)

    rows = []
    with tempfile.TemporaryDirectory(prefix="scimta-benchmark-") as scratch:
        for dataset in files:
            true_k = _true_k(dataset)
            for seed in arguments.seeds:
                methods = _methods(
                    dataset,
                    Path(scratch),
                    arguments.given_k,
                    seed,
                    extra=arguments.params,
                    ours_only=arguments.ours_only,
                )
                for method, run in methods:
                    row = {"dataset": dataset.stem, "method": method, "seed": seed, **run()}
                    row["true_k"] = true_k
                    rows.append(row)
                    print(
                        f"{row['dataset']:<34} {method:<28} seed {seed} ARI {row['ari']:.3f} "
                        f"NMI {row['nmi']:.3f} k={row['clusters']:<3} {row['wall_s']:.0f}s "
                        f"{row['rss_gib']:.2f} GiB",
                        flush=True,
                    )
    table = markdown_table(rows)
    output.parent.mkdir(parents=True, exist_ok=True)
    command = "benchmarks/accuracy.py" + (" --given-k" if arguments.given_k else "")
    command += " --seeds " + " ".join(map(str, arguments.seeds))
    if arguments.params:
        command += f" --params {arguments.params}"
    if arguments.ours_only:
        command += " --ours-only"
    if arguments.output is not None:
        command += f" --output {arguments.output}"
    output.write_text(
        f"Command: `.venv/bin/python {command}`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n{table}"
    )
    output.with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print("\n" + table)


if __name__ == "__main__":
    main()
