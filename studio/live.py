"""The live picture and the session record, fed by the engine's frame listeners.

:class:`FrameHub` subscribes to the engine only while at least one Live page (or ``live.jpg`` request) watches: with
nobody watching the engine has no listener and does no extra work. While someone watches, the listener only keeps a
reference to the newest frame (the engine never writes to a frame it has sent); the JPEG is encoded on the viewer's
thread, once per frame whatever the number of viewers, and a slow viewer skips frames instead of queueing them, so
the stream never runs faster than the engine (at most the camera's rate).

:class:`SessionRecorder` counts, per second of the session, which expression each face showed, for the Session
page's chart. It is a listener too (a few additions per frame).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from vcam_emoji.types import EXPRESSION_LABELS, NUM_EXPRESSIONS, FrameResult

JPEG_QUALITY = 80
MAX_VIEWERS = 8


class FrameSource(Protocol):
    """What the hub needs of the engine (vcam_emoji.engine.Engine has it)."""

    def add_frame_listener(self, listener: Callable[[np.ndarray, FrameResult | None], None]) -> Callable[[], None]:
        ...


class TooManyViewers(Exception):
    pass


class FrameHub:
    """The newest output frame as JPEG, for as many viewers as :data:`MAX_VIEWERS`."""

    def __init__(self, engine: FrameSource, *, quality: int = JPEG_QUALITY, max_viewers: int = MAX_VIEWERS) -> None:
        self._engine = engine
        self._quality = quality
        self._max_viewers = max_viewers
        self._cond = threading.Condition()
        self._encode_lock = threading.Lock()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] = (0, b"")
        self._viewers = 0
        self._remove: Callable[[], None] | None = None
        self._closed = False
        self.frames_seen = 0  # frames handed over by the engine since the start (for tests and the status)

    @property
    def viewers(self) -> int:
        with self._cond:
            return self._viewers

    @property
    def full(self) -> bool:
        with self._cond:
            return self._viewers >= self._max_viewers

    @property
    def closed(self) -> bool:
        return self._closed

    def watch(self) -> Callable[[], None]:
        """Start watching: from now on the engine hands its frames to the hub. Returns the function that stops
        watching (call it once). Raises TooManyViewers past the limit."""
        with self._cond:
            if self._viewers >= self._max_viewers:
                raise TooManyViewers(f"{self._viewers} live views are open already; close one")
            self._viewers += 1
            if self._viewers == 1:
                self._remove = self._engine.add_frame_listener(self._on_frame)
        done = threading.Event()

        def stop() -> None:
            if done.is_set():
                return
            done.set()
            with self._cond:
                self._viewers -= 1
                if self._viewers == 0 and self._remove is not None:
                    self._remove()
                    self._remove, self._frame = None, None  # a later viewer waits for a fresh frame

        return stop

    @contextmanager
    def watching(self) -> Iterator[None]:
        stop = self.watch()
        try:
            yield
        finally:
            stop()

    def _on_frame(self, frame: np.ndarray, result: FrameResult | None) -> None:  # the engine thread
        with self._cond:
            self._frame = frame
            self._seq += 1
            self.frames_seen += 1
            self._cond.notify_all()

    def next_jpeg(self, after: int, timeout: float) -> tuple[int, bytes] | None:
        """The first frame newer than number ``after`` as (its number, JPEG bytes); None after ``timeout`` seconds
        without one, or once the hub is closed. Call it inside :meth:`watching`."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or (self._frame is not None and self._seq > after),
                                       timeout):
                return None
            if self._closed:
                return None
            frame, seq = self._frame, self._seq
        with self._encode_lock:
            if self._jpeg[0] != seq:
                ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self._quality])
                if not ok:
                    return None
                self._jpeg = (seq, data.tobytes())
            return self._jpeg

    def close(self) -> None:
        """Wake every viewer so that its stream ends (the server is stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


@dataclass(frozen=True)
class SessionSnapshot:
    started_wall: float  # time.time() when the recording started
    seconds: float
    bin_s: float
    counts: list[list[int]]  # per bin, per expression (FER order): face-frames that showed it
    frames: list[int]  # per bin: frames processed
    totals: list[int]  # per expression, the whole session

    def to_json(self) -> dict:
        shown = sum(self.totals)
        return {
            "started_at": self.started_wall, "seconds": round(self.seconds, 2), "bin_seconds": self.bin_s,
            "labels": list(EXPRESSION_LABELS),
            "bins": [{"t": round(i * self.bin_s, 2), "frames": f, "counts": dict(zip(EXPRESSION_LABELS, c))}
                     for i, (c, f) in enumerate(zip(self.counts, self.frames))],
            "face_frames": shown, "frames": sum(self.frames),
            "shares": {label: (n / shown if shown else 0.0) for label, n in zip(EXPRESSION_LABELS, self.totals)},
        }


class SessionRecorder:
    """Counts the expression shown on each face, per time bin. Register it with ``engine.add_frame_listener``.

    The bins start at ``bin_s`` seconds; when there are more than ``max_bins`` two neighbours are merged and the bin
    doubles, so a long session keeps its whole history in bounded memory.
    """

    def __init__(self, *, bin_s: float = 1.0, max_bins: int = 600, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        if bin_s <= 0 or max_bins < 2:
            raise ValueError("bin_s must be > 0 and max_bins >= 2")
        self._clock = clock
        self._lock = threading.Lock()
        self._t0 = clock()
        self._wall0 = wall()
        self._bin_s = bin_s
        self._max_bins = max_bins
        self._counts: list[list[int]] = []
        self._frames: list[int] = []
        self._totals = [0] * NUM_EXPRESSIONS

    def __call__(self, frame: np.ndarray, result: FrameResult | None) -> None:  # the engine thread
        if result is None:
            return  # a placeholder: the camera was unavailable or paused
        t = self._clock() - self._t0
        with self._lock:
            index = int(t // self._bin_s)
            while index >= self._max_bins:
                self._halve()
                index = int(t // self._bin_s)
            while len(self._frames) <= index:
                self._counts.append([0] * NUM_EXPRESSIONS)
                self._frames.append(0)
            self._frames[index] += 1
            for face in result.faces:
                self._counts[index][int(face.emotion)] += 1
                self._totals[int(face.emotion)] += 1

    def _halve(self) -> None:
        counts, frames = self._counts, self._frames
        self._counts = [[a + b for a, b in zip(counts[i], counts[i + 1] if i + 1 < len(counts) else
                                               [0] * NUM_EXPRESSIONS)] for i in range(0, len(counts), 2)]
        self._frames = [frames[i] + (frames[i + 1] if i + 1 < len(frames) else 0) for i in range(0, len(frames), 2)]
        self._bin_s *= 2

    def snapshot(self) -> SessionSnapshot:
        with self._lock:
            return SessionSnapshot(self._wall0, self._clock() - self._t0, self._bin_s,
                                   [list(c) for c in self._counts], list(self._frames), list(self._totals))
