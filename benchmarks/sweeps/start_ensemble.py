"""How many seeded Leiden runs DEC's start takes its consensus over (``start_ensemble_runs``).

DEC's start is Leiden on the PPMI cell graph at ``start_resolution``, split or merged to the
number of clusters (core/dec_start.py). With ``start_ensemble_runs`` above 1 that Leiden
partition is the consensus of several seeded runs (core/ensemble_leiden.py). For every
labelled file in ``../shared/data`` and each seed this builds the default graphs once and
scores, for each candidate number of runs, both starts as training finds them (``auto``,
and k given: the annotated k) against the labels (scoring only), with the seconds the start
took. No model is trained: the final clusters follow the start (accuracy table: "ARI of
DEC's start"). Means weigh each biology once (the two bladder files as one, the two Baron
files as one).

The leave-one-dataset-out view holds each biology out and picks, on the others, the
cheapest candidate whose mean ARI (k given and auto) is within ``TOLERANCE`` of the best
(the rule of ``benchmarks.sweeps.accuracy_candidates``); it reports the pick's held-out ARI.

Usage::

    .venv/bin/python -m benchmarks.sweeps.start_ensemble [--data-dir ../shared/data]
        [--seeds 0 1 2] [--output benchmarks/results/start_ensemble.md]
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

from benchmarks.lib.default_graph import (
    default_start,
    preprocessed_and_graph,
    training_data,
    validated_cells,
)
from benchmarks.lib.scratch_project import biology, run_seeded_sweep
from benchmarks.sweeps.accuracy_candidates import markdown, scores_by_biology

LABEL_KEY = "cell_type"
# Candidates, cheapest first: 1 is a single Leiden run.
RUNS = (1, 3, 5, 10)
# Means closer than this are a tie (seeds move a file's start by more); the cheaper wins.
TOLERANCE = 0.002


def candidate_name(runs: int) -> str:
    return "1 run" if runs == 1 else f"{runs} runs"


def starts(dataset: Path, seeds: list[int]) -> list[dict]:
    """One row per seed, candidate and mode: the start's ARI, clusters and seconds."""
    rows = []
    counts = validated_cells(dataset)
    for seed in seeds:
        cells, graph = preprocessed_and_graph(counts, seed)
        data = training_data(cells, graph)
        annotation = cells.obs[LABEL_KEY].to_numpy()
        true_k = int(np.unique(annotation).size)
        for runs in RUNS:
            for mode, options in (("k given", {"n_clusters": true_k}), ("auto", {})):
                started = time.perf_counter()
                start = default_start(data, seed, start_ensemble_runs=runs, **options)
                seconds = time.perf_counter() - started
                rows.append(
                    {
                        "dataset": dataset.stem,
                        "seed": seed,
                        "candidate": candidate_name(runs),
                        "mode": mode,
                        "true_k": true_k,
                        "cells": int(annotation.size),
                        "clusters": int(np.unique(start).size),
                        "ari": float(adjusted_rand_score(annotation, start)),
                        "seconds": seconds,
                    }
                )
    return rows


def seed_ranges(rows: list[dict], candidate: str, mode: str) -> dict[str, float]:
    """Biology -> the largest range over seeds of a file's start ARI."""
    by_file: dict[str, list[float]] = {}
    for row in rows:
        if row["candidate"] == candidate and row["mode"] == mode:
            by_file.setdefault(row["dataset"], []).append(row["ari"])
    ranges: dict[str, float] = {}
    for name, values in by_file.items():
        ranges[biology(name)] = max(ranges.get(biology(name), 0.0), max(values) - min(values))
    return ranges


def table(rows: list[dict], command: str) -> str:
    names = [candidate_name(runs) for runs in RUNS]
    scores = {
        name: scores_by_biology([r for r in rows if r["candidate"] == name]) for name in names
    }
    lines = [markdown(scores, TOLERANCE, command).rstrip("\n"), ""]
    biologies = sorted(next(iter(scores.values())))
    lines += [
        "**Range of the start ARI over the seeds, k given** (the largest of a biology's files)",
        "",
        "| dataset | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    ranges = {name: seed_ranges(rows, name, "k given") for name in names}
    for name in biologies:
        lines.append(f"| {name} | " + " | ".join(f"{ranges[n][name]:.3f}" for n in names) + " |")
    largest = max(row["cells"] for row in rows)
    lines += [
        "",
        f"**Seconds of the start** (k given and auto, mean over seeds) on the largest file "
        f"({largest} cells), with the default graphs already built:",
        "",
        "| " + " | ".join(names) + " |",
        "|" + "---|" * len(names),
        "| "
        + " | ".join(
            f"{np.mean([r['seconds'] for r in rows if r['candidate'] == n and r['cells'] == largest]):.1f}"
            for n in names
        )
        + " |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    run_seeded_sweep(__doc__.split("\n\n")[0], "start_ensemble", starts, table)
