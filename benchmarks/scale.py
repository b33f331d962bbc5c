"""Scale benchmark: the default analysis at 10k to 1.3M simulated cells, stage by stage.

For each size, simulated 10x-like counts (20k genes, ~2.4k UMIs and ~1.9k detected genes per
cell, ~90% zeros, 10 planted groups; ``core.simulate`` with the ``sparse`` sampler, written
chunk by chunk and cached in ``--cache-dir``) go through the project's own pipelines, each a
``kedro run --pipelines <stage>`` in its own process of a scratch copy of the project (wall
time and peak RSS from ``wait4``; the stages hand over their ``.h5ad`` files as in a user's
run): ``data_processing``, ``graph_construction`` (cell and gene graphs), ``training`` and
``clustering`` (final labels, UMAP of at most 50k cells, metrics).

scanpy's standard pipeline on the same preprocessed cells is the user's alternative:
``sc.pp.pca`` (50 components) on the same ``X``, ``sc.pp.neighbors`` (15) and Leiden
(igraph, resolution 1), in its own process. Our preprocessing is shared, so the comparison is
our graph + training + clustering against scanpy's PCA + neighbours + Leiden.

ARI against the planted groups checks that accuracy holds with scale. Exponents ``b`` of
``time ~ cells^b`` and ``RSS ~ cells^b`` are least-squares fits on log-log over the sizes.

Usage::

    .venv/bin/python -m benchmarks.scale [--cells 10000 100000 300000 1300000]
        [--cache-dir data/scale_benchmark] [--output benchmarks/results/scale.md]
        [--keep-other-sizes] [--reuse-scanpy] [--params key=value,...]
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
    KEDRO,
    PROJECT_ROOT,
    run_measured,
    scaling_exponent,
    scratch_project,
)

STAGES = ("data_processing", "graph_construction", "training", "clustering")
LABEL_KEY = "cell_type"


def simulation(n_cells: int):
    from scimta_kedro.core.simulate import SimulationConfig

    return SimulationConfig(
        n_cells=n_cells,
        n_genes=20000,
        n_groups=10,
        genes_per_programme=100,
        de_log_fold=1.0,
        library_log_mean=8.0,
        dropout_midpoint=-3.0,
        sampler="sparse",
    )


def simulated_file(n_cells: int, cache_dir: Path) -> Path:
    from scimta_kedro.core.simulate import write_simulated_h5ad

    path = cache_dir / f"simulated_{n_cells}.h5ad"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        write_simulated_h5ad(simulation(n_cells), path)
        print(f"simulated {n_cells} cells in {time.perf_counter() - start:.0f} s", flush=True)
    return path


def scanpy_worker(preprocessed: Path, output: Path) -> None:
    """scanpy's PCA, neighbours and Leiden on our preprocessed cells; writes ARI and clusters."""
    import anndata as ad
    import scanpy as sc
    from sklearn.metrics import adjusted_rand_score

    cells = ad.read_h5ad(preprocessed)
    for layer in list(cells.layers):
        del cells.layers[layer]  # scanpy's pipeline reads X only
    sc.pp.pca(cells, n_comps=50, random_state=0)
    sc.pp.neighbors(cells, n_neighbors=15, random_state=0)
    sc.tl.leiden(cells, resolution=1.0, flavor="igraph", n_iterations=2, random_state=0)
    labels = cells.obs["leiden"].to_numpy()
    output.write_text(
        json.dumps(
            {
                "ari": adjusted_rand_score(cells.obs[LABEL_KEY], labels),
                "clusters": int(np.unique(labels).size),
            }
        )
    )


def measure_size(
    n_cells: int,
    cache_dir: Path,
    workdir: Path,
    previous_scanpy: dict | None = None,
    extra_params: str = "",
) -> dict:
    """Our stages at ``n_cells`` (with ``extra_params``, kedro ``--params`` syntax, added to
    every stage's), then scanpy's, unless ``previous_scanpy`` (an earlier measurement of
    scanpy at this size, kept and marked as such) is given."""
    from sklearn.metrics import adjusted_rand_score

    path = simulated_file(n_cells, cache_dir)
    project = scratch_project(workdir)
    parameters = ",".join(filter(None, [f"input_path={path},label_key={LABEL_KEY}", extra_params]))
    row: dict = {"cells": n_cells}
    for stage in STAGES:
        command = [KEDRO, "run", "--pipelines", stage, "--params", parameters]
        result, wall, rss = run_measured(command, project)
        if result.returncode != 0:
            raise RuntimeError(f"{stage} failed at {n_cells} cells:\n{result.stdout[-4000:]}")
        row[stage] = {"wall_s": wall, "rss_gib": rss}
        print(n_cells, stage, f"{wall:.0f} s", f"{rss:.2f} GiB", flush=True)

    import anndata as ad

    clustered = ad.read_h5ad(project / "data/07_model_output/clustered_cells.h5ad", backed="r")
    labels = clustered.obs["scimta_cluster"].to_numpy()
    row["ari"] = adjusted_rand_score(clustered.obs[LABEL_KEY], labels)
    row["clusters"] = int(np.unique(labels).size)
    row["cells_after_qc"] = int(clustered.n_obs)

    if previous_scanpy is not None:
        row["scanpy"] = {**previous_scanpy, "reused": True}
        return row
    output = workdir / "scanpy.json"
    preprocessed = project / "data/02_intermediate/preprocessed_cells.h5ad"
    command = [
        sys.executable,
        "-m",
        __spec__.name,
        "--scanpy-worker",
        str(preprocessed),
        str(output),
    ]
    result, wall, rss = run_measured(command, PROJECT_ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"scanpy failed at {n_cells} cells:\n{result.stdout[-4000:]}")
    row["scanpy"] = {"wall_s": wall, "rss_gib": rss, **json.loads(output.read_text())}
    print(n_cells, "scanpy", row["scanpy"], flush=True)
    return row


def markdown(rows: list[dict]) -> str:
    lines = [
        "Wall time (s) and peak RSS (GiB) of each `kedro run --pipelines <stage>`:",
        "",
        "| cells | " + " | ".join(STAGES) + " | total | scanpy PCA+neighbours+Leiden "
        "| ours after preprocessing / scanpy | ARI ours | ARI scanpy | clusters ours/scanpy |",
        "|---" * (len(STAGES) + 7) + "|",
    ]
    for row in rows:
        stages = [row[stage] for stage in STAGES]
        total = sum(stage["wall_s"] for stage in stages)
        after_preprocessing = total - row["data_processing"]["wall_s"]
        scanpy = row["scanpy"]
        cells = " | ".join(f"{s['wall_s']:.0f} s / {s['rss_gib']:.2f}" for s in stages)
        reused = " (earlier run)" if scanpy.get("reused") else ""
        lines.append(
            f"| {row['cells']} | {cells} | {total:.0f} s / {max(s['rss_gib'] for s in stages):.2f}"
            f" | {scanpy['wall_s']:.0f} s / {scanpy['rss_gib']:.2f}{reused}"
            f" | {after_preprocessing / scanpy['wall_s']:.2f}"
            f" | {row['ari']:.3f} | {scanpy['ari']:.3f}"
            f" | {row['clusters']}/{scanpy['clusters']} |"
        )
    sizes = [row["cells"] for row in rows]
    lines += [
        "",
        "Exponents b of cost ~ cells^b: fitted over all these sizes, and the slope between the"
        " two largest (fixed costs weigh less there):",
        "",
        "| stage | time (fit) | peak RSS (fit) | time (two largest) | peak RSS (two largest) |",
        "|---|---|---|---|---|",
    ]
    series = {
        stage: (
            [row[stage]["wall_s"] for row in rows],
            [row[stage]["rss_gib"] for row in rows],
        )
        for stage in (*STAGES, "scanpy")
    }
    series["total"] = (
        [sum(row[stage]["wall_s"] for stage in STAGES) for row in rows],
        [max(row[stage]["rss_gib"] for stage in STAGES) for row in rows],
    )
    for stage, (times, memory) in series.items():
        lines.append(
            f"| {stage} | {scaling_exponent(sizes, times):.2f}"
            f" | {scaling_exponent(sizes, memory):.2f}"
            f" | {scaling_exponent(sizes[-2:], times[-2:]):.2f}"
            f" | {scaling_exponent(sizes[-2:], memory[-2:]):.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--scanpy-worker":
        scanpy_worker(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, nargs="*", default=[10000, 100000, 300000, 1300000])
    parser.add_argument("--cache-dir", type=Path, default=PROJECT_ROOT / "data/scale_benchmark")
    parser.add_argument("--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/scale.md")
    parser.add_argument(
        "--keep-other-sizes",
        action="store_true",
        help="keep the rows of other sizes already in the results (one size per command)",
    )
    parser.add_argument(
        "--reuse-scanpy",
        action="store_true",
        help="keep scanpy's earlier measurement at a size instead of re-running it (for a change"
        " in our code only; the table marks the reused rows)",
    )
    parser.add_argument(
        "--params",
        default="",
        help="extra kedro --params for our stages, to measure a candidate default (e.g."
        " graph_construction.max_entries_per_row=100); give --output with it",
    )
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="measure nothing: rewrite the markdown table from the JSON results",
    )
    arguments = parser.parse_args()
    os.environ["DO_NOT_TRACK"] = "1"
    results = arguments.output.with_suffix(".json")
    rows = (
        json.loads(results.read_text())
        if (arguments.keep_other_sizes or arguments.table_only) and results.exists()
        else []
    )
    for n_cells in [] if arguments.table_only else arguments.cells:
        with tempfile.TemporaryDirectory(prefix="scimta-scale-") as folder:
            previous = next((r["scanpy"] for r in rows if r["cells"] == n_cells), None)
            row = measure_size(
                n_cells,
                arguments.cache_dir.resolve(),
                Path(folder),
                previous if arguments.reuse_scanpy else None,
                arguments.params,
            )
        row["date"] = time.strftime("%Y-%m-%d %H:%M")
        rows = sorted([r for r in rows if r["cells"] != n_cells] + [row], key=lambda r: r["cells"])
        results.write_text(json.dumps(rows, indent=2))
    text = markdown(rows)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.scale` (sizes measured one command at a time "
        "with `--cells N --keep-other-sizes` keep the others' rows)"
        + (f"; ours with `--params {arguments.params}`" if arguments.params else "")
        + "  \n"
        f"Machine: {os.cpu_count()} cores; measured {', '.join(r.get('date', '?') for r in rows)}\n\n"
        f"{text}"
    )
    print(text)


if __name__ == "__main__":
    main()
