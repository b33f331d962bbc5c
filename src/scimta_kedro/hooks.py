"""What every run checks and holds before its first node, and lets go after its last.

Each stage builds its configuration only when it starts, so without these checks a mistyped
key or an out-of-range value in ``training`` would surface after the data were read,
preprocessed and turned into a graph (minutes, or most of an hour at 1.3M cells). And two runs
in one folder would write the same files: the lock makes the second stop at once.
"""

from __future__ import annotations

import atexit
import gc
import importlib
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import mlflow
from kedro.framework.hooks import hook_impl

from scimta_kedro import serving, tracking
from scimta_kedro.core.keys import CONNECTIVITIES
from scimta_kedro.core.params import check_parameters, section_config
from scimta_kedro.core.run_lock import RunLock, remove_stale_temporary_files
from scimta_kedro.core.train import encoder_features
from scimta_kedro.core.validate import InputError
from scimta_kedro.datasets import FigureDataset
from scimta_kedro.run_metrics import MemoryPeak

logger = logging.getLogger(__name__)

SQLITE_PREFIX = "sqlite:///"


def _end_tracking_as_failed() -> None:
    """kedro-mlflow opens its MLflow run before this hook runs; a run stopped here ends it as
    FAILED rather than leaving it RUNNING."""
    if mlflow.active_run() is not None:
        mlflow.end_run(status="FAILED")


def check_tracking_store(path: Path) -> None:
    """Raise, naming the file and the fix, if an existing SQLite tracking store cannot be
    used: SQLAlchemy's own error would be a traceback that names neither."""
    if not path.exists():
        return  # MLflow creates it
    with path.open("rb") as file:
        header = file.read(16)
    if header and header != b"SQLite format 3\x00":
        raise InputError(
            f"the MLflow store {path} is not an SQLite database (it is corrupt or another "
            "file). Move it away (it held the earlier runs' records) and run again: MLflow "
            "creates a new one."
        )
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        raise InputError(
            f"the MLflow store {path} (or its folder) is not writable by this user; fix its "
            f"permissions (chmod u+rw {path}) or point conf/local/mlflow.yml's "
            "server.mlflow_tracking_uri at a writable sqlite:/// file."
        )


def run_name(parameters: dict, run_params: dict) -> str:
    """``<input stem or "simulated"> · <pipelines>``: ten analyses of ten samples get ten names."""
    source = tracking.input_name(parameters.get("input_path") or "")
    pipelines = ", ".join(run_params.get("pipeline_names") or ["__default__"])
    return f"{source} · {pipelines}"


def _end_killed_run(run_id: str) -> None:
    """A run killed by a signal cannot end its MLflow run; the next run, which takes over its
    stale lock, ends it as FAILED instead of leaving it RUNNING forever."""
    client = mlflow.MlflowClient()
    try:
        if client.get_run(run_id).info.status == "RUNNING":
            client.set_terminated(run_id, status="FAILED")
            logger.warning("Ended MLflow run %s, whose process was killed, as FAILED.", run_id)
    except mlflow.exceptions.MlflowException:
        pass  # a run of another tracking store, or deleted since


class RunChecks:
    """Before the first node: every parameter checked (``core/params.py``: an unknown key at
    any level, or a value a section's config refuses), then the project folder locked for
    this run and temporary files of killed saves removed. After the run, or its failure, the
    lock is released."""

    def __init__(self) -> None:
        self._lock: RunLock | None = None

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        """Before kedro-mlflow opens its store: a corrupt or read-only ``mlflow.db`` is named."""
        uri = context.config_loader["mlflow"].get("server", {}).get("mlflow_tracking_uri", "")
        if isinstance(uri, str) and uri.startswith(SQLITE_PREFIX):
            path = Path(uri[len(SQLITE_PREFIX) :])
            check_tracking_store(path if path.is_absolute() else context.project_path / path)

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        parameters = catalog.load("parameters")
        try:
            check_parameters(parameters)
        except InputError as error:
            _end_tracking_as_failed()
            raise InputError(
                f"Invalid parameters: {str(error).rstrip('.')}. Fix them in "
                "conf/base/parameters*.yml, conf/local, or --params <section>.<key>=<value>; "
                "nothing was run."
            ) from error
        project = Path(run_params.get("project_path") or Path.cwd())
        lock = RunLock(project)
        active = mlflow.active_run()
        try:
            killed_run = lock.acquire(note=active.info.run_id if active else "")
        except InputError:
            _end_tracking_as_failed()
            raise
        self._lock = lock
        if killed_run:
            _end_killed_run(killed_run)
        remove_stale_temporary_files(project / "data")
        if active is not None:
            mlflow.set_tag("mlflow.runName", run_name(parameters, run_params))

    @hook_impl
    def after_node_run(self, node, outputs) -> None:
        """The MLflow run records what it analysed: the first node's output gives the input
        dataset and the identity tags (``uns["scimta"]``); later nodes add the cells kept and
        the clusters found."""
        if mlflow.active_run() is None:
            return
        if (cells := outputs.get("validated_cells")) is not None:
            tracking.log_input(cells)
        if (kept := outputs.get("preprocessed_cells@anndata")) is not None:
            mlflow.set_tags(
                {"scimta.n_cells_kept": str(kept.n_obs), "scimta.n_hvgs": str(kept.n_vars)}
            )
        if (summary := outputs.get("cluster_summary")) is not None:
            mlflow.set_tag("scimta.n_clusters", str(len(summary.get("cluster_sizes", {}))))

    @hook_impl
    def after_pipeline_run(self, run_params, run_result, pipeline, catalog) -> None:
        self._release()

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class ModelTracking:
    """The trained model as an MLflow model (``scimta_model``, pyfunc, :mod:`..serving`),
    with the signature and input example of the run's own cells.

    The encoder input and graph are the training node's inputs; the model is logged once
    its dataset is saved (Kedro saves outputs after ``after_node_run``).
    """

    MODEL_DATASET = "scimta_model"

    def __init__(self) -> None:
        self._encoder_inputs: tuple | None = None

    @hook_impl
    def after_node_run(self, node, inputs, outputs) -> None:
        if self.MODEL_DATASET not in outputs or mlflow.active_run() is None:
            return
        cells = inputs["preprocessed_cells@counts"]
        encoder_input = section_config("training", inputs["params:training"]).encoder_input
        self._encoder_inputs = (
            encoder_features(cells, encoder_input),
            inputs["cell_graph"].obsp[CONNECTIVITIES],
        )

    @hook_impl
    def after_dataset_saved(self, dataset_name, data) -> None:
        if dataset_name != self.MODEL_DATASET or self._encoder_inputs is None:
            return
        features, connectivities = self._encoder_inputs
        self._encoder_inputs = None
        with tempfile.TemporaryDirectory(prefix="scimta-model-") as folder:
            path = Path(folder) / "scimta_model.keras"
            data.save(path)
            serving.log_model(path, features, connectivities)
        logger.info("Logged the model to MLflow as scimta_model (mlflow.pyfunc.load_model).")


class FigureTracking:
    """The vector copies of each figure (:class:`~scimta_kedro.datasets.FigureDataset`'s PDF)
    logged to the MLflow run under ``plots/`` beside the PNG that kedro-mlflow logs."""

    def __init__(self) -> None:
        self._catalog = None

    @hook_impl
    def after_catalog_created(self, catalog) -> None:
        self._catalog = catalog

    @hook_impl
    def after_dataset_saved(self, dataset_name, data) -> None:
        if self._catalog is None or mlflow.active_run() is None:
            return
        dataset = self._catalog.get(dataset_name)
        if isinstance(dataset, FigureDataset):
            for path in dataset.vector_paths():
                mlflow.log_artifact(str(path), "plots")


class QuickExit:
    """Spares the process the cycle collector's last passes when it exits after a run.

    At exit CPython collects every object the run left (TensorFlow's traced steps, the
    AnnData objects): 3-4 s after a default run on 6.7k cells, when every output is already
    saved and closed. ``gc.freeze`` at exit puts them out of the collector's reach, and the
    operating system frees the memory. Registered once per process and run only at its exit,
    so a notebook or test session that runs many pipelines keeps collecting until then.
    """

    registered = False

    @hook_impl
    def after_pipeline_run(self) -> None:
        if not QuickExit.registered:
            atexit.register(gc.freeze)
            QuickExit.registered = True


class ImportAhead:
    """Imports umap-learn on a second thread while the model trains, when the run draws a
    UMAP.

    ``sc.tl.umap`` (the clustering and batch correction stages) imports umap-learn, and
    umap-learn imports pynndescent, which compiles its numba distance functions on every
    import (4-5 s; they are not cached). Training waits on TensorFlow's kernels much of the
    time, so the import runs beside it and the clustering stage finds the module loaded. The
    thread starts with training, after the stages before it have done their own imports, and
    it only imports: no node's inputs or results depend on it.
    """

    MODULE = "umap"
    STARTS_WITH = "training"
    NEEDED_BY = ("clustering", "batch_correction")

    def __init__(self) -> None:
        self._wanted = False
        self.thread: threading.Thread | None = None

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self._wanted = self.MODULE not in sys.modules and any(
            stage_of(node) in self.NEEDED_BY for node in pipeline.nodes
        )

    @hook_impl
    def before_node_run(self, node) -> None:
        if self._wanted and stage_of(node) == self.STARTS_WITH:
            self._wanted = False
            self.thread = threading.Thread(
                target=_import_or_leave, args=(self.MODULE,), name="import-ahead", daemon=True
            )
            self.thread.start()


def _import_or_leave(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:
        # The node that needs the module imports it again and raises there, in the run's
        # own error report; a failure on this thread would only print a second traceback.
        logger.debug("Importing %s ahead failed; the node that uses it imports it.", module)


GIB = 1024**3


def stage_of(node) -> str:
    """The project stage (pipeline folder) a node's function belongs to."""
    module = getattr(node.func, "__module__", "") or ""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "pipelines":
        return parts[2]
    return "other"


class StageCosts:
    """Each stage's wall time and peak resident memory as MLflow metrics
    (``time/<stage>_s``, ``memory/<stage>_peak_rss_gib``; ``time/total_s``), logged when the
    run ends so that runs can be compared on cost.

    A stage's time runs from the start of each of its nodes to the start of the next node
    (its outputs' saving included); a stage whose nodes are interleaved with another's sums
    its parts. Memory is sampled every 0.2 s (:class:`~scimta_kedro.run_metrics.MemoryPeak`).
    """

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}
        self._peaks: dict[str, int] = {}
        self._stage: str | None = None
        self._mark = 0.0
        self._started = 0.0
        self._memory: MemoryPeak | None = None

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self._seconds, self._peaks, self._stage = {}, {}, None
        self._started = self._mark = time.perf_counter()
        self._memory = MemoryPeak()

    @hook_impl
    def before_node_run(self, node) -> None:
        self._close_interval()
        self._stage = stage_of(node)

    def _close_interval(self) -> None:
        """Charge the time and memory peak since the last mark to the current stage (the
        first node's stage gets the time before it: reading its inputs)."""
        if self._memory is None or self._stage is None:
            return
        now = time.perf_counter()
        peak = self._memory.reset()
        stage = self._stage
        self._seconds[stage] = self._seconds.get(stage, 0.0) + now - self._mark
        self._peaks[stage] = max(self._peaks.get(stage, 0), peak)
        self._mark = now

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self, run_params, run_result, pipeline, catalog) -> None:
        """Before kedro-mlflow ends the MLflow run (``tryfirst``)."""
        if self._memory is None:
            return
        self._close_interval()
        self._memory.stop()
        self._memory = None
        total = time.perf_counter() - self._started
        summary = ", ".join(
            f"{stage} {seconds:.0f} s ({self._peaks[stage] / GIB:.2f} GiB)"
            for stage, seconds in self._seconds.items()
        )
        logger.info("Stage costs: %s; total %.0f s.", summary, total)
        if mlflow.active_run() is None:
            return
        metrics = {f"time/{stage}_s": seconds for stage, seconds in self._seconds.items()}
        metrics.update(
            {f"memory/{stage}_peak_rss_gib": peak / GIB for stage, peak in self._peaks.items()}
        )
        metrics["time/total_s"] = total
        mlflow.log_metrics(metrics)
        run = mlflow.active_run()
        logger.info(
            "Results in data/07_model_output and data/08_reporting; MLflow run %s "
            "(mlflow ui --backend-store-uri sqlite:///mlflow.db).",
            run.info.run_id,
        )

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        if self._memory is not None:
            self._memory.stop()
            self._memory = None


# Set to 1 to see kedro's "Loading data from ..." / "Saving data to ..." lines again.
VERBOSE_VARIABLE = "SCIMTA_VERBOSE"
DATASET_LOGGERS = ("kedro.io", "kedro.io.data_catalog")
# Libraries that set their own logger to INFO when imported, after conf/logging.yml applied.
SELF_CONFIGURING_LOGGERS = ("mlflow", "kedro_mlflow")
# Rich wraps log lines at 80 columns when it writes to a file or pipe; log files are read
# wider.
UNWRAPPED_COLUMNS = "160"


def unwrap_logs_in_files() -> None:
    """Stop rich wrapping log lines at 80 columns when output is not a terminal (a log
    file, CI); called when ``settings.py`` is imported, before the first run line."""
    if not sys.stderr.isatty() and "ipykernel" not in sys.modules:
        os.environ.setdefault("COLUMNS", UNWRAPPED_COLUMNS)


class QuietLogs:
    """Logs that say what matters (conf/logging.yml sets the levels): kedro's per-dataset
    lines come back with ``SCIMTA_VERBOSE=1 kedro run`` (Kedro 1.7's ``kedro run`` has no
    ``--verbose``), and MLflow's and kedro-mlflow's INFO lines (store migrations, config
    notes) are kept at WARNING, since both set their logger's level when imported."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        if os.environ.get(VERBOSE_VARIABLE, "").lower() in ("1", "true", "yes"):
            for name in DATASET_LOGGERS:
                logging.getLogger(name).setLevel(logging.INFO)
        for name in SELF_CONFIGURING_LOGGERS:
            if logging.getLogger(name).getEffectiveLevel() < logging.WARNING:
                logging.getLogger(name).setLevel(logging.WARNING)
