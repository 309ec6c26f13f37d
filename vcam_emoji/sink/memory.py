"""A sink that keeps frames in memory, with timestamps: for tests and for tools that inspect the output."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import DeviceError
from ..types import check_frame


@dataclass(frozen=True)
class SentFrame:
    frame: np.ndarray  # a copy of what was sent
    t: float  # clock time of send()
    number: int  # 1, 2, ... counts every frame sent, including ones no longer kept


class MemorySink:
    """Keeps every frame, or only the last ``max_frames``. Checks each frame's type and (if given) its size."""

    def __init__(
        self,
        size_wh: tuple[int, int] | None = None,
        fps: float = 30.0,
        *,
        max_frames: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames: expected >= 1 or None (keep all), got {max_frames}")
        self.size_wh = None if size_wh is None else (int(size_wh[0]), int(size_wh[1]))
        self.fps = float(fps)
        self._clock = clock
        self._kept: deque[SentFrame] = deque(maxlen=max_frames)
        self._lock = threading.Lock()
        self.count = 0
        self.closed = False

    def send(self, frame: np.ndarray) -> None:
        check_frame(frame)
        if self.size_wh is not None and (frame.shape[1], frame.shape[0]) != self.size_wh:
            w, h = self.size_wh
            raise ValueError(f"frame: expected shape ({h}, {w}, 3), got {frame.shape}")
        with self._lock:
            if self.closed:
                raise DeviceError("the memory sink was closed")
            self.count += 1
            self._kept.append(SentFrame(frame.copy(), self._clock(), self.count))

    def close(self) -> None:
        with self._lock:
            self.closed = True

    def __enter__(self) -> "MemorySink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sent(self) -> list[SentFrame]:
        with self._lock:
            return list(self._kept)

    @property
    def frames(self) -> list[np.ndarray]:
        return [s.frame for s in self.sent]

    @property
    def timestamps(self) -> list[float]:
        return [s.t for s in self.sent]

    @property
    def last(self) -> np.ndarray | None:
        with self._lock:
            return self._kept[-1].frame if self._kept else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
