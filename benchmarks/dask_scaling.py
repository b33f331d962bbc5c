"""Dask benchmark: tuning trials on 1 and 2 workers, and large-file preprocessing on Dask
against the streamed chunk loops.

* **Tuning.** In a scratch copy of the project, ``kedro run --pipelines data_processing`` on
  the default simulation (3000 cells), then ``kedro run --pipelines tuning`` with ``--trials``
  trials (in memory, the project's search space and pruner), three times: in this process as
  today (TensorFlow on every core), and on a local Dask cluster of 1 and of 2 one-thread
  workers (``tuning.dask.n_workers``). Wall time of each run, start-up included, and the
  trials' states.
* **Preprocessing.** Simulated 10x-like files (the scale benchmark's, cached in
  ``--cache-dir``) read backed and preprocessed, each way in its own process: the streamed
  chunk loops (``core/streamed.py``, one process) and scanpy's Dask support on a local
  cluster of ``--workers`` one-thread workers (``core/dask_preprocess.py``). Wall time; peak
  RSS of the process that holds the client and the scheduler (a local cluster's scheduler
  runs in it), of each worker, and their sum (a bound: the peaks need not coincide). The two
  results are compared (same cells, same HVGs).
* **Study storage.** What a trial pays for sharing the study, on 2 workers at once: seconds
  per ``trial.report`` + ``trial.should_prune`` (what a trial does every ``report_every``
  epochs), with the study in ``optuna_integration.DaskStorage`` over SQLite on the scheduler,
  and with every worker opening the SQLite file itself (``RDBStorage``).

Usage::

    .venv/bin/python -m benchmarks.dask_scaling [--trials 4] [--cells 300000 1300000]
        [--workers 2] [--skip-tuning] [--skip-preprocessing] [--skip-storage]
        [--keep-other-parts] [--cache-dir data/scale_benchmark]
        [--output benchmarks/results/dask_scaling.md]

``--keep-other-parts`` keeps the stored rows of the parts skipped this time, and of the
other sizes (``--skip-tuning --skip-storage --cells 1300000 --keep-other-parts`` adds the
1.3M row).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks.lib.scratch_project import (
    KEDRO,
    PROJECT_ROOT,
    run_measured,
    scratch_project,
    write_results,
)
from benchmarks.scale import simulated_file

TRIALS_TABLE = "data/08_reporting/tuning_trials.csv"
TUNING_MODES = {"in this process": None, "Dask, 1 worker": 1, "Dask, 2 workers": 2}


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure_tuning(n_trials: int, workdir: Path) -> list[dict]:
    """One tuning run per mode on the same preprocessed cells."""
    project = scratch_project(workdir)
    result, wall, _ = run_measured([KEDRO, "run", "--pipelines", "data_processing"], project)
    if result.returncode != 0:
        raise RuntimeError(f"data_processing failed:\n{result.stdout[-4000:]}")
    rows = []
    for mode, workers in TUNING_MODES.items():
        parameters = f"tuning.study.n_trials={n_trials},tuning.study.storage=null"
        if workers is not None:
            parameters += f",tuning.dask.n_workers={workers}"
        command = [KEDRO, "run", "--pipelines", "tuning", "--params", parameters]
        result, wall, rss = run_measured(command, project)
        if result.returncode != 0:
            raise RuntimeError(f"tuning ({mode}) failed:\n{result.stdout[-4000:]}")
        trials = pd.read_csv(project / TRIALS_TABLE)
        row = {
            "mode": mode,
            "workers": workers,
            "wall_s": wall,
            "driver_rss_gib": rss,
            "states": trials["state"].value_counts().to_dict(),
            "trial_s": float(trials["duration"].map(pd.Timedelta).dt.total_seconds().mean()),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def preprocess_once(path: Path, mode: str, workers: int, output: Path) -> None:
    """In a child process: preprocess ``path`` one way; write the measurements."""
    from scimta_kedro import pp
    from scimta_kedro.core.dask_cluster import DaskConfig, dask_client
    from scimta_kedro.core.io import read_cells
    from scimta_kedro.core.params import section_config

    config = section_config("data_processing", {}).preprocessing
    cells = pp.setup_anndata(read_cells(path, 0), label_key="cell_type")
    start = time.perf_counter()
    row = {"mode": mode}
    # A failure (KilledWorker, or this process killed for memory) ends the child: the parent
    # makes its row from the exit status (failed_row).
    if mode == "dask":
        with dask_client(DaskConfig(n_workers=workers)) as client:
            preprocessed = pp.preprocess(cells, config, use_dask=True)
            row["wall_s"] = time.perf_counter() - start
            peaks = client.run(_peak_rss_gib)
        row["worker_rss_gib"] = sorted(peaks.values())
    else:
        preprocessed = pp.preprocess(cells, config)
        row["wall_s"] = time.perf_counter() - start
    row["driver_rss_gib"] = _peak_rss_gib()
    row["total_rss_gib"] = row["driver_rss_gib"] + sum(row.get("worker_rss_gib", []))
    row["shape"] = list(preprocessed.shape)
    row["hvgs"] = list(map(str, preprocessed.var_names))
    output.write_text(json.dumps(row))


def measure_preprocessing(n_cells: int, workers: int, cache_dir: Path, workdir: Path) -> dict:
    path = simulated_file(n_cells, cache_dir)
    measured = {}
    for mode in ("streamed", "dask"):
        output = workdir / f"{mode}_{n_cells}.json"
        command = [
            sys.executable,
            "-m",
            __spec__.name,
            "--preprocess-one",
            str(path),
            mode,
            str(workers),
            str(output),
        ]
        environment = {**os.environ, "DO_NOT_TRACK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
        start = time.perf_counter()
        finished = subprocess.run(
            command, check=False, cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True
        )
        if finished.returncode == 0:
            measured[mode] = json.loads(output.read_text())
        else:
            # A child killed by the kernel for memory (-9) writes nothing: its failure is the
            # row, so the other path's measurement beside it is kept.
            measured[mode] = failed_row(mode, finished, time.perf_counter() - start)
        print(n_cells, mode, f"{measured[mode]['wall_s']:.0f} s", flush=True)
    streamed, on_dask = measured["streamed"], measured["dask"]
    return {
        "cells": n_cells,
        "workers": workers,
        "streamed": {k: v for k, v in streamed.items() if k != "hvgs"},
        "dask": {k: v for k, v in on_dask.items() if k != "hvgs"},
        "same_shape": streamed["shape"] == on_dask["shape"],
        "shared_hvgs": len(set(streamed["hvgs"]) & set(on_dask["hvgs"])),
        "n_hvgs": len(on_dask["hvgs"]),
    }


def failed_row(mode: str, finished: subprocess.CompletedProcess, wall_s: float) -> dict:
    """The row of a preprocessing child that exited without writing its measurements."""
    if finished.returncode == -signal.SIGKILL:
        reason = "killed (SIGKILL: out of memory)"
    else:
        last_line = (finished.stderr.strip().splitlines() or ["no output"])[-1]
        reason = f"exit {finished.returncode}: {last_line[:300]}"
    print(f"{mode} preprocessing failed, {reason}", flush=True)
    return {"mode": mode, "error": reason, "wall_s": wall_s, "shape": [], "hvgs": []}


STORAGE_REPORTS = 100


def _reports_on_worker(study_name: str, storage) -> float:
    """Seconds per report + pruning check of a new trial of the study, from a worker."""
    import optuna

    study = optuna.load_study(study_name=study_name, storage=storage)
    trial = study.ask()
    start = time.perf_counter()
    for step in range(STORAGE_REPORTS):
        trial.report(float(step), step)
        trial.should_prune()
    elapsed = time.perf_counter() - start
    study.tell(trial, 0.0)
    return elapsed / STORAGE_REPORTS


def measure_storage(workdir: Path) -> list[dict]:
    import optuna
    from optuna_integration import DaskStorage

    from scimta_kedro.core.dask_cluster import DaskConfig, dask_client

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    with dask_client(DaskConfig(n_workers=2)) as client:
        client.wait_for_workers(2)
        storages = {
            "DaskStorage over SQLite, on the scheduler": DaskStorage(
                f"sqlite:///{workdir}/shared.db", client=client
            ),
            "SQLite opened by every worker (RDBStorage)": f"sqlite:///{workdir}/direct.db",
        }
        for name, storage in storages.items():
            optuna.create_study(study_name="storage", storage=storage, direction="maximize")
            futures = [
                client.submit(_reports_on_worker, "storage", storage, pure=False, workers=[w])
                for w in client.scheduler_info()["workers"]
            ]
            seconds = client.gather(futures)
            rows.append({"storage": name, "ms_per_report": 1000 * sum(seconds) / len(seconds)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(parts: dict) -> str:
    """The three tables, each under the command that measured it."""
    tuning, preprocessing, storage = (
        parts[name] for name in ("tuning", "preprocessing", "storage")
    )
    commands = parts.get("commands", {})
    lines = ["Machine: 2 cores", ""]

    def command_of(part: str) -> list[str]:
        return [f"Command: `.venv/bin/{commands[part]}`", ""] if part in commands else []

    if tuning:
        base = next(row for row in tuning if row["workers"] == 1)["wall_s"]
        lines += [
            "### Tuning: the same trials in this process and on a local Dask cluster",
            "",
            *command_of("tuning"),
            "| mode | wall (s), start-up included | vs 1 worker | mean trial (s) | trials |",
            "|---|---|---|---|---|",
        ]
        for row in tuning:
            states = ", ".join(f"{n} {state.lower()}" for state, n in sorted(row["states"].items()))
            lines.append(
                f"| {row['mode']} | {row['wall_s']:.0f} | {base / row['wall_s']:.2f}x | "
                f"{row['trial_s']:.0f} | {states} |"
            )
        lines.append("")
    if preprocessing:
        lines += [
            "### Preprocessing a file read backed: streamed chunk loops vs scanpy on Dask",
            "",
            *command_of("preprocessing"),
            "| cells | path | wall (s) | peak RSS (GiB): client + scheduler | each worker | "
            "total | same cells and HVGs |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in preprocessing:
            labels = {
                "streamed": "streamed (one process)",
                "dask": f"Dask, {row['workers']} one-thread workers",
            }
            same = f"{row['same_shape']}, {row['shared_hvgs']}/{row['n_hvgs']} HVGs shared"
            failures = [
                f"{mode} failed: {row[mode]['error']}" for mode in labels if "error" in row[mode]
            ]
            if failures:
                same = "; ".join(failures)
            for mode, label in labels.items():
                measured = row[mode]
                workers = ", ".join(f"{v:.2f}" for v in measured.get("worker_rss_gib", [])) or "-"
                driver, total = (
                    f"{measured[key]:.2f}" if key in measured else "-"
                    for key in ("driver_rss_gib", "total_rss_gib")
                )
                lines.append(
                    f"| {row['cells']} | {label} | {measured['wall_s']:.0f} | {driver} | "
                    f"{workers} | {total} | {same if mode == 'dask' else ''} |"
                )
        lines.append("")
    if storage:
        lines += [
            "### The shared study: one report + pruning check, 2 workers at once",
            "",
            *command_of("storage"),
            "| storage | ms per report |",
            "|---|---|",
            *[f"| {row['storage']} | {row['ms_per_report']:.1f} |" for row in storage],
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--cells", type=int, nargs="+", default=[300_000, 1_300_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-tuning", action="store_true")
    parser.add_argument("--skip-preprocessing", action="store_true")
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--keep-other-parts", action="store_true")
    parser.add_argument(
        "--tables-only", action="store_true", help="rewrite the tables from the stored rows"
    )
    parser.add_argument("--cache-dir", type=Path, default=PROJECT_ROOT / "data/scale_benchmark")
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks/results/dask_scaling.md"
    )
    parser.add_argument("--preprocess-one", nargs=4, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.preprocess_one:
        path, mode, workers, output = arguments.preprocess_one
        preprocess_once(Path(path), mode, int(workers), Path(output))
        return
    stored = {}
    json_path = arguments.output.with_suffix(".json")
    if (arguments.keep_other_parts or arguments.tables_only) and json_path.exists():
        stored = json.loads(json_path.read_text())[0]
    if arguments.tables_only:
        write_results(arguments.output, markdown(stored), [stored])
        return
    with tempfile.TemporaryDirectory(prefix="scimta-dask-") as scratch:
        workdir = Path(scratch)
        parts = {
            "tuning": None if arguments.skip_tuning else measure_tuning(arguments.trials, workdir),
            "preprocessing": None
            if arguments.skip_preprocessing
            else [
                measure_preprocessing(n, arguments.workers, arguments.cache_dir, workdir)
                for n in arguments.cells
            ],
            "storage": None if arguments.skip_storage else measure_storage(workdir),
        }
    if parts["preprocessing"] is not None and arguments.keep_other_parts:
        # Sizes measured one command at a time: the stored rows of the other sizes stay.
        sizes = {row["cells"] for row in parts["preprocessing"]}
        kept = [row for row in stored.get("preprocessing", []) if row["cells"] not in sizes]
        parts["preprocessing"] = sorted(kept + parts["preprocessing"], key=lambda r: r["cells"])
    command = " ".join(["python -m benchmarks.dask_scaling", *sys.argv[1:]])
    commands = dict(stored.get("commands", {}))
    for name, rows in parts.items():
        if rows is not None:
            commands[name] = command
    parts = {
        name: rows if rows is not None else stored.get(name, []) for name, rows in parts.items()
    }
    parts["commands"] = commands
    write_results(arguments.output, markdown(parts), [parts])


if __name__ == "__main__":
    main()
