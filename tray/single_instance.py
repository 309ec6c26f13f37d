"""One Emoji Cam tray at a time: an exclusive lock on a file in the user's runtime folder.

The lock is filelock's OS lock on the file (flock on Unix, msvcrt.locking on Windows), so the OS frees it when the
process ends, even after a crash: a stale file never blocks the next start. The file holds the owner's pid, to name
it in the message of a second launch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs
from filelock import FileLock, Timeout

from vcam_emoji.errors import EmojiCamError

log = logging.getLogger(__name__)

APP_NAME = "vcam-emoji"
LOCK_NAME = "emoji-cam.lock"


class AlreadyRunning(EmojiCamError):
    def __init__(self, path: Path, pid: int | None) -> None:
        self.path, self.pid = path, pid
        who = f" (process {pid})" if pid else ""
        super().__init__(f"Emoji Cam is already running{who}: use its icon in the system tray, or quit it first "
                         f"(lock file {path})")


def default_lock_dir() -> Path:
    """The per-user runtime folder ($XDG_RUNTIME_DIR on Linux), else the user data folder."""
    try:
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    except (OSError, KeyError):
        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


class InstanceLock:
    """``acquire()`` or raise AlreadyRunning; ``release()`` (idempotent) or let the process end."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = (directory if directory is not None else default_lock_dir()) / LOCK_NAME
        # on_acquired writes our pid into the locked file; with a callback filelock never falls back to a "soft"
        # lock (a plain file that would outlive a crash): the OS lock is what frees the next start after a crash.
        self._lock = FileLock(self.path, timeout=0, mode=0o600, thread_local=False, on_acquired=_write_pid)

    def acquire(self) -> InstanceLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            raise AlreadyRunning(self.path, _read_pid(self.path)) from None
        except OSError as exc:
            raise EmojiCamError(f"{self.path}: cannot take the one-instance lock ({exc.strerror or exc}); check "
                                "that the folder is writable") from None
        log.debug("instance lock %s taken", self.path)
        return self

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, f"{os.getpid()}\n".encode())


def _read_pid(path: Path) -> int | None:
    try:
        with open(path, "rb") as handle:
            text = handle.read(32).decode("ascii", "replace").strip()
    except OSError:  # Windows: the locked byte range cannot be read by others; or the owner just removed it
        return None
    return int(text) if text.isdigit() else None
