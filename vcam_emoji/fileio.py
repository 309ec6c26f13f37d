"""The one rule for every file Emoji Cam writes: render output, timeline, live recording, analysis, stickers, config.

1. Never over an input of the same run: :func:`check_output` refuses a target that is (or is a link to) one of the
   run's ``inputs``, or another ``outputs`` of the same run, and a target that is a folder or a device.
2. Never over an existing file unless the user said so: ``replace=True`` only for ``--force`` or for the program's own
   files (a config edit); names the program picks itself come from :func:`numbered_path` (``out.mp4``, ``out-2.mp4``,
   ...) or ``numbered=True``, so they never replace anything either.
3. Always through a temporary file beside the target and a rename at the end, so a reader sees the old file or the
   whole new one, never half of one. Without ``replace`` the last step is a hard link, which fails rather than
   overwrite a file that appeared meanwhile.
4. Temporary files are removed on every exit the program sees: the block raising, Ctrl-C (KeyboardInterrupt),
   SIGTERM and SIGHUP (:func:`raise_on_termination` turns them into :class:`Terminated` in the main thread, so every
   ``finally`` runs) and interpreter exit (an ``atexit`` hook removes whatever is still pending). Only SIGKILL or a
   power cut can leave one behind; live recordings use a format that plays up to that point (see sink/video_file.py).

Use it like this::

    with atomic_output(out, inputs=[src]) as tmp:     # raises OutputError/OutputExists before anything is written
        encode_into(tmp)                              # tmp becomes ``out`` only if the block succeeds
    write_atomic(folder / "happy.png", png_bytes)     # bytes or text, same rule, in one call

    pending = AtomicFile(out, numbered=True)          # when the file outlives one block (a live recording)
    ...                                               # write pending.tmp
    final = pending.commit()                          # or pending.discard()

Only the temporary-file list is process-wide (the atexit hook and the signal handlers are too, by nature); everything
else is passed in.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import OutputError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]

FORCE_HINT = "add --force to replace it, or choose another name"
MAX_NUMBER = 9999
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK, errno.ENOSYS, errno.EACCES}


class OutputExists(OutputError):
    """The target exists and replacing it was not asked for."""

    def __init__(self, path: Path, hint: str = FORCE_HINT) -> None:
        super().__init__(f"{path}: already exists; {hint}")
        self.path = path


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the main thread like Ctrl-C, so that temporary files are removed on the way out.
    The CLI exits with 128 + ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


# --- checks --------------------------------------------------------------------------------------------------------
def same_file(a: PathLike, b: PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: the same inode where both exist (hard links, symlinks, a
    case-insensitive file system), else the same absolute path."""
    a, b = Path(a), Path(b)
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def check_output(
    path: PathLike,
    *,
    inputs: Iterable[PathLike | None] = (),
    outputs: Iterable[PathLike | None] = (),
    replace: bool = False,
    what: str = "output",
    hint: str = FORCE_HINT,
) -> Path:
    """Raise OutputError (OutputExists for an existing file without ``replace``) unless ``path`` may be written under
    rule 1 and 2 above; ``what`` names it in the message ("timeline", "recording"), ``hint`` says how to allow
    replacing. Returns ``path`` as a Path. Nothing is created."""
    path = Path(path)
    for other in inputs:
        if other is not None and same_file(path, other):
            raise OutputError(f"{path}: this is also an input of this run; writing the {what} there would destroy "
                              f"it, so choose another name for the {what}")
    for other in outputs:
        if other is not None and same_file(path, other):
            raise OutputError(f"{path}: two outputs of this run would be written to the same file; give the {what} "
                              "a name of its own")
    if path.is_dir():
        example = path / f"emoji-cam{path.suffix or '.out'}"
        raise OutputError(f"{path}: is a folder; give the {what} a file name (e.g. {example})")
    folder = path.parent
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {folder} does not exist; create it first")
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"{path}: cannot check it ({exc.strerror}); choose another path") from None
    if st is not None:
        target = path.stat() if stat.S_ISLNK(st.st_mode) and path.exists() else st
        if not stat.S_ISREG(target.st_mode):
            raise OutputError(f"{path}: is not a regular file (a device, pipe or broken link); choose a file name")
        if not replace:
            raise OutputExists(path, hint)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write in {folder} (permissions); choose a writable folder")
    return path


def numbered_path(path: PathLike) -> Path:
    """``path`` if nothing is there, else the first free ``stem-2.suffix``, ``stem-3.suffix``, ..."""
    path = Path(path)
    if not os.path.lexists(path):
        return path
    for n in range(2, MAX_NUMBER + 1):
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise OutputError(f"{path}: {MAX_NUMBER} numbered files of this name exist already; move some away")


# --- temporary files -------------------------------------------------------------------------------------------------
_pending: set[Path] = set()
_pending_lock = threading.Lock()


def _remove_pending() -> None:
    with _pending_lock:
        leftovers = list(_pending)
        _pending.clear()
    for tmp in leftovers:
        with contextlib.suppress(OSError):
            tmp.unlink()


atexit.register(_remove_pending)


def pending_temp_files() -> list[Path]:
    """The temporary files not yet committed or discarded (for tests and diagnostics)."""
    with _pending_lock:
        return sorted(_pending)


def _default_mode() -> int:
    """What a plain ``open(path, "w")`` would give: 0o666 less the umask (read without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644


class AtomicFile:
    """A temporary file ``tmp`` beside ``target`` that becomes ``target`` on :meth:`commit`.

    Created checked (:func:`check_output`) and empty; write it by path (an encoder, ``cv2.imwrite``) or with
    ``open(pending.tmp, ...)``. ``hidden`` names it ``.stem.partial-<random>.ext`` (short-lived files), else
    ``stem.partial-<random>.ext`` (a live recording, so what a SIGKILL leaves is easy to find and plays). With
    ``numbered`` a target taken meanwhile is not an error: the next free numbered name is used. As a context manager it
    commits when the block succeeds and discards otherwise; both are idempotent."""

    def __init__(
        self,
        target: PathLike,
        *,
        replace: bool = False,
        numbered: bool = False,
        inputs: Iterable[PathLike | None] = (),
        outputs: Iterable[PathLike | None] = (),
        what: str = "output",
        hidden: bool = True,
        mode: int | None = None,
        hint: str = FORCE_HINT,
    ) -> None:
        target = Path(target)
        inputs, outputs = list(inputs), list(outputs)
        self._base = target
        if numbered and not replace:
            check_output(target, inputs=inputs, outputs=outputs, replace=True, what=what)
            target = numbered_path(target)
        self.target = check_output(target, inputs=inputs, outputs=outputs, replace=replace, what=what, hint=hint)
        self.replace, self.numbered, self._hint = replace, numbered, hint
        if mode is None:
            existing = target.stat().st_mode & 0o7777 if replace and target.is_file() else None
            mode = existing if existing is not None else _default_mode()
        self.mode = mode
        self.tmp = self._create(hidden)
        self.committed = False
        self._done = False

    def _create(self, hidden: bool) -> Path:
        folder, stem, suffix = self.target.parent, self.target.stem, self.target.suffix
        for _ in range(100):
            tmp = folder / f"{'.' if hidden else ''}{stem}.partial-{secrets.token_hex(4)}{suffix}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
            except FileExistsError:
                continue
            except OSError as exc:
                raise OutputError(f"{self.target}: cannot write in {folder} ({exc.strerror}); choose a writable "
                                  "folder") from None
            os.close(fd)
            with _pending_lock:
                _pending.add(tmp)
            return tmp
        raise OutputError(f"{self.target}: cannot find a free temporary name in {folder}")

    def commit(self) -> Path:
        """Flush the temporary file to disk and rename it onto the target; returns the final path."""
        if self._done:
            if not self.committed:
                raise OutputError(f"{self.target}: the output was discarded and cannot be committed")
            return self.target
        try:
            _fsync_file(self.tmp)
            with contextlib.suppress(OSError):
                os.chmod(self.tmp, self.mode)
            while True:
                try:
                    self._place()
                    break
                except FileExistsError:
                    if not self.numbered:
                        raise OutputExists(self.target, self._hint) from None
                    self.target = numbered_path(self._base)
            _fsync_dir(self.target.parent)
        except OSError as exc:
            self.discard()
            raise OutputError(f"{self.target}: could not be written ({exc.strerror or exc}); nothing was "
                              "changed there") from None
        except BaseException:
            self.discard()
            raise
        self.committed = True
        self._finish()
        return self.target

    def _place(self) -> None:
        if self.replace:
            os.replace(self.tmp, self.target)
            return
        try:
            os.link(self.tmp, self.target)  # atomic, and fails rather than overwriting
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in _NO_HARD_LINKS:
                raise
            # A file system without hard links (FAT, some network shares): check, then rename; a tiny race remains.
            if os.path.lexists(self.target):
                raise FileExistsError(errno.EEXIST, "exists", str(self.target)) from None
            os.replace(self.tmp, self.target)
            return
        os.unlink(self.tmp)

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        if not self._done:
            self._finish()

    def _finish(self) -> None:
        self._done = True
        with _pending_lock:
            _pending.discard(self.tmp)
        with contextlib.suppress(OSError):
            self.tmp.unlink()

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_output(target: PathLike, **options: object) -> Iterator[Path]:
    """Yield the temporary path of an :class:`AtomicFile` (same options); it becomes ``target`` if the block
    succeeds and is removed otherwise."""
    with AtomicFile(target, **options) as pending:  # type: ignore[arg-type]
        yield pending.tmp


def write_atomic(target: PathLike, data: bytes | str, **options: object) -> Path:
    """Write ``data`` (text as UTF-8, newlines untouched) to ``target`` under the rule; returns the final path.
    Raises OutputExists when it exists and ``replace`` was not given."""
    with AtomicFile(target, **options) as pending:  # type: ignore[arg-type]
        with open(pending.tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
    return pending.target


# --- signals ---------------------------------------------------------------------------------------------------------
def _raise_terminated(signum: int, frame: object) -> None:  # noqa: ARG001 - signal handler signature
    raise Terminated(signum)


def raise_on_termination() -> None:
    """From the main thread: make SIGTERM (and SIGHUP where there is one) raise :class:`Terminated` there, like
    Ctrl-C, so that ``finally`` blocks remove temporary files. Handlers someone else installed are kept."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _raise_terminated)
