"""Metrics a run streams to MLflow while it works: the losses per epoch, and what each stage
cost (wall time, peak memory).

Names are grouped with ``/`` (``pretrain/total_loss``, ``time/training_s``), so the MLflow
UI draws one chart group per phase. The core library never imports MLflow; the training node
and the hooks use these.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path

import mlflow
from mlflow.entities import Metric

# Losses are sent in batches: one MLflow request per epoch would slow short epochs down.
FLUSH_SECONDS = 5.0
_STATM = Path("/proc/self/statm")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class LiveLosses:
    """``on_epoch_end`` callback of :func:`~scimta_kedro.core.train.train_graph_autoencoder`
    that logs every epoch's losses to the active MLflow run as ``<phase>/<loss>`` at step
    ``epoch``, sent at most every ``flush_seconds`` and at :meth:`close`."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        run = mlflow.active_run()
        if run is None:
            raise RuntimeError("LiveLosses needs an active MLflow run (mlflow.start_run).")
        self._run_id = run.info.run_id
        self._client = mlflow.MlflowClient()
        self._flush_seconds = flush_seconds
        self._pending: list[Metric] = []
        self._last_flush = time.monotonic()

    def __call__(self, phase: str, epoch: int, losses: dict[str, float]) -> None:
        stamp = int(time.time() * 1000)
        self._pending.extend(
            Metric(f"{phase}/{name}", float(value), stamp, epoch) for name, value in losses.items()
        )
        if time.monotonic() - self._last_flush >= self._flush_seconds:
            self.flush()

    def flush(self) -> None:
        # MLflow takes at most 1000 metrics per batch.
        while self._pending:
            batch, self._pending = self._pending[:1000], self._pending[1000:]
            self._client.log_batch(self._run_id, metrics=batch, synchronous=True)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        self.flush()


def live_losses() -> LiveLosses | None:
    """A :class:`LiveLosses` for the active MLflow run, or ``None`` outside one (the API, tests)."""
    return LiveLosses() if mlflow.active_run() is not None else None


def resident_bytes() -> int:
    """This process's resident memory now (Linux ``/proc``), or its peak where ``/proc`` is
    missing."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return peak_resident_bytes()


def peak_resident_bytes() -> int:
    """This process's peak resident memory since it started (``getrusage``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class MemoryPeak:
    """The highest resident memory seen since :meth:`reset`, sampled every ``interval``
    seconds by a daemon thread (the process-wide peak of ``getrusage`` cannot be reset, so
    it cannot tell one stage's peak from an earlier one's)."""

    def __init__(self, interval: float = 0.2) -> None:
        self._interval = interval
        self._peak = resident_bytes()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="scimta-memory", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            current = resident_bytes()
            with self._lock:
                self._peak = max(self._peak, current)

    def reset(self) -> int:
        """The peak since the last reset (bytes), and start a new one from now."""
        with self._lock:
            peak, self._peak = max(self._peak, resident_bytes()), resident_bytes()
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self._interval + 1)
