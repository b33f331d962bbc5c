"""Benchmarks of scimta-kedro: one module per topic, run from the project root as
``.venv/bin/python -m benchmarks.<topic>`` (``make benchmark-<topic>``); see README.md."""

import os

# Before any benchmark imports TensorFlow or MLflow: quiet logs, no telemetry.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DO_NOT_TRACK", "1")
