"""One Emoji Cam tray at a time: an exclusive lock on a file in the user's runtime folder.

The lock is held by the open file (fcntl.flock on Unix, msvcrt.locking on Windows), so the OS frees it when the
process ends, even after a crash: a stale file never blocks the next start. The file holds the owner's pid, to name
it in the message of a second launch.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import platformdirs

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
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        log.debug("instance lock %s taken", self.path)
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 32).decode("ascii", "replace").strip()
    except OSError:  # Windows: the locked byte range cannot be read by others
        return None
    return int(text) if text.isdigit() else None


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
