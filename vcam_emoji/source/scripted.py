"""An in-memory stand-in for ``cv2.VideoCapture``, driven by a script, for testing camera and reconnect logic.

A :class:`ScriptedCamera` is the physical device. It is also a capture factory with the same call shape as the one
:class:`~vcam_emoji.source.camera.CameraSource` uses (``factory(device, api_preference) -> capture``), so every
(re)open gets a fresh :class:`ScriptedCapture` on the same device. The script is a list of steps consumed by reads::

    cam = ScriptedCamera([Frames(5), Black(10), Vanish(3.0), Frames()], clock=clock)

- ``Frames(n)`` - the next n reads give frames (``Frames()`` = forever); frame k carries its number, see
  :func:`frame_number`.
- ``Black(n)`` - the next n reads give all-black frames.
- ``Vanish(seconds)`` - the device is unplugged: the open capture dies (read fails, ``isOpened()`` is False) and opens
  fail until ``seconds`` of the injected clock have passed; then the script continues on a newly opened capture.
- ``Busy(seconds)`` - like Vanish, but the device still exists: another app holds it.

When the script is exhausted a read waits briefly (real time) for :meth:`ScriptedCamera.push` and then fails, as a
camera that delivers nothing would. Time never advances by itself: pass a :class:`ManualClock` and advance it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

# The only cv2 property ids the scripted capture understands (same values as in cv2).
CAP_PROP_FRAME_WIDTH = 3
CAP_PROP_FRAME_HEIGHT = 4
CAP_PROP_FPS = 5
CAP_PROP_FOURCC = 6


class ManualClock:
    """A clock that only moves when told to; call it to read the time in seconds."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"seconds: expected >= 0, got {seconds}")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        with self._lock:
            self._now = float(now)


@dataclass(frozen=True)
class Frames:
    count: int | None = None  # None: forever

    def __post_init__(self) -> None:
        if self.count is not None and self.count < 1:
            raise ValueError(f"Frames.count: expected >= 1 or None (forever), got {self.count}")


@dataclass(frozen=True)
class Black:
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"Black.count: expected >= 1, got {self.count}")


@dataclass(frozen=True)
class Vanish:
    seconds: float


@dataclass(frozen=True)
class Busy:
    seconds: float


Step = Frames | Black | Vanish | Busy


def make_frame(number: int, size_wh: tuple[int, int]) -> np.ndarray:
    """A recognisable BGR frame: grey, with ``number`` written into pixel (0, 0) (low byte, high byte)."""
    w, h = size_wh
    frame = np.full((h, w, 3), 128, np.uint8)
    frame[0, 0] = (number & 0xFF, (number >> 8) & 0xFF, 255)
    return frame


def frame_number(frame: np.ndarray) -> int:
    """The number :func:`make_frame` wrote into ``frame``."""
    return int(frame[0, 0, 0]) | (int(frame[0, 0, 1]) << 8)


class ScriptedCamera:
    """A scripted physical camera; call it like a capture factory to open it."""

    def __init__(
        self,
        steps: Iterable[Step] = (Frames(),),
        *,
        size_wh: tuple[int, int] = (64, 48),
        fps: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        read_pause_s: float = 0.002,
        idle_wait_s: float = 0.02,
        accepts_size: bool = True,
    ) -> None:
        self.size_wh = (int(size_wh[0]), int(size_wh[1]))
        self.fps = float(fps)
        self.clock = clock
        self.read_pause_s = read_pause_s  # real sleep per frame so an endless script does not spin a core
        self.idle_wait_s = idle_wait_s
        self.accepts_size = accepts_size  # False: width/height requests are ignored, like many webcams
        self._steps: deque[Step] = deque(steps)
        self._cond = threading.Condition()
        self._unavailable_until = -float("inf")
        self._unavailable_kind = ""
        self._generation = 0  # bumped when the device vanishes: older captures are dead
        self._frames_made = 0
        self._idle_readers = 0
        self.open_calls: list[tuple[object, int]] = []
        self.captures: list[ScriptedCapture] = []
        with self._cond:
            self._apply_leading_outages()

    # --- test controls -------------------------------------------------------------------------------------------
    def push(self, *steps: Step) -> None:
        """Append steps to the script (wakes a reader waiting for more)."""
        with self._cond:
            self._steps.extend(steps)
            self._cond.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait (real time) until the script is used up and a reader is waiting for more; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._steps or self._idle_readers == 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def frames_made(self) -> int:
        return self._frames_made

    @property
    def pending_steps(self) -> int:
        with self._cond:
            return len(self._steps)

    # --- factory ----------------------------------------------------------------------------------------------------
    def __call__(self, device: object, api_preference: int = 0) -> "ScriptedCapture":
        with self._cond:
            self.open_calls.append((device, api_preference))
            self._apply_leading_outages()
            available = self.clock() >= self._unavailable_until
            capture = ScriptedCapture(self, self._generation, opened=available)
            self.captures.append(capture)
            return capture

    # --- used by ScriptedCapture --------------------------------------------------------------------------------------
    def _apply_leading_outages(self) -> None:
        """An outage step at the head of the script takes effect at once (also before the first open)."""
        while self._steps and isinstance(self._steps[0], (Vanish, Busy)):
            self._start_outage(self._steps.popleft())

    def _start_outage(self, step: Vanish | Busy) -> None:
        self._unavailable_until = self.clock() + step.seconds
        self._unavailable_kind = "vanished" if isinstance(step, Vanish) else "busy"
        self._generation += 1
        self._cond.notify_all()

    def _next_read(self, capture: "ScriptedCapture") -> tuple[bool, np.ndarray | None]:
        with self._cond:
            if capture.generation != self._generation or not capture.opened:
                capture.opened = False
                return False, None
            if not self._steps:
                self._idle_readers += 1
                self._cond.notify_all()
                self._cond.wait(self.idle_wait_s)
                self._idle_readers -= 1
                if not self._steps:
                    return False, None
            step = self._steps[0]
            if isinstance(step, (Vanish, Busy)):
                self._steps.popleft()
                self._start_outage(step)
                capture.opened = False
                return False, None
            if isinstance(step, Frames):
                if step.count is not None:
                    self._advance(step.count)
                self._frames_made += 1
                frame = make_frame(self._frames_made, capture.size_wh)
            else:
                self._advance(step.count)
                w, h = capture.size_wh
                frame = np.zeros((h, w, 3), np.uint8)
            self._cond.notify_all()
        if self.read_pause_s > 0:
            time.sleep(self.read_pause_s)
        return True, frame

    def _advance(self, count: int) -> None:
        """Consume one read from the head step of ``count`` reads (caller holds the lock)."""
        head = self._steps.popleft()
        if count > 1:
            self._steps.appendleft(type(head)(count - 1))


class ScriptedCapture:
    """The cv2.VideoCapture-like handle returned by :class:`ScriptedCamera` (isOpened/read/set/get/release)."""

    def __init__(self, camera: ScriptedCamera, generation: int, opened: bool) -> None:
        self._camera = camera
        self.generation = generation
        self.opened = opened
        self.released = False
        self.size_wh = camera.size_wh
        self.props: dict[int, float] = {CAP_PROP_FPS: camera.fps}
        self.read_count = 0
        self.set_calls: list[tuple[int, float]] = []

    def isOpened(self) -> bool:  # noqa: N802 - cv2's name
        return self.opened and not self.released

    def read(self) -> tuple[bool, np.ndarray | None]:
        self.read_count += 1
        if self.released:
            return False, None
        return self._camera._next_read(self)

    def set(self, prop: int, value: float) -> bool:
        if not self.isOpened():
            return False
        self.set_calls.append((int(prop), float(value)))
        self.props[int(prop)] = float(value)
        if self._camera.accepts_size and prop in (CAP_PROP_FRAME_WIDTH, CAP_PROP_FRAME_HEIGHT):
            w, h = self.size_wh
            self.size_wh = (int(value), h) if prop == CAP_PROP_FRAME_WIDTH else (w, int(value))
        return True

    def get(self, prop: int) -> float:
        if prop == CAP_PROP_FRAME_WIDTH:
            return float(self.size_wh[0])
        if prop == CAP_PROP_FRAME_HEIGHT:
            return float(self.size_wh[1])
        return self.props.get(int(prop), 0.0)

    def release(self) -> None:
        self.released = True
