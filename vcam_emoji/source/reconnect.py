"""A camera that reconnects by itself: reports ``unavailable`` while the camera is gone, busy or black, and keeps
retrying with exponential backoff. Opening and closing happen on a helper thread, so :meth:`ReconnectingSource.get`
never blocks longer than the timeout it is given. Time is injected: tests drive it with a manual clock.

Engine loop::

    source = ReconnectingSource(lambda: CameraSource(cfg.camera, size, fps).open(), size_wh=size, fps=fps)
    while running:
        frame, state = source.get(timeout=0.5 / fps)
        if frame is None and not state.ok:
            frame = placeholder_frame(source.size_wh, state.placeholder_lines)
        ...
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from ..errors import EmojiCamError
from .placeholder import placeholder_frame

log = logging.getLogger(__name__)


class LiveSource(Protocol):
    """What ReconnectingSource needs from an opened source (CameraSource has it)."""

    @property
    def size_wh(self) -> tuple[int, int]: ...

    def latest(self, timeout: float = 0.0) -> "object | None": ...  # CapturedFrame-like: .frame, .index, .t

    def health(self, now: float | None = None) -> "object": ...  # CameraHealth-like: .ok, .message

    def close(self) -> None: ...


class SourceStatus(str, Enum):
    STARTING = "starting"  # first open still in progress
    OK = "ok"
    UNAVAILABLE = "unavailable"  # gone, busy or black; retrying
    CLOSED = "closed"


@dataclass(frozen=True)
class SourceState:
    status: SourceStatus
    reason: str  # for the user: what is wrong, or "ok"
    failures: int  # failed attempts in a row
    retry_at: float | None  # clock time of the next open attempt, if one is scheduled
    frame_index: int | None = None  # index of the returned frame
    frame_t: float | None = None  # clock time the returned frame was read

    @property
    def ok(self) -> bool:
        return self.status is SourceStatus.OK

    @property
    def placeholder_lines(self) -> tuple[str, ...]:
        if self.status is SourceStatus.STARTING:
            return ("Starting camera...",)
        if not self.reason:
            return ("Camera unavailable",)
        short = self.reason.split(". ")[0]  # the reason's first sentence; the full text is in the log
        return ("Camera unavailable", short if len(short) <= 70 else short[:67] + "...")


def backoff_delays(initial_s: float, max_s: float, factor: float = 2.0):
    """initial, initial*factor, ... capped at max_s (an endless generator)."""
    delay = initial_s
    while True:
        yield min(delay, max_s)
        delay = min(delay * factor, max_s)


class ReconnectingSource:
    """Wraps ``open_source`` (a callable that opens and returns a LiveSource or raises) with retry and backoff."""

    def __init__(
        self,
        open_source: Callable[[], LiveSource],
        *,
        size_wh: tuple[int, int],
        fps: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        initial_delay_s: float = 0.5,
        max_delay_s: float = 2.0,
        factor: float = 2.0,
        stable_after_s: float = 3.0,
    ) -> None:
        if not 0 < initial_delay_s <= max_delay_s:
            raise ValueError(
                f"initial_delay_s/max_delay_s: expected 0 < initial <= max, got {initial_delay_s}/{max_delay_s}"
            )
        if factor < 1:
            raise ValueError(f"factor: expected >= 1, got {factor}")
        self._open_source = open_source
        self._size_wh = (int(size_wh[0]), int(size_wh[1]))
        self._fps = float(fps)
        self._clock = clock
        self.initial_delay_s = initial_delay_s
        self.max_delay_s = max_delay_s
        self.factor = factor
        self.stable_after_s = stable_after_s

        self._lock = threading.Lock()
        self._source: LiveSource | None = None
        self._attempt: _Attempt | None = None
        self._retiring: list[threading.Thread] = []
        self._next_attempt_at = -float("inf")
        self._failures = 0
        self._healthy_since: float | None = None
        self._ever_opened = False
        self._reason = ""
        self._closed = False
        self.attempts_started = 0

    @property
    def size_wh(self) -> tuple[int, int]:
        """The live source's frame size when one is open, else the configured one (for placeholders)."""
        source = self._source
        return source.size_wh if source is not None else self._size_wh

    @property
    def fps(self) -> float:
        return self._fps

    def delay_after(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` failures in a row (>= 1)."""
        return min(self.initial_delay_s * self.factor ** max(0, failures - 1), self.max_delay_s)

    # --- the engine's call --------------------------------------------------------------------------------------------
    def get(self, now: float | None = None, timeout: float = 0.0) -> tuple[np.ndarray | None, SourceState]:
        """The newest new frame (or None) and the state; blocks at most ``timeout`` seconds (real time).

        A None frame with status OK means "no new frame yet"; with any other status, show a placeholder.
        """
        now = self._clock() if now is None else now
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            if self._closed:
                return None, self._state(SourceStatus.CLOSED, now)
            self._collect(now)
            if self._source is None and self._attempt is None and now >= self._next_attempt_at:
                self._start_attempt()
            attempt = self._attempt
        if attempt is not None:
            attempt.done.wait(max(0.0, deadline - time.monotonic()))
            with self._lock:
                self._collect(now)
        source = self._source
        if source is None:
            with self._lock:
                status = SourceStatus.UNAVAILABLE if self._ever_opened or self._failures else SourceStatus.STARTING
                return None, self._state(status, now)
        captured = source.latest(timeout=max(0.0, deadline - time.monotonic()))
        health = source.health(now)
        with self._lock:
            if self._closed:
                return None, self._state(SourceStatus.CLOSED, now)
            if not health.ok:
                self._retire(source, health.message, now)
                return None, self._state(SourceStatus.UNAVAILABLE, now)
            if self._healthy_since is None:
                self._healthy_since = now
            if now - self._healthy_since >= self.stable_after_s:
                self._failures = 0
            if captured is None:
                return None, self._state(SourceStatus.OK, now)
            state = self._state(SourceStatus.OK, now, frame_index=captured.index, frame_t=captured.t)
            return captured.frame, state

    def read(self) -> np.ndarray:
        """Source protocol: the next frame, or a placeholder frame saying why there is none (never None)."""
        frame, state = self.get(timeout=1.0 / self._fps)
        if frame is not None:
            return frame
        if state.status is SourceStatus.CLOSED:
            raise EmojiCamError("the camera source was closed")
        if not state.ok:
            time.sleep(1.0 / self._fps)  # pace placeholder frames instead of spinning
        return placeholder_frame(self.size_wh, state.placeholder_lines)

    def close(self) -> None:
        """Close the live source and stop retrying. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            source, self._source = self._source, None
            attempt = self._attempt
            retiring = list(self._retiring)
        if source is not None:
            source.close()
        if attempt is not None:
            late = attempt.cancel()  # an open still hanging closes its source itself when it finishes
            if late is not None:
                late.close()
        for thread in retiring:
            thread.join(timeout=5.0)

    def __enter__(self) -> "ReconnectingSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals (called with self._lock held) --------------------------------------------------------------------
    def _state(self, status: SourceStatus, now: float, **frame_info: object) -> SourceState:
        retry_at = None if self._source is not None or self._attempt is not None else self._next_attempt_at
        reason = "ok" if status is SourceStatus.OK else self._reason
        if retry_at is not None and retry_at == -float("inf"):
            retry_at = now
        return SourceState(status, reason, self._failures, retry_at, **frame_info)  # type: ignore[arg-type]

    def _start_attempt(self) -> None:
        self.attempts_started += 1
        retiring, self._retiring = self._retiring, []
        attempt = _Attempt(self._open_source, retiring)
        self._attempt = attempt
        attempt.start()

    def _collect(self, now: float) -> None:
        attempt = self._attempt
        if attempt is None or not attempt.done.is_set():
            return
        self._attempt = None
        if attempt.source is not None:
            self._source = attempt.source
            self._ever_opened = True
            self._healthy_since = None
            self._reason = ""
            log.info("camera available")
            return
        self._failures += 1
        self._reason = attempt.error
        self._next_attempt_at = now + self.delay_after(self._failures)
        log.warning("camera unavailable: %s; retrying in %.1f s", attempt.error, self._next_attempt_at - now)

    def _retire(self, source: LiveSource, reason: str, now: float) -> None:
        self._source = None
        self._healthy_since = None
        self._failures += 1
        self._reason = reason
        self._next_attempt_at = now + self.delay_after(self._failures)
        log.warning("camera unavailable: %s; retrying in %.1f s", reason, self._next_attempt_at - now)
        closer = threading.Thread(target=source.close, name="camera-close", daemon=True)
        closer.start()
        self._retiring.append(closer)


class _Attempt:
    """One open attempt on a helper thread: waits for retired sources to close, then opens."""

    def __init__(self, open_source: Callable[[], LiveSource], retiring: list[threading.Thread]) -> None:
        self._open_source = open_source
        self._retiring = retiring
        self.done = threading.Event()
        self.source: LiveSource | None = None
        self.error = ""
        self._lock = threading.Lock()
        self._cancelled = False

    def start(self) -> None:
        threading.Thread(target=self._run, name="camera-open", daemon=True).start()

    def cancel(self) -> LiveSource | None:
        """Stop caring about this attempt; returns the source if it already opened (the caller closes it)."""
        with self._lock:
            self._cancelled = True
            source, self.source = self.source, None
            return source

    def _run(self) -> None:
        try:
            for thread in self._retiring:
                thread.join(timeout=5.0)
            source = self._open_source()
            with self._lock:
                late = source if self._cancelled else None
                if late is None:
                    self.source = source
            if late is not None:
                late.close()
        except EmojiCamError as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any driver failure means "unavailable, retry", with the reason
            log.exception("opening the camera failed unexpectedly")
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()
