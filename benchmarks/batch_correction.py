"""Batch-correction benchmark: scIB metrics for ours, its ablations, Harmony and BBKNN.

Datasets: the labelled files of ``../shared/data`` that have an ``obs["batch"]`` column
(pancreas libraries, CellBench plates: weak technical batches), and a simulated data set
with a strong, known batch effect (the project's simulator: 3000 cells, 6 cell types shared
by 3 batches, per-gene batch factors with log-sd 0.5 and library shifts with log-sd 0.3).

For each data set, in scratch copies of the project:

1. **scIMTA** runs: ``kedro run`` (the whole default analysis) with ``batch_key=batch``, and
   ablations that switch one part off: no batch-balanced graph
   (``graph_construction.batch_balanced=false``), no batch input to the decoder
   (``training.batch_conditioned_decoder=false``), no MMD penalty
   (``training.batch_penalty_weight=0``), and no correction at all (``batch_key`` unset).
   Each run's ``obsm["X_scimta"]`` and clusters are read.
2. **Uncorrected PCA**, **Harmony** and **BBKNN** start from the PCA of the same
   preprocessing (our full run's ``obsm["X_pca"]``); the baselines run in their own process
   (``batch_baselines.py``).
3. Every embedding is scored by ``scib_metrics.benchmark.Benchmarker`` (scIB's metrics:
   bio conservation = isolated labels, KMeans NMI/ARI, silhouette label, cLISI; batch
   correction = BRAS (silhouette batch), iLISI, kBET, graph connectivity, PCR comparison;
   total = 0.6 bio + 0.4 batch, without min-max scaling across methods). Labels are used for
   scoring only. Our own clusters' ARI is reported too.

Wall time and peak RSS: ours = the whole ``kedro run`` (training included); baselines = their
own process (correction only).

Usage::

    .venv/bin/python -m benchmarks.batch_correction [--datasets a b] [--no-simulated]
        [--output benchmarks/results/batch_correction.md]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.scratch_project import (
    PROJECT_ROOT,
    kedro_run_in_scratch_project,
    labelled_datasets,
    run_measured,
)
from scimta_kedro.core.simulate import SimulationConfig, simulate_counts

LABEL_KEY, BATCH_KEY = "cell_type", "batch"
CLUSTERED = "data/07_model_output/clustered_cells.h5ad"
BASELINES = "benchmarks.lib.batch_baselines"
SIMULATED = SimulationConfig(
    n_cells=3000,
    n_genes=2000,
    n_groups=6,
    genes_per_programme=40,
    de_log_fold=1.5,
    library_log_mean=7.6,
    n_batches=3,
    batch_log_fold_sd=0.5,
    batch_library_log_sd=0.3,
    random_state=0,
)
# (row name, extra --params); every scIMTA run also gets input_path and label_key.
SCIMTA_RUNS = [
    ("scIMTA", f"batch_key={BATCH_KEY}"),
    (
        "scIMTA without balanced graph",
        f"batch_key={BATCH_KEY},graph_construction.batch_balanced=false",
    ),
    (
        "scIMTA without batch decoder",
        f"batch_key={BATCH_KEY},training.batch_conditioned_decoder=false",
    ),
    ("scIMTA without MMD penalty", f"batch_key={BATCH_KEY},training.batch_penalty_weight=0"),
    ("scIMTA without batch_key", ""),
]


def batch_datasets(data_dir: Path, stems: list[str] | None) -> list[Path]:
    """The shared files that have a batch column."""
    return [
        path
        for path in labelled_datasets(data_dir, stems)
        if BATCH_KEY in ad.read_h5ad(path, backed="r").obs
    ]


def simulated_dataset(folder: Path) -> Path:
    path = folder / "simulated_strong_batches.h5ad"
    simulate_counts(SIMULATED).write_h5ad(path)
    return path


def run_scimta(dataset: Path, scratch: Path) -> tuple[ad.AnnData, dict, list[dict]]:
    """Our runs; returns the full run's cells (with every run's latent in obsm), and rows."""
    cells, rows, latents = None, [], {}
    for name, extra in SCIMTA_RUNS:
        parameters = f"input_path={dataset},label_key={LABEL_KEY}" + (f",{extra}" if extra else "")
        project, wall, rss = kedro_run_in_scratch_project(
            scratch, parameters, f"{dataset.name}: {name}"
        )
        clustered = ad.read_h5ad(project / CLUSTERED)
        if cells is None:
            cells = clustered
        latents[name] = clustered.obsm["X_scimta"]
        clusters = clustered.obs["scimta_cluster"].to_numpy()
        rows.append(
            {
                "method": name,
                "own_clusters": int(np.unique(clusters).size),
                "own_ari": adjusted_rand_score(clustered.obs[LABEL_KEY], clusters),
                "wall_s": wall,
                "rss_gib": rss,
            }
        )
        print(f"  {name}: {wall:.0f} s, ARI of its clusters {rows[-1]['own_ari']:.3f}", flush=True)
    return cells, latents, rows


def run_baselines(cells: ad.AnnData, scratch: Path) -> tuple[dict, list[dict]]:
    holder = ad.AnnData(obs=cells.obs[[BATCH_KEY, LABEL_KEY]].copy())
    holder.obsm["X_pca"] = cells.obsm["X_pca"]
    path = scratch / "pca.h5ad"
    holder.write_h5ad(path)
    embeddings, rows = {}, []
    for name, method in (("Harmony", "harmony"), ("BBKNN", "bbknn")):
        output = scratch / f"{method}.npy"
        command = [
            sys.executable,
            "-m",
            BASELINES,
            method,
            str(path),
            str(output),
            BATCH_KEY,
        ]
        result, wall, rss = run_measured(command, PROJECT_ROOT)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed:\n{result.stdout[-3000:]}")
        embeddings[name] = np.load(output)
        rows.append({"method": name, "wall_s": wall, "rss_gib": rss})
        print(f"  {name}: {wall:.0f} s", flush=True)
    return embeddings, rows


def scib_scores(cells: ad.AnnData, embeddings: dict[str, np.ndarray]) -> pd.DataFrame:
    """scib-metrics' table (methods x metrics, unscaled) for the named embeddings."""
    from scib_metrics.benchmark import Benchmarker

    scored = ad.AnnData(obs=cells.obs[[BATCH_KEY, LABEL_KEY]].copy())
    for column in (BATCH_KEY, LABEL_KEY):
        scored.obs[column] = scored.obs[column].astype(str).astype("category")
    keys = {}
    for index, (name, embedding) in enumerate(embeddings.items()):
        keys[f"X_method{index}"] = name
        scored.obsm[f"X_method{index}"] = np.asarray(embedding, dtype=np.float32)
    benchmark = Benchmarker(
        scored,
        batch_key=BATCH_KEY,
        label_key=LABEL_KEY,
        embedding_obsm_keys=list(keys),
        pre_integrated_embedding_obsm_key="X_method0",  # the uncorrected PCA
        n_jobs=1,
        progress_bar=False,
    )
    benchmark.benchmark()
    table = benchmark.get_results(min_max_scale=False)
    table = table.drop(index="Metric Type", errors="ignore").rename(index=keys)
    return table.apply(pd.to_numeric, errors="coerce")


def evaluate_dataset(dataset: Path, scratch: Path) -> pd.DataFrame:
    print(f"{dataset.stem}:", flush=True)
    cells, latents, scimta_rows = run_scimta(dataset, scratch)
    baselines, baseline_rows = run_baselines(cells, scratch)
    embeddings = {"Uncorrected PCA": cells.obsm["X_pca"], **baselines, **latents}
    table = scib_scores(cells, embeddings)
    timing = pd.DataFrame(scimta_rows + baseline_rows).set_index("method")
    table = table.join(timing, how="left")
    table.insert(0, "dataset", dataset.stem)
    return table.rename_axis("method").reset_index()


SUMMARY_COLUMNS = {
    "Total": "total",
    "Bio conservation": "bio",
    "Batch correction": "batch",
    "iLISI": "iLISI",
    "KBET": "kBET",
    "Graph connectivity": "graph conn.",
    "BRAS": "silhouette batch (BRAS)",
    "cLISI": "cLISI",
    "KMeans ARI": "KMeans ARI",
    "KMeans NMI": "KMeans NMI",
    "Silhouette label": "silhouette label",
    "own_ari": "ARI of own clusters",
    "own_clusters": "clusters",
    "wall_s": "time (s)",
    "rss_gib": "peak RSS (GiB)",
}


def markdown_table(results: pd.DataFrame) -> str:
    columns = [column for column in SUMMARY_COLUMNS if column in results]
    header = "| dataset | method | " + " | ".join(SUMMARY_COLUMNS[c] for c in columns) + " |"
    lines = [header, "|---|---|" + "---|" * len(columns)]
    for _, row in results.iterrows():
        values = []
        for column in columns:
            value = row[column]
            if pd.isna(value):
                values.append("")
            elif column in ("own_clusters",):
                values.append(f"{int(value)}")
            elif column == "wall_s":
                values.append(f"{value:.0f}")
            elif column == "rss_gib":
                values.append(f"{value:.2f}")
            else:
                values.append(f"{value:.3f}")
        lines.append(f"| {row['dataset']} | {row['method']} | " + " | ".join(values) + " |")
    means = results.groupby("method", sort=False)[columns].mean(numeric_only=True)
    for method, row in means.iterrows():
        values = [
            "" if pd.isna(row[c]) or c in ("own_clusters", "wall_s", "rss_gib") else f"{row[c]:.3f}"
            for c in columns
        ]
        lines.append(f"| **mean** | {method} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="shared file stems to run (default: all)")
    parser.add_argument("--no-simulated", action="store_true", help="skip the simulated set")
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/batch_correction.md"
    )
    arguments = parser.parse_args()
    tables = []
    with tempfile.TemporaryDirectory(prefix="scimta-batches-") as folder:
        files = batch_datasets(arguments.data_dir, arguments.datasets)
        if not arguments.no_simulated:
            files.append(simulated_dataset(Path(folder)))
        for dataset in files:
            scratch = Path(folder) / dataset.stem
            scratch.mkdir()
            tables.append(evaluate_dataset(dataset, scratch))
    results = pd.concat(tables, ignore_index=True)
    results.to_csv(arguments.output.with_suffix(".csv"), index=False)
    table = markdown_table(results)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.batch_correction`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}. scib-metrics "
        "scores, unscaled; total = 0.6 bio + 0.4 batch. Our time and RSS are the whole "
        "`kedro run`; the baselines' are the correction alone, from the same PCA.\n\n" + table
    )
    print("\n" + table)


if __name__ == "__main__":
    main()
