"""The frame shown instead of the camera: "Camera unavailable", "Paused", ... on a dark background.

Frames are cached per (size, text) on the function (an LRU cache, not a module-level dict), and returned read-only:
copy before drawing on one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

BACKGROUND_BGR = (40, 34, 30)
TEXT_BGR = (235, 235, 235)
SUBTLE_BGR = (170, 170, 170)


def placeholder_frame(
    size_wh: tuple[int, int], text_lines: Sequence[str] | str = ("Camera unavailable",)
) -> np.ndarray:
    """A BGR uint8 (H, W, 3) frame with ``text_lines`` centred; the first line large, the others smaller."""
    w, h = int(size_wh[0]), int(size_wh[1])
    if w < 1 or h < 1:
        raise ValueError(f"size_wh: expected positive (width, height), got {size_wh}")
    lines = (text_lines,) if isinstance(text_lines, str) else tuple(str(line) for line in text_lines)
    return _render(w, h, lines)


@lru_cache(maxsize=32)
def _render(w: int, h: int, lines: tuple[str, ...]) -> np.ndarray:
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = BACKGROUND_BGR
    font = cv2.FONT_HERSHEY_SIMPLEX
    base_scale = max(0.35, min(w, h) / 480.0)
    layout = []
    for i, line in enumerate(lines):
        scale = base_scale * (1.0 if i == 0 else 0.6)
        thickness = max(1, round(scale * (2 if i == 0 else 1.5)))
        # Shrink lines that would not fit the width (long error reasons).
        (tw, th), baseline = cv2.getTextSize(line, font, scale, thickness)
        if tw > w * 0.92 and tw > 0:
            scale *= (w * 0.92) / tw
            (tw, th), baseline = cv2.getTextSize(line, font, scale, thickness)
        layout.append((line, scale, thickness, tw, th, baseline, TEXT_BGR if i == 0 else SUBTLE_BGR))
    gap = max(4, int(h * 0.03))
    total = sum(th + baseline for _, _, _, _, th, baseline, _ in layout) + gap * max(0, len(layout) - 1)
    y = (h - total) // 2
    for line, scale, thickness, tw, th, baseline, colour in layout:
        y += th
        cv2.putText(frame, line, ((w - tw) // 2, y), font, scale, colour, thickness, cv2.LINE_AA)
        y += baseline + gap
    frame.setflags(write=False)
    return frame
