"""Clips and photos played in real time: the bundled demo (no camera needed), or a user's file as a live source.

``ClipInput.get`` returns the frame that is due at the current time (the clip loops), resized to the output size,
so the engine produces frames at its own target rate whatever the clip's frame rate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ..errors import InputError
from .image import is_image_path, load_image_bgr
from .video_file import VideoFileSource

DEMO_CLIP = Path(__file__).resolve().parents[1] / "demo" / "demo_one_face.mp4"


def fit_frame(frame: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Scale ``frame`` to cover ``size_wh`` keeping its aspect ratio, centre-cropping the excess."""
    w, h = size_wh
    fh, fw = frame.shape[:2]
    if (fw, fh) == (w, h):
        return frame
    scale = max(w / fw, h / fh)
    nw, nh = max(w, round(fw * scale)), max(h, round(fh * scale))
    resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
    x0, y0 = (nw - w) // 2, (nh - h) // 2
    return np.ascontiguousarray(resized[y0:y0 + h, x0:x0 + w])


class ClipInput:
    """A looping video (or a photo) shown in real time at ``size_wh``: the frame due now is decoded, then scaled."""

    paced_by_source = False

    def __init__(self, path: str | Path, size_wh: tuple[int, int], *, is_demo: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = Path(path)
        self.size_wh = size_wh
        self.is_demo = is_demo
        self._clock = clock
        self._video: VideoFileSource | None = None
        if is_image_path(self.path):
            self._current = fit_frame(load_image_bgr(self.path), size_wh)
            what = "photo"
        else:
            self._video = VideoFileSource(self.path, loop=True)
            self._current = fit_frame(self._video.read(), size_wh)
            what = f"{self._video.fps:g} fps video, looped"
        self._decoded = 1  # frames decoded so far (counting across loops)
        self._t0 = clock()
        self.description = f"{'demo clip' if is_demo else 'file'} {self.path.name} ({what})"

    def get(self, timeout: float = 0.0) -> tuple[np.ndarray | None, float, tuple[str, ...] | None]:
        now = self._clock()
        if self._video is not None:
            due = int((now - self._t0) * self._video.fps)
            latest = None
            while self._decoded <= due:
                frame = self._video.read()
                if frame is None:
                    raise InputError(f"{self.path}: the video stopped giving frames")
                self._decoded += 1
                latest = frame
            if latest is not None:
                self._current = fit_frame(latest, self.size_wh)
        return self._current, now, None

    def close(self) -> None:
        if self._video is not None:
            self._video.close()
