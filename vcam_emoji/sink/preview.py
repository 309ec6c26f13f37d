"""A local preview window (cv2.imshow), whose every window call runs on one thread for the life of the process.

OpenCV's window toolkit belongs to the first thread that uses it (Qt in the opencv-python wheels on Linux). A window
made on one thread and closed from another hangs there: the tray's Quit waited 20 s in ``cv2.waitKey`` after "Timers
cannot be started from another thread", and a window opened by a second thread once the first has ended hangs at
once (both seen here). So :class:`GuiThread` makes every call - create, show, pump events, close - on its own
thread, and the same one for every window of the process (:func:`shared_gui_thread`); ``send`` and ``close`` may then
be called from any thread, and ``send`` never waits for the window. On macOS windows must be made on the main thread,
so there the calls run on the caller's thread instead (``vcam-emoji run`` drives the engine from the main thread,
and passes :class:`CallerThreadGui` everywhere: a process that used the window thread should end with ``os._exit``, as
``emoji-cam`` does, because Qt's exit-time destructors run on the main thread and warn about that thread's timers).

Without a display, cv2.imshow aborts the whole process on Linux, so the display is checked first and a DeviceError
raised instead.
"""

from __future__ import annotations

import logging
import os
import platform
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import cv2
import numpy as np

from ..errors import DeviceError
from ..types import check_frame

log = logging.getLogger(__name__)

DEFAULT_WINDOW = "Emoji Cam preview"
PUMP_S = 0.015  # how often the window's events are handled while one is open
OPEN_TIMEOUT_S = 10.0  # the first window of a process starts the toolkit; a loaded machine may take seconds
CLOSE_TIMEOUT_S = 2.0

T = TypeVar("T")


def display_available(environ: Mapping[str, str] | None = None, system: str | None = None) -> bool:
    """True if a window can be shown: always on Windows/macOS, on other systems only with DISPLAY/WAYLAND_DISPLAY."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    if system in ("Windows", "Darwin"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


class Gui(Protocol):
    """Where the window calls run: :class:`GuiThread`, or :class:`CallerThreadGui` on macOS."""

    def call(self, fn: Callable[[], T], timeout: float) -> T: ...

    def post(self, fn: Callable[[], None]) -> None: ...

    def pump_while(self, is_open: Callable[[], bool], on_key: Callable[[int], None]) -> None: ...


class GuiThread:
    """One thread that runs window calls in order, and while any window is open handles its events (waitKey) every
    PUMP_S. Started on the first call; a daemon that waits idle between windows."""

    def __init__(self, name: str = "preview-window") -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._pumps: list[tuple[Callable[[], bool], Callable[[int], None]]] = []  # used on the thread only
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def ident(self) -> int | None:
        return self._thread.ident if self._thread is not None else None

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the thread soon; do not wait. An exception is logged."""
        self._ensure_started()
        self._jobs.put(fn)

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        """Run ``fn`` on the thread and return its result (or raise its exception); TimeoutError after ``timeout``."""
        if threading.get_ident() == self.ident:
            return fn()
        done = threading.Event()
        outcome: list = []

        def job() -> None:
            try:
                outcome.append((True, fn()))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                outcome.append((False, exc))
            finally:
                done.set()

        self.post(job)
        if not done.wait(timeout):
            raise TimeoutError(f"the preview window's thread did not answer within {timeout:g} s")
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    def pump_while(self, is_open: Callable[[], bool], on_key: Callable[[int], None]) -> None:
        """(On the thread.) Handle window events every PUMP_S while ``is_open()``; keys go to ``on_key``."""
        self._pumps.append((is_open, on_key))

    def _run(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=PUMP_S if self._pumps else None)
            except queue.Empty:
                job = None
            if job is not None:
                try:
                    job()
                except Exception:  # noqa: BLE001 - one window's failure must not end the thread of all windows
                    log.exception("a preview window call failed")
            self._pumps = [(is_open, on_key) for is_open, on_key in self._pumps if is_open()]
            if self._pumps and (job is None or self._jobs.empty()):
                try:
                    key = cv2.waitKey(1)
                except cv2.error as exc:
                    log.debug("cannot handle the preview window's events: %s", exc)
                    continue
                if key != -1:
                    for _, on_key in self._pumps:
                        on_key(key & 0xFF)


class CallerThreadGui:
    """Runs window calls on the calling thread (macOS, where windows belong to the main thread); events are handled
    after each frame shown."""

    def call(self, fn: Callable[[], T], timeout: float) -> T:
        return fn()

    def post(self, fn: Callable[[], None]) -> None:
        fn()

    def pump_while(self, is_open: Callable[[], bool], on_key: Callable[[int], None]) -> None:
        pass  # PreviewSink._show pumps after each frame


_shared_lock = threading.Lock()
_shared: list[GuiThread] = []


def shared_gui_thread() -> GuiThread:
    """The process's one window thread (OpenCV's window toolkit is per process, bound to one thread)."""
    with _shared_lock:
        if not _shared:
            _shared.append(GuiThread())
        return _shared[0]


class PreviewSink:
    """Shows frames in a window. ``send`` hands the newest frame to the window's thread and returns at once (a frame
    not yet shown is replaced by a newer one); the sender must not change a frame once sent. ``closed_by_user`` is
    set when the user closes the window (it is not reopened behind their back)."""

    def __init__(
        self,
        size_wh: tuple[int, int] | None = None,
        fps: float = 30.0,
        *,
        window_name: str = DEFAULT_WINDOW,
        environ: Mapping[str, str] | None = None,
        system: str | None = None,
        gui: Gui | None = None,
    ) -> None:
        if not display_available(environ, system):
            raise DeviceError(
                "no display for the preview window (neither DISPLAY nor WAYLAND_DISPLAY is set); run Emoji Cam "
                "in a desktop session, or send to the virtual camera or a video file instead"
            )
        self.size_wh = size_wh
        self.fps = fps
        self.window_name = window_name
        self.last_key: int | None = None  # the last key pressed in the window (waitKey code), if any
        self.closed_by_user = False
        self._gui = gui or (CallerThreadGui() if (system or platform.system()) == "Darwin" else shared_gui_thread())
        self._inline = isinstance(self._gui, CallerThreadGui)
        self._closed = False
        self._window_open = False  # on the window's thread only
        self._pending: np.ndarray | None = None
        self._pending_lock = threading.Lock()
        self._error: DeviceError | None = None
        try:
            self._gui.call(self._open, timeout=OPEN_TIMEOUT_S)
        except TimeoutError as exc:
            raise DeviceError(f"the preview window did not open: {exc}") from None

    # --- any thread -----------------------------------------------------------------------------------------------
    def send(self, frame: np.ndarray) -> None:
        check_frame(frame)
        if self._error is not None:
            raise self._error
        if self._closed:
            raise DeviceError("the preview window was closed")
        with self._pending_lock:
            first = self._pending is None
            self._pending = frame
        if first:
            self._gui.post(self._show)

    def close(self) -> None:
        """Close the window (idempotent); waits at most CLOSE_TIMEOUT_S for the window's thread."""
        if self._closed:
            return
        self._closed = True
        try:
            self._gui.call(self._destroy, timeout=CLOSE_TIMEOUT_S)
        except TimeoutError as exc:
            log.warning("closing the preview window: %s; going on without waiting", exc)

    def __enter__(self) -> "PreviewSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the window's thread --------------------------------------------------------------------------------------
    def _fail(self, exc: cv2.error) -> DeviceError:
        detail = exc.err if hasattr(exc, "err") else exc
        return DeviceError(f"cannot show the preview window ({detail}); this OpenCV build may have no GUI support "
                           "(opencv-python-headless) - install opencv-python, or use another output")

    def _open(self) -> None:
        try:
            cv2.namedWindow(self.window_name, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise self._fail(exc) from exc
        self._window_open = True
        self._gui.pump_while(lambda: self._window_open, self._on_key)

    def _on_key(self, key: int) -> None:
        self.last_key = key

    def _show(self) -> None:
        with self._pending_lock:
            frame, self._pending = self._pending, None
        if frame is None or not self._window_open or self._closed:
            return
        try:
            if cv2.getWindowProperty(self.window_name, cv2.WND_PROP_VISIBLE) < 1:
                self.closed_by_user = True  # the user closed the window; do not reopen it behind their back
                self._window_open = False
                return
            cv2.imshow(self.window_name, frame)
            if self._inline:
                key = cv2.waitKey(1)
                if key != -1:
                    self._on_key(key & 0xFF)
        except cv2.error as exc:
            self._error = self._fail(exc)

    def _destroy(self) -> None:
        if not self._window_open and not self.closed_by_user:
            return
        self._window_open = False
        try:
            cv2.destroyWindow(self.window_name)
            cv2.waitKey(1)
        except cv2.error:
            log.debug("preview window was already gone")
