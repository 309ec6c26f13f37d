"""One tray at a time: the lock file, a second holder (another process), release and crash recovery."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tray.single_instance import AlreadyRunning, InstanceLock

HOLD = """
import sys, time
from pathlib import Path
from tray.single_instance import InstanceLock
lock = InstanceLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
sys.stdin.readline()
"""


def test_first_acquire_writes_the_pid_and_release_frees_it(tmp_path: Path):
    lock = InstanceLock(tmp_path / "run").acquire()
    assert lock.path.read_text() == f"{os.getpid()}\n"
    lock.release()
    lock.release()  # idempotent
    with InstanceLock(tmp_path / "run"):
        pass


def test_a_second_lock_in_the_same_process_is_refused(tmp_path: Path):
    with InstanceLock(tmp_path), pytest.raises(AlreadyRunning, match=f"already running \\(process {os.getpid()}\\)"):
        InstanceLock(tmp_path).acquire()


@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX pipe protocol for the helper process")
def test_a_lock_held_by_another_process_is_refused_until_it_ends(tmp_path: Path):
    repo = Path(__file__).resolve().parents[1]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=repo)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunning) as caught:
            InstanceLock(tmp_path).acquire()
        assert caught.value.pid == holder.pid
        assert "use its icon in the system tray, or quit it first" in str(caught.value)
    finally:
        holder.kill()  # like a crash: the OS drops the lock with the process
        holder.wait()
    with InstanceLock(tmp_path) as lock:
        assert lock.path.read_text() == f"{os.getpid()}\n"
