"""One run at a time in a project folder, and no stale temporary files left behind.

Two ``kedro run`` in one folder write the same files and the same MLflow run's artifacts, so
the second would silently mix its results with the first's. :class:`RunLock` holds a lock
file with the running process's PID; a lock whose process is gone (a killed run) is stale
and is taken over, so a killed run never blocks the next one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import InputError

logger = logging.getLogger(__name__)

LOCK_NAME = ".scimta_run.lock"
# AnnDataDataset's temporary files (".<name>.h5ad.<uuid>.tmp"), renamed over the target
# when a save completes; one left behind is from a run killed while saving.
TEMPORARY_PATTERN = ".*.h5ad.*.tmp"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True


class RunLock:
    """The lock of one project folder (``folder/.scimta_run.lock``): the holder's PID on its
    first line, and a note (the run's MLflow run id) on its second."""

    def __init__(self, folder: Path | str):
        self.path = Path(folder) / LOCK_NAME

    def _read(self) -> tuple[int, str]:
        try:
            pid, _, note = self.path.read_text().partition("\n")
            return int(pid.strip() or 0), note.strip()
        except (FileNotFoundError, ValueError):
            return 0, ""

    def holder(self) -> int | None:
        """The PID of the live run that holds the lock, or ``None``."""
        pid, _ = self._read()
        return pid if pid > 0 and _process_alive(pid) else None

    def acquire(self, note: str = "") -> str | None:
        """Take the lock for this process, with ``note`` beside its PID.

        Returns the note of a stale lock taken over (a killed run's), or ``None``.

        Raises
        ------
        InputError
            If another live process holds it, naming its PID and what to do.
        """
        stale_note = None
        while True:
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pid = self.holder()
                if pid is not None and pid != os.getpid():
                    raise InputError(
                        f"another kedro run (PID {pid}) is running in this project folder "
                        f"({self.path.parent}); two runs would write the same files and MLflow "
                        "run. Wait for it to finish, or run from a copy of the project."
                    ) from None
                logger.info("Removing the stale lock of a run that is gone (%s).", self.path)
                stale_note = self._read()[1] or stale_note
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(descriptor, "w") as lock:
                lock.write(f"{os.getpid()}\n{note}")
            return stale_note

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self._read()[0] == os.getpid():
            self.path.unlink(missing_ok=True)


def remove_stale_temporary_files(data_folder: Path | str) -> list[Path]:
    """Delete the temporary ``.h5ad`` files that killed saves left under ``data_folder``.

    Only call this while holding the :class:`RunLock`: no other run is then saving.
    """
    removed = sorted(Path(data_folder).rglob(TEMPORARY_PATTERN))
    for path in removed:
        path.unlink(missing_ok=True)
        logger.info("Removed %s, left by a run that was killed while saving.", path)
    return removed
