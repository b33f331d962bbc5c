"""Tuning benchmark: does the label-free objective pick settings with a good ARI?

For every labelled ``.h5ad`` in ``../shared/data`` (or ``--data-dir``), in a scratch copy of
the project: ``kedro run --pipelines data_processing`` on the file, then ``kedro run
--pipelines tuning`` with ``--trials`` trials (the project's search space; trial 0 is the
defaults). From the trial table (labels are scored after each trial, never used by it):

* Spearman correlation across finished trials between ARI and the objective (and each of its
  two terms: held-out likelihood gain, silhouette);
* ARI of the label-free pick (best objective), of the defaults (trial 0) and of the oracle
  (best ARI among the same trials), and the pick's share of the oracle;
* wall time per trial and in total.

Usage::

    .venv/bin/python -m benchmarks.tuning [--trials 8] [--datasets a b]
        [--output benchmarks/results/tuning.md]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from benchmarks.lib.scratch_project import (
    KEDRO,
    PROJECT_ROOT,
    kedro_run_in_scratch_project,
    labelled_datasets,
    run_measured,
)

TRIALS_TABLE = "data/08_reporting/tuning_trials.csv"
# Every trial of every dataset is kept, so other label-free pick rules can be compared later.
TRIALS_FOLDER = PROJECT_ROOT / "benchmarks/results/tuning_trials"


def tune_dataset(dataset: Path, scratch: Path, n_trials: int, trials_folder: Path) -> dict:
    project, _, _ = kedro_run_in_scratch_project(
        scratch,
        f"input_path={dataset},label_key=cell_type",
        dataset.name,
        extra_arguments=("--pipelines", "data_processing"),
    )
    result, wall, rss = run_measured(
        [KEDRO, "run", "--pipelines", "tuning", "--params", f"tuning.study.n_trials={n_trials}"],
        project,
    )
    if result.returncode != 0:
        raise RuntimeError(f"tuning failed on {dataset.name}:\n{result.stdout[-4000:]}")
    trials = pd.read_csv(project / TRIALS_TABLE)
    trials_folder.mkdir(parents=True, exist_ok=True)
    trials.to_csv(trials_folder / f"{dataset.stem}.csv", index=False)
    complete = trials[trials["state"] == "COMPLETE"]

    def correlation(column: str) -> float:
        return (
            spearmanr(complete[column], complete["ari"]).statistic if len(complete) > 2 else np.nan
        )

    pick = complete.loc[complete["value"].idxmax()]
    oracle = complete["ari"].max()
    return {
        "dataset": dataset.stem,
        "trials": f"{len(complete)} done, {int((trials['state'] == 'PRUNED').sum())} pruned",
        "rho_objective": correlation("value"),
        "rho_likelihood": correlation("user_attrs_likelihood_gain"),
        "rho_silhouette": correlation("user_attrs_silhouette"),
        "ari_defaults": float(trials.loc[trials["number"] == 0, "ari"].iloc[0]),
        "ari_pick": float(pick["ari"]),
        "pick_trial": int(pick["number"]),
        "ari_oracle": float(oracle),
        "share_of_oracle": float(pick["ari"] / oracle) if oracle > 0 else np.nan,
        "s_per_trial": wall / max(len(trials), 1),
        "wall_s": wall,
        "rss_gib": rss,
    }


def markdown_table(rows: list[dict]) -> str:
    header = (
        "| dataset | trials | Spearman(objective, ARI) | Spearman(likelihood gain, ARI) "
        "| Spearman(silhouette, ARI) | ARI defaults | ARI label-free pick (trial) "
        "| ARI oracle | pick / oracle | s per trial | total (s) | peak RSS (GiB) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['dataset']} | {r['trials']} | {r['rho_objective']:.2f} | {r['rho_likelihood']:.2f} "
        f"| {r['rho_silhouette']:.2f} | {r['ari_defaults']:.3f} | {r['ari_pick']:.3f} "
        f"({r['pick_trial']}) | {r['ari_oracle']:.3f} | {r['share_of_oracle']:.0%} "
        f"| {r['s_per_trial']:.0f} | {r['wall_s']:.0f} | {r['rss_gib']:.2f} |"
        for r in rows
    ]
    mean = {
        key: float(np.nanmean([r[key] for r in rows]))
        for key in (
            "rho_objective",
            "rho_likelihood",
            "rho_silhouette",
            "ari_defaults",
            "ari_pick",
            "ari_oracle",
            "share_of_oracle",
            "s_per_trial",
            "wall_s",
        )
    }
    lines.append(
        f"| **mean** | | {mean['rho_objective']:.2f} | {mean['rho_likelihood']:.2f} "
        f"| {mean['rho_silhouette']:.2f} | {mean['ari_defaults']:.3f} | {mean['ari_pick']:.3f} "
        f"| {mean['ari_oracle']:.3f} | {mean['share_of_oracle']:.0%} | {mean['s_per_trial']:.0f} "
        f"| {mean['wall_s']:.0f} | |"
    )
    return header + "\n".join(lines) + "\n"


# Label-free rules for picking a trial, compared on the saved trial tables.
# Scores are recomputed from the two logged terms: gain + weight x silhouette.
PICK_RULES = {
    "likelihood gain only": 0.0,
    "weight 0.02": 0.02,
    "weight 0.1": 0.1,
    "weight 1 (default)": 1.0,
    "silhouette only": float("inf"),
}


def _rule_scores(trials: pd.DataFrame, weight: float) -> pd.Series:
    gain, silhouette = trials["user_attrs_likelihood_gain"], trials["user_attrs_silhouette"]
    return silhouette if np.isinf(weight) else gain + weight * silhouette


def pick_rules_table(folder: Path) -> str:
    """ARI of the trial each label-free rule picks, per dataset, with a leave-one-dataset-out
    choice of rule (the rule with the best mean ARI on the other datasets)."""
    tables = {path.stem: pd.read_csv(path) for path in sorted(folder.glob("*.csv"))}
    picked = {}
    for name, trials in tables.items():
        complete = trials[trials["state"] == "COMPLETE"]
        picked[name] = {
            rule: float(complete.loc[_rule_scores(complete, weight).idxmax(), "ari"])
            for rule, weight in PICK_RULES.items()
        }
        picked[name]["defaults"] = float(trials.loc[trials["number"] == 0, "ari"].iloc[0])
        picked[name]["oracle"] = float(complete["ari"].max())
    for name in tables:
        others = [other for other in tables if other != name]
        best_rule = max(PICK_RULES, key=lambda rule: np.mean([picked[o][rule] for o in others]))
        picked[name]["leave-one-out rule"] = picked[name][best_rule]
        picked[name]["chosen rule"] = best_rule
    columns = ["defaults", *PICK_RULES, "leave-one-out rule", "oracle"]
    lines = [
        "| dataset | "
        + " | ".join(f"ARI: {c}" for c in columns)
        + " | rule chosen on the others |",
        "|---|" + "---|" * (len(columns) + 1),
    ]
    for name, row in picked.items():
        values = " | ".join(f"{row[c]:.3f}" for c in columns)
        lines.append(f"| {name} | {values} | {row['chosen rule']} |")
    means = " | ".join(f"{np.mean([row[c] for row in picked.values()]):.3f}" for c in columns)
    lines.append(f"| **mean** | {means} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--datasets", nargs="*", help="file stems to run (default: all)")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument(
        "--trials-folder",
        type=Path,
        default=TRIALS_FOLDER,
        help="where every trial table is saved (and read by --pick-rules-only)",
    )
    parser.add_argument(
        "--pick-rules-only",
        action="store_true",
        help="only compare label-free pick rules on the saved trial tables",
    )
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/tuning.md"
    )
    arguments = parser.parse_args()
    rules_output = arguments.output.with_name("tuning_pick_rules.md")
    if arguments.pick_rules_only:
        rules_output.write_text(pick_rules_table(arguments.trials_folder))
        print(rules_output.read_text())
        return
    files = labelled_datasets(arguments.data_dir, arguments.datasets)
    rows = []
    for dataset in files:
        with tempfile.TemporaryDirectory(prefix="scimta-tuning-") as scratch:
            rows.append(
                tune_dataset(dataset, Path(scratch), arguments.trials, arguments.trials_folder)
            )
        print(rows[-1], flush=True)
    table = markdown_table(rows)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(
        f"Command: `.venv/bin/python -m benchmarks.tuning --trials {arguments.trials}`  \n"
        f"Machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n\n{table}"
    )
    print("\n" + table)
    rules_output.write_text(pick_rules_table(arguments.trials_folder))
    print(rules_output.read_text())


if __name__ == "__main__":
    main()
