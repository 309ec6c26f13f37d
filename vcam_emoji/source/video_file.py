"""Frames from a recorded video (anything OpenCV reads; rotation metadata is honoured)."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

DEFAULT_FPS = 30.0


class VideoFileSource:
    """Reads a video file frame by frame. Raises InputError when the file is not a readable video with frames."""

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        self.path = Path(path)
        self.loop = loop
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file; check the path")
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise InputError(f"{self.path}: not a video OpenCV can read (unknown format or corrupt file)")
        self._cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        ok, first = self._cap.read()
        if not ok or first is None or first.size == 0:
            self._cap.release()
            raise InputError(f"{self.path}: the video has no frames that can be decoded")
        self._pending: np.ndarray | None = _to_bgr(first)
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not math.isfinite(fps) or fps <= 0 or fps > 1000:
            log.warning("%s: the file gives no usable frame rate (%r); assuming %.0f fps", self.path, fps, DEFAULT_FPS)
            fps = DEFAULT_FPS
        self._fps = fps
        h, w = self._pending.shape[:2]
        self._size_wh = (w, h)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count_hint = count if count > 0 else None

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size_wh(self) -> tuple[int, int]:
        return self._size_wh

    def read(self) -> np.ndarray | None:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        ok, frame = self._cap.read()
        if (not ok or frame is None) and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        return _to_bgr(frame)

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> "VideoFileSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames, and 16-bit ones, become BGR uint8."""
    if frame.dtype != np.uint8:
        frame = cv2.convertScaleAbs(frame, alpha=255.0 / max(1.0, float(np.iinfo(frame.dtype).max)))
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame
