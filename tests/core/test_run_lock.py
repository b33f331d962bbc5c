"""One run per project folder: a live holder refuses a second run, a dead one is taken over."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scimta_kedro.core.errors import InputError
from scimta_kedro.core.run_lock import RunLock, remove_stale_temporary_files


def test_a_live_holder_refuses_a_second_run_and_names_its_pid(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / ".scimta_run.lock").write_text(str(sleeper.pid))
        with pytest.raises(InputError, match=f"another kedro run \\(PID {sleeper.pid}\\)"):
            RunLock(tmp_path).acquire()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_lock_of_a_killed_run_is_taken_over_and_released(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its PID is free now: a run killed with kill -9 leaves such a lock
    (tmp_path / ".scimta_run.lock").write_text(str(gone.pid))
    lock = RunLock(tmp_path)
    lock.acquire()
    assert lock.holder() == os.getpid()
    lock.release()
    assert not lock.path.exists()


def test_release_leaves_another_process_lock_alone(tmp_path):
    (tmp_path / ".scimta_run.lock").write_text("1")  # PID 1 is always alive
    RunLock(tmp_path).release()
    assert (tmp_path / ".scimta_run.lock").exists()


def test_temporary_files_of_killed_saves_are_removed_and_results_kept(tmp_path):
    folder = tmp_path / "07_model_output"
    folder.mkdir()
    stale = folder / ".clustered_cells.h5ad.0123abcd.tmp"
    stale.write_bytes(b"half a file")
    kept = folder / "clustered_cells.h5ad"
    kept.write_bytes(b"a whole file")
    assert remove_stale_temporary_files(tmp_path) == [stale]
    assert not stale.exists() and kept.exists()
