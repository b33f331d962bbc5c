"""Candidate defaults measured by the accuracy benchmark, chosen leave-one-dataset-out.

Each candidate is a result file of ``benchmarks.accuracy`` (its ``.json`` rows): the default's
(``benchmarks/results/accuracy.json``) and those of ``--params <setting> --output <file>``.
Their rows of ours are compared per dataset: mean ARI over seeds, k given and auto. (Wall
times are not compared here: result files measured at different times shared the cores
differently; time candidates side by side in one run instead.)

The leave-one-dataset-out view holds each dataset out in turn and picks, on the others, the
cheapest candidate whose score (the mean of the k-given and auto ARI over the datasets) is
within ``--tolerance`` of the best candidate's; it reports what that pick scores on the
held-out dataset. Candidates are listed cheapest first: a shorter training is not chosen
unless it keeps the clusters. The two bladder files are one dataset, as are the two Baron
pancreas files: they are held out together and weigh as one in every mean.

Usage::

    .venv/bin/python -m benchmarks.sweeps.accuracy_candidates \
        --candidate "100+50 epochs (default)=benchmarks/results/accuracy.json" \
        --candidate "200+100 epochs=benchmarks/results/training_length/epochs_200_100.json" \
        --output benchmarks/results/training_length.md

``--seeds 0 1`` compares the candidates on those seeds only: a candidate measured on fewer
seeds than the default is compared with the default's runs of the same seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.lib.scratch_project import PROJECT_ROOT, per_biology, write_results

MODES = ("k given", "auto")
DEFAULT_OUTPUT = PROJECT_ROOT / "benchmarks" / "results" / "accuracy_candidates.md"


def of_seeds(rows: list[dict], seeds: list[int] | None) -> list[dict]:
    """The rows of ``seeds`` (every row when ``seeds`` is None)."""
    return rows if seeds is None else [row for row in rows if row["seed"] in seeds]


def ours_rows(rows: list[dict]) -> list[dict]:
    """The rows of ours without ``batch_key`` (the method whose ``anchor`` is ours)."""
    return [row for row in rows if row.get("anchor", "ours") == "ours" and row["mode"] in MODES]


def scores_by_biology(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Biology -> mode -> ARI of ours: the mean over seeds, then over the biology's files."""
    by_mode = {}
    for mode in MODES:
        by_file: dict[str, list[float]] = {}
        for row in ours_rows(rows):
            if row["mode"] == mode:
                by_file.setdefault(row["dataset"], []).append(row["ari"])
        by_mode[mode] = per_biology({name: float(np.mean(v)) for name, v in by_file.items()})
    return {name: {mode: by_mode[mode][name] for mode in MODES} for name in by_mode[MODES[0]]}


def score(scores: dict[str, dict[str, float]], datasets) -> float:
    """The mean over ``datasets`` of the mean of the k-given and auto ARI."""
    return float(np.mean([np.mean([scores[name][mode] for mode in MODES]) for name in datasets]))


def cheapest_within(
    candidates: dict[str, dict[str, dict[str, float]]], datasets, tolerance: float
) -> str:
    """The first candidate (cheapest first) scoring within ``tolerance`` of the best on
    ``datasets``."""
    totals = {name: score(scores, datasets) for name, scores in candidates.items()}
    best = max(totals.values())
    return next(name for name, total in totals.items() if total >= best - tolerance)


def leave_one_out(
    candidates: dict[str, dict[str, dict[str, float]]], tolerance: float
) -> list[dict]:
    """For each held-out dataset: the pick on the others and its held-out scores."""
    datasets = sorted(set.intersection(*(set(scores) for scores in candidates.values())))
    if len(datasets) < 2:
        raise ValueError(
            f"The candidates share {len(datasets)} dataset(s) ({', '.join(datasets) or 'none'}); "
            "leaving one out needs at least two: run each candidate on more labelled files."
        )
    picks = []
    for held_out in datasets:
        others = [name for name in datasets if name != held_out]
        pick = cheapest_within(candidates, others, tolerance)
        picks.append({"held_out": held_out, "pick": pick, **candidates[pick][held_out]})
    return picks


def markdown(
    scores: dict[str, dict[str, dict[str, float]]],
    tolerance: float,
    command: str,
    seeds: list[int] | None = None,
) -> str:
    """The per-dataset table of ``scores`` (candidate -> biology -> mode -> ARI) and the
    leave-one-dataset-out view."""
    over = "seeds"
    if seeds is not None:
        over = ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, seeds))
    datasets = sorted(set.intersection(*(set(s) for s in scores.values())))
    names = list(scores)
    header = "| dataset | " + " | ".join(f"{n}: k given | {n}: auto" for n in names) + " |"
    lines = [
        f"Command: `{command}`",
        "",
        f"ARI of ours, mean over {over} (each biology once); candidates listed cheapest first.",
        "",
        header,
        "|---|" + "---|---|" * len(names),
    ]
    for name in datasets:
        cells = " | ".join(
            f"{scores[n][name]['k given']:.3f} | {scores[n][name]['auto']:.3f}" for n in names
        )
        lines.append(f"| {name} | {cells} |")
    means = " | ".join(
        f"{np.mean([scores[n][d]['k given'] for d in datasets]):.3f} | "
        f"{np.mean([scores[n][d]['auto'] for d in datasets]):.3f}"
        for n in names
    )
    lines.append(f"| **mean of {len(datasets)} datasets** | {means} |")
    lines += [
        "",
        f"Leave one dataset out: on the others, the cheapest candidate whose mean ARI (k given "
        f"and auto) is within {tolerance} of the best candidate's; its score on the held-out "
        "one.",
        "",
        "| held out | chosen on the others | held-out ARI, k given | held-out ARI, auto |",
        "|---|---|---|---|",
    ]
    picks = leave_one_out(scores, tolerance)
    for pick in picks:
        lines.append(
            f"| {pick['held_out']} | {pick['pick']} | {pick['k given']:.3f} | {pick['auto']:.3f} |"
        )
    lines.append(
        f"| **mean** | | {np.mean([p['k given'] for p in picks]):.3f} | "
        f"{np.mean([p['auto'] for p in picks]):.3f} |"
    )
    lines.append("")
    lines.append(f"On all datasets the rule picks: {cheapest_within(scores, datasets, tolerance)}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--candidate",
        action="append",
        required=True,
        metavar="NAME=FILE.json",
        help="a candidate's accuracy rows; repeat, cheapest first",
    )
    parser.add_argument("--tolerance", type=float, default=0.01)
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="compare these seeds' runs only (default: all)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args()
    candidates = {}
    for given in arguments.candidate:
        name, _, path = given.rpartition("=")
        if not name:
            parser.error(f"--candidate {given!r}: expected NAME=FILE.json")
        candidates[name] = of_seeds(json.loads(Path(path).read_text()), arguments.seeds)
    command = ".venv/bin/python -m benchmarks.sweeps.accuracy_candidates " + " ".join(
        f'--candidate "{given}"' for given in arguments.candidate
    )
    if arguments.seeds is not None:
        command += " --seeds " + " ".join(map(str, arguments.seeds))
    if arguments.output != DEFAULT_OUTPUT:
        command += f" --output {arguments.output}"
    scores = {name: scores_by_biology(rows) for name, rows in candidates.items()}
    # The stored result is what the tables show; the rows stay in the candidates' own files.
    stored = [
        {"candidate": name, "dataset": dataset, **by_mode}
        for name, by_dataset in scores.items()
        for dataset, by_mode in by_dataset.items()
    ]
    write_results(
        arguments.output, markdown(scores, arguments.tolerance, command, arguments.seeds), stored
    )


if __name__ == "__main__":
    main()
