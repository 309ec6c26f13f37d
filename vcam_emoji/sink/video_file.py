"""Writes frames to a video file with OpenCV."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ..errors import OutputError

log = logging.getLogger(__name__)

FOURCC_BY_SUFFIX = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "XVID"}


class VideoFileSink:
    """``send`` appends a BGR frame of exactly ``size_wh``; ``close`` finishes the file (idempotent)."""

    def __init__(self, path: str | Path, size_wh: tuple[int, int], fps: float, suffix: str | None = None) -> None:
        self.path = Path(path)
        self.size_wh = (int(size_wh[0]), int(size_wh[1]))
        suffix = (suffix or self.path.suffix).lower()
        if suffix not in FOURCC_BY_SUFFIX:
            allowed = ", ".join(sorted(FOURCC_BY_SUFFIX))
            raise OutputError(f"{self.path}: cannot write {suffix or 'files without an extension'}; use one of {allowed}")
        fourcc = cv2.VideoWriter_fourcc(*FOURCC_BY_SUFFIX[suffix])
        self._writer = cv2.VideoWriter(str(self.path), fourcc, float(fps), self.size_wh)
        if not self._writer.isOpened():
            raise OutputError(f"{self.path}: OpenCV could not open a {suffix} video writer here "
                              "(is the folder writable?)")
        self.frames_written = 0

    def send(self, frame: np.ndarray) -> None:
        if self._writer is None:
            raise OutputError(f"{self.path}: the video file is already closed")
        h, w = frame.shape[:2]
        if (w, h) != self.size_wh:
            raise ValueError(f"frame size {w}x{h} does not match the video size {self.size_wh[0]}x{self.size_wh[1]}")
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoFileSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
