"""Imputation benchmark: hide 10% of the non-zero counts, impute, score the hidden entries.

For every labelled ``.h5ad`` in ``../shared/data`` (or ``--data-dir``):

1. The data are validated and preprocessed with the project's parameters; the kept cells x
   highly variable genes of the raw counts are the "full" matrix. 10% of its non-zero entries
   (seed 0) are set to zero: the masked input.
2. **scimta-kedro**: ``kedro run`` (the whole default analysis, training included) on the
   masked input in a scratch copy of the project; ``layers["scimta_imputed"]`` is read. Then
   ``kedro run --pipeline imputation --params imputation.min_detection_probability=<p>``
   re-imputes from the same trained model for every ``p`` of ``--thresholds`` (the one
   parameter that trades recovered dropouts against false signal).
3. **ALRA** and **MAGIC** (``imputation_baselines.py``) each run in their own process on the
   same preprocessed, masked log-normalised matrix that our run wrote; **no imputation** is
   the masked matrix itself.
4. Scores on the hidden entries, on the log-normalised scale of the masked input
   (``log1p(1e4 * count / library size)``): median absolute error, Pearson and Spearman
   correlation with the hidden values. **False signal**: over (cell type, gene) pairs whose
   gene has no count in any cell of the type in the full data, the share of entries imputed
   above zero. **ARI**: Leiden (scanpy, resolution 1) on the PCA of the scaled imputed matrix
   against the labels. Labels are used for these scores only.

Wall time and peak RSS are each method's own process (ours: the whole ``kedro run``).

The threshold sweep ends with a leave-one-dataset-out view of the default: for each dataset,
the threshold with the best mean of ``(Pearson + Spearman) / 2 - false signal`` on the
*other* datasets, and what it scores on the held-out one.

Usage::

    .venv/bin/python -m benchmarks.imputation [--data-dir ../shared/data] [--datasets a b]
        [--thresholds 0.001 0.002 0.005 0.01 0.02 0.05 0.1]
        [--output benchmarks/results/imputation.md]
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
import scanpy as sc
import scipy.sparse as sp
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.scratch_project import (
    KEDRO,
    PROJECT_ROOT,
    default_parameters,
    kedro_run_in_scratch_project,
    labelled_datasets,
    run_measured,
)
from scimta_kedro.core.io import read_cells
from scimta_kedro.core.preprocess import PreprocessConfig, preprocess_counts
from scimta_kedro.core.validate import validate_counts

LABEL_KEY = "cell_type"
HIDDEN_FRACTION = 0.1
PREPROCESSED = "data/02_intermediate/preprocessed_cells.h5ad"
IMPUTED = "data/07_model_output/imputed_cells.h5ad"
SWEEP_PREFIX = "scimta-kedro, min_detection_probability="
DEFAULT_THRESHOLDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


def masked_input(dataset: Path, scratch: Path) -> tuple[Path, ad.AnnData]:
    """Write the masked counts of the kept cells x HVGs; return its path and the full counts."""
    parameters = default_parameters("data_processing")
    cells = validate_counts(read_cells(dataset), n_neighbors=15)
    kept = preprocess_counts(cells, PreprocessConfig(**parameters["preprocessing"]))
    full = ad.AnnData(
        X=sp.csr_matrix(kept.layers["counts"], dtype=np.float32),
        obs=kept.obs[[LABEL_KEY]].copy(),
        var=kept.var[[]].copy(),
    )
    rng = np.random.default_rng(0)
    hidden = rng.random(full.X.nnz) < HIDDEN_FRACTION
    masked = full.copy()
    masked.X.data[hidden] = 0.0
    masked.X.eliminate_zeros()
    path = scratch / f"{dataset.stem}_masked.h5ad"
    masked.write_h5ad(path)
    return path, full


def leiden_ari(matrix: np.ndarray, labels: np.ndarray) -> float:
    holder = ad.AnnData(X=np.asarray(matrix, dtype=np.float32))
    sc.pp.scale(holder, max_value=10)
    sc.tl.pca(holder, n_comps=min(50, min(holder.shape) - 1), random_state=0)
    sc.pp.neighbors(holder, n_neighbors=15, random_state=0)
    sc.tl.leiden(holder, flavor="igraph", n_iterations=2, directed=False, random_state=0)
    return adjusted_rand_score(labels, holder.obs["leiden"])


def score(imputed: np.ndarray, cells: ad.AnnData, full: ad.AnnData) -> dict:
    """Hidden-entry errors, false signal and clustering ARI of one imputed matrix."""
    full = full[cells.obs_names, cells.var_names]
    observed = sp.csr_matrix(cells.layers["counts"])
    hidden = (full.X > 0).multiply(sp.csr_matrix(observed.toarray() == 0)).tocoo()
    scale = 1e4 / cells.obs["total_counts"].to_numpy()
    truth = np.log1p(np.asarray(full.X[hidden.row, hidden.col]).ravel() * scale[hidden.row])
    values = imputed[hidden.row, hidden.col]
    constant = np.ptp(values) == 0
    labels = cells.obs[LABEL_KEY].astype(str).to_numpy()
    silent = np.zeros(imputed.shape, dtype=bool)
    for cell_type in np.unique(labels):
        rows = labels == cell_type
        never = np.asarray(full.X[rows].sum(axis=0)).ravel() == 0
        silent[np.ix_(rows, never)] = True
    return {
        "hidden": int(values.size),
        "mae": float(np.median(np.abs(values - truth))),
        "pearson": float("nan") if constant else pearsonr(values, truth).statistic,
        "spearman": float("nan") if constant else spearmanr(values, truth).statistic,
        "false_signal": float(np.mean(imputed[silent] > 0)) if silent.any() else float("nan"),
        "ari": leiden_ari(imputed, labels),
    }


def run_baseline(name: str, preprocessed: Path, output: Path) -> tuple[float, float]:
    command = [
        sys.executable,
        "-m",
        __spec__.name,
        "--baseline",
        name,
        str(preprocessed),
        str(output),
    ]
    result, wall, rss = run_measured(command, PROJECT_ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{result.stdout[-3000:]}")
    return wall, rss


def baseline_main(name: str, preprocessed: Path, output: Path) -> None:
    from benchmarks.lib.imputation_baselines import alra, magic

    log_data = ad.read_h5ad(preprocessed).layers["log_normalized"].toarray()
    np.save(output, (alra if name == "alra" else magic)(log_data))


def evaluate_dataset(dataset: Path, scratch: Path, thresholds: list[float]) -> list[dict]:
    masked_path, full = masked_input(dataset, scratch)
    project, wall, rss = kedro_run_in_scratch_project(
        scratch,
        f"input_path={masked_path},label_key={LABEL_KEY},"
        "data_processing.preprocessing.n_top_genes=100000",
        dataset.name,
    )
    cells = ad.read_h5ad(project / IMPUTED)
    rows = [
        {"method": "no imputation", "wall_s": 0.0, "rss_gib": 0.0, "matrix": cells.X.toarray()},
        {
            "method": "scimta-kedro",
            "wall_s": wall,
            "rss_gib": rss,
            "matrix": cells.layers["scimta_imputed"].toarray(),
        },
    ]
    # Other thresholds on the same trained model: only the imputation stage re-runs.
    for threshold in thresholds:
        parameter = f"imputation.min_detection_probability={threshold}"
        result, wall, rss = run_measured(
            [KEDRO, "run", "--pipeline", "imputation", "--params", parameter], project
        )
        if result.returncode != 0:
            raise RuntimeError(f"{parameter} failed:\n{result.stdout[-3000:]}")
        rows.append(
            {
                "method": f"{SWEEP_PREFIX}{threshold:g}",
                "threshold": threshold,
                "wall_s": wall,
                "rss_gib": rss,
                "matrix": ad.read_h5ad(project / IMPUTED).layers["scimta_imputed"].toarray(),
            }
        )
    for name, label in (("alra", "ALRA (re-implemented)"), ("magic", "MAGIC (re-implemented)")):
        output = scratch / f"{name}.npy"
        wall, rss = run_baseline(name, project / PREPROCESSED, output)
        rows.append({"method": label, "wall_s": wall, "rss_gib": rss, "matrix": np.load(output)})
    for row in rows:
        row.update(score(row.pop("matrix"), cells, full), dataset=dataset.stem)
        print(
            f"{row['dataset']:<34} {row['method']:<24} MAE {row['mae']:.3f} "
            f"r {row['pearson']:.3f} rho {row['spearman']:.3f} false {row['false_signal']:.3f} "
            f"ARI {row['ari']:.3f} {row['wall_s']:.0f}s {row['rss_gib']:.2f} GiB",
            flush=True,
        )
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = [
        "| dataset | method | hidden entries | median abs. error | Pearson | Spearman "
        "| false signal | ARI (Leiden) | wall (s) | peak RSS (GiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['dataset']} | {row['method']} | {row['hidden']} | {row['mae']:.3f} | "
            f"{row['pearson']:.3f} | {row['spearman']:.3f} | {row['false_signal']:.3f} | "
            f"{row['ari']:.3f} | {row['wall_s']:.0f} | {row['rss_gib']:.2f} |"
        )
    for method in dict.fromkeys(row["method"] for row in rows):
        chosen = [row for row in rows if row["method"] == method]
        mean = {
            key: np.mean([row[key] for row in chosen])
            for key in ("mae", "pearson", "spearman", "false_signal", "ari", "wall_s")
        }
        lines.append(
            f"| **mean** | {method} | | {mean['mae']:.3f} | {mean['pearson']:.3f} | "
            f"{mean['spearman']:.3f} | {mean['false_signal']:.3f} | {mean['ari']:.3f} | "
            f"{mean['wall_s']:.0f} | |"
        )
    return "\n".join(lines) + "\n"


def threshold_criterion(row: dict) -> float:
    """What the leave-one-dataset-out view maximises: correlation minus false signal."""
    return (row["pearson"] + row["spearman"]) / 2 - row["false_signal"]


def leave_one_dataset_out(rows: list[dict]) -> str:
    """Per dataset, the threshold the other datasets would pick, and its scores here."""
    sweep = [row for row in rows if "threshold" in row]
    datasets = list(dict.fromkeys(row["dataset"] for row in sweep))
    if len(datasets) < 2:
        return ""
    lines = [
        "Leave-one-dataset-out: the threshold with the best mean "
        "`(Pearson + Spearman) / 2 - false signal` on the other datasets, scored here:",
        "",
        "| held-out dataset | threshold picked by the others | Pearson | Spearman "
        "| false signal | criterion |",
        "|---|---|---|---|---|---|",
    ]
    for held_out in datasets:
        others = [row for row in sweep if row["dataset"] != held_out]
        by_threshold: dict[float, list[float]] = {}
        for row in others:
            by_threshold.setdefault(row["threshold"], []).append(threshold_criterion(row))
        pick = max(by_threshold, key=lambda threshold: np.mean(by_threshold[threshold]))
        row = next(r for r in sweep if r["dataset"] == held_out and r["threshold"] == pick)
        lines.append(
            f"| {held_out} | {pick:g} | {row['pearson']:.3f} | {row['spearman']:.3f} "
            f"| {row['false_signal']:.3f} | {threshold_criterion(row):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--baseline":
        baseline_main(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="file stems to run (default: all)")
    parser.add_argument(
        "--thresholds",
        type=float,
        nargs="*",
        default=list(DEFAULT_THRESHOLDS),
        help="imputation.min_detection_probability values re-imputed from the trained model",
    )
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/imputation.md"
    )
    arguments = parser.parse_args()
    files = labelled_datasets(arguments.data_dir, arguments.datasets)
    rows = []
    for dataset in files:
        with tempfile.TemporaryDirectory(prefix="scimta-imputation-") as scratch:
            rows += evaluate_dataset(dataset, Path(scratch), arguments.thresholds)
    table = markdown_table(rows) + "\n" + leave_one_dataset_out(rows)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(
        "Command: `.venv/bin/python -m benchmarks.imputation`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n{table}"
    )
    print("\n" + table)


if __name__ == "__main__":
    main()
