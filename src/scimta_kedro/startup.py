"""What importing scimta_kedro does first: TensorFlow imported without its C++ start-up
notices, and upstream warnings a user cannot act on silenced.

These would otherwise open every ``kedro run`` and the first notebook cell, and bury the
lines that matter.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings

# Warnings raised inside libraries that a user cannot act on: (message regex, category).
UPSTREAM_WARNINGS = (
    (r"register_new_resolver\(\) is deprecated", "UserWarning"),  # kedro, kedro-mlflow
    (r"IProgress not found", "TqdmWarning"),  # tqdm in a notebook without ipywidgets
    # optuna-integration marks its DaskStorage experimental; the Dask tuning relies on it.
    (r"DaskStorage is experimental", "Warning"),
    # pandas, inside scanpy's rank_genes_groups (the communities' Wilcoxon tests).
    (r"DataFrame is highly fragmented", "Warning"),
    # MLflow's advice to whoever defines a PythonModel without type hints, given when
    # kedro-mlflow's CLI plugin defines its KedroPipelineModel (every `kedro` command). MLflow
    # gives it inside its own `simplefilter("once")`, which overrides `filterwarnings`: the
    # log filter below drops it where kedro logs warnings.
    (r"Add type hints to the `predict` method", "UserWarning"),
)


class UpstreamWarningFilter(logging.Filter):
    """Drops the logged warnings (``py.warnings``) that match :data:`UPSTREAM_WARNINGS`, for
    those a library raises under its own warning filter."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(re.search(pattern, message) for pattern, _ in UPSTREAM_WARNINGS)


# One instance, so that adding it again (a reloaded package) is a no-op for logging.
_LOG_FILTER = UpstreamWarningFilter()


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up notices off.

    Its INFO and WARNING lines (CPU features, oneDNN, absl) would otherwise open every run
    and notebook. ``TF_CPP_MIN_LOG_LEVEL`` silences most; the oneDNN notice and absl's
    "before InitializeLog" line are written before TensorFlow reads it, so file descriptor
    2 points at /dev/null during the import itself. A user's own ``TF_CPP_MIN_LOG_LEVEL``
    wins: at 0 or 1 everything is shown. An import error is still raised (and printed) as
    usual.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] in ("0", "1"):
        return
    saved = os.dup(2)
    silent = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(silent, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(silent)


def quiet_upstream_warnings() -> None:
    """Silence :data:`UPSTREAM_WARNINGS` (only those messages), as warnings and as log
    records."""
    from tqdm import TqdmWarning

    categories = {"UserWarning": UserWarning, "TqdmWarning": TqdmWarning, "Warning": Warning}
    for message, category in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=categories[category])
    logging.getLogger("py.warnings").addFilter(_LOG_FILTER)
