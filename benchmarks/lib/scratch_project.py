"""Run the project's ``kedro run`` in a scratch copy, measuring wall time and peak RSS.

Shared by the benchmark scripts: your ``data/`` and ``mlflow.db`` are never touched. Also the
scaling fit the scale and speed benchmarks report, the project's default parameters, the
labelled files, and the per-file loop and result writing of the label-sweep benchmarks.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
KEDRO = str(Path(sys.executable).with_name("kedro"))


def scaling_exponent(sizes, values) -> float:
    """Exponent b of the least-squares fit ``value ~ size^b`` (log-log); NaN below two sizes."""
    import numpy as np

    if len(sizes) < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def run_measured(command: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a child process; return it, its wall time (s) and its peak RSS (GiB)."""
    environment = {**os.environ, "DO_NOT_TRACK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    result = subprocess.CompletedProcess(command, process.returncode, output, "")
    return result, wall, usage.ru_maxrss / 1024**2


def scratch_project(workdir: Path, tracking_database: bool = False) -> Path:
    """A fresh copy of the project's configuration under ``workdir/project``; its root.

    With ``tracking_database`` the copy holds an MLflow database whose tables exist (no
    experiment, no run), as a project does after its first ``kedro run``: a first run
    creates them (about 2 s).
    """
    project = workdir / "project"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", project)
    shutil.copytree(PROJECT_ROOT / "conf", project / "conf", ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir()
    (project / "src").mkdir()  # the package itself is the installed one
    if tracking_database:
        shutil.copy(empty_tracking_database(workdir), project / TRACKING_DATABASE)
    return project


TRACKING_DATABASE = "mlflow.db"  # conf/base/mlflow.yml: sqlite:///mlflow.db


def empty_tracking_database(workdir: Path) -> Path:
    """``workdir/templates/mlflow.db``: MLflow's tables, made once (in a child process, which
    keeps MLflow out of the benchmark's own)."""
    template = workdir / "templates" / TRACKING_DATABASE
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        creation = "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
        subprocess.run(
            [sys.executable, "-c", creation, f"sqlite:///{template}"],
            check=True,
            capture_output=True,
            env={**os.environ, "DO_NOT_TRACK": "1"},
        )
    return template


def kedro_run_in_scratch_project(
    workdir: Path,
    parameters: str = "",
    what: str = "the default run",
    extra_arguments: tuple[str, ...] = (),
    tracking_database: bool = False,
) -> tuple[Path, float, float]:
    """``kedro run [--params PARAMETERS] [EXTRA_ARGUMENTS]`` in a fresh copy of the project
    (holding an MLflow database with ``tracking_database``: :func:`scratch_project`).

    Returns the copy's root, the wall time (s) and the peak RSS (GiB). Raises with the end of
    the log if the run fails.
    """
    project = scratch_project(workdir, tracking_database)
    command = [KEDRO, "run", *extra_arguments] + (["--params", parameters] if parameters else [])
    result, wall, rss = run_measured(command, project)
    if result.returncode != 0:
        raise RuntimeError(f"kedro run failed on {what}:\n{result.stdout[-4000:]}")
    return project, wall, rss


def default_parameters(pipeline: str) -> dict:
    """``params:<pipeline>`` as ``conf/base/parameters_<pipeline>.yml`` sets it."""
    path = PROJECT_ROOT / "conf" / "base" / f"parameters_{pipeline}.yml"
    return yaml.safe_load(path.read_text())[pipeline]


def default_config(section: str, seed: int = 0):
    """The typed config of ``params:<section>`` as ``conf/base`` sets it, with ``seed`` as the
    run's ``random_state`` (:func:`scimta_kedro.core.params.section_config`)."""
    from scimta_kedro.core.params import section_config

    return section_config(section, default_parameters(section), seed)


def benchmark_parser(description: str, topic: str) -> argparse.ArgumentParser:
    """The options every per-dataset benchmark shares: ``--data-dir`` (the labelled files,
    ``../shared/data``) and ``--output`` (``benchmarks/results/<topic>.md``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--output", type=Path, default=PROJECT_ROOT / "benchmarks" / "results" / f"{topic}.md"
    )
    return parser


def labelled_datasets(data_dir: Path, stems: list[str] | None = None) -> list[Path]:
    """The ``.h5ad`` files of ``data_dir`` (only ``stems`` if given); exits if there are none."""
    files = sorted(data_dir.glob("*.h5ad"))
    if stems:
        files = [path for path in files if path.stem in stems]
    if not files:
        sys.exit(f"no .h5ad files found in {data_dir}")
    return files


def datasets_to_leave_out(data_dir: Path) -> list[Path]:
    """The labelled files of ``data_dir`` for a leave-one-dataset-out sweep; exits before any
    work if they hold fewer than two biologies (no dataset would be left to choose on)."""
    files = labelled_datasets(data_dir)
    biologies = sorted({biology(path.stem) for path in files})
    if len(biologies) < 2:
        sys.exit(
            f"{data_dir} holds one biology ({biologies[0]}): a leave-one-dataset-out sweep "
            "chooses on the others, so it needs labelled files of at least two; point "
            "--data-dir at a folder with more."
        )
    return files


# The files that are one biology (shared/data/README.md): one dataset in every tally and mean.
SAME_BIOLOGY = {
    "mouse_bladder_2100_allgenes": "mouse bladder (2 files)",
    "mouse_bladder_2746_top2000": "mouse bladder (2 files)",
    "baron_mouse1_pancreas_822_3libs": "Baron mouse pancreas (2 files)",
    "baron2016_mouse_pancreas_2animals_1886": "Baron mouse pancreas (2 files)",
}


def biology(dataset: str) -> str:
    """The dataset a file counts as: its biology's name, or the file's own stem."""
    return SAME_BIOLOGY.get(dataset, dataset)


def per_biology(values: dict[str, float]) -> dict[str, float]:
    """File stem -> value, as biology -> the mean over its files."""
    grouped: dict[str, list[float]] = {}
    for dataset, value in values.items():
        grouped.setdefault(biology(dataset), []).append(value)
    return {name: float(np.mean(group)) for name, group in grouped.items()}


def biology_mean(values: dict[str, float]) -> float:
    """The mean over datasets of file stem -> value, each biology weighed once."""
    return float(np.mean(list(per_biology(values).values())))


def within_factor(count: int, true_k: int, factor: float = 1.5) -> bool:
    """Whether a number of clusters lies within ``factor`` of the annotated number."""
    return true_k / factor <= count <= factor * true_k


def biologies_where_all(flags) -> dict[str, bool]:
    """(file stem, flag) pairs (a file may come once per seed), as biology -> whether every
    flag of its files is true."""
    grouped: dict[str, bool] = {}
    for dataset, flag in flags:
        name = biology(dataset)
        grouped[name] = grouped.get(name, True) and bool(flag)
    return grouped


def rows_for_each_dataset(datasets: list[Path], rows_of) -> list[dict]:
    """``rows_of(dataset)`` for every dataset, concatenated, printing each one's wall time."""
    rows: list[dict] = []
    for dataset in datasets:
        started = time.perf_counter()
        rows += rows_of(dataset)
        print(f"{dataset.stem}: {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def write_results(output: Path, markdown: str, rows: list[dict]) -> None:
    """``markdown`` to ``output``, ``rows`` beside it as ``.json``, and the table on stdout."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(markdown)
    output.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    print(markdown)


def run_seeded_sweep(description: str, topic: str, rows_of, table) -> None:
    """A sweep's command line (``--data-dir``, ``--output``, ``--seeds``, by default 0 1 2):
    ``rows_of(dataset, seeds)`` for every labelled file, written as ``table(rows, command)``
    to ``benchmarks/results/<topic>.md`` and the rows beside it."""
    parser = benchmark_parser(description, topic)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows = rows_for_each_dataset(
        datasets_to_leave_out(args.data_dir), lambda dataset: rows_of(dataset, args.seeds)
    )
    command = f".venv/bin/python -m benchmarks.sweeps.{topic}"
    write_results(args.output, table(rows, command), rows)
