"""What the output shows when no face is tracked (``privacy.hide_when_no_face``).

The emoji covers a face only where a face is found. When detection misses (a turn of the head, poor light, a hand
in front of the face) the camera picture would go out as it is: the real face, in the meeting. With the setting on,
the live engine sends such a frame through :func:`hide_picture` instead, from the first frame without a tracked
face: a picture blurred down to a few dozen blocks across, dimmed, with a caption. The meeting sees that someone is
there, not who or what they are doing.

Pure functions on BGR uint8 frames; the engine decides when (vcam_emoji/engine.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from .types import check_frame

HIDDEN_CAPTION = "No face found - picture hidden"
BLOCKS_ACROSS = 24  # the hidden picture keeps no detail finer than 1/24 of the frame's width
DIM = 0.55  # how much of the blurred picture stays; the rest is the placeholder background colour
TINT_BGR = (40, 34, 30)  # the background of the "Camera unavailable" and "Paused" pictures
TEXT_BGR = (235, 235, 235)


def hide_picture(frame_bgr: np.ndarray, caption: str = HIDDEN_CAPTION) -> np.ndarray:
    """A new frame of the same size: ``frame_bgr`` blurred beyond recognition, dimmed, with ``caption``.

    Never the input itself, and never equal to it: the caption and the dimming always change some pixels.
    """
    check_frame(frame_bgr)
    h, w = frame_bgr.shape[:2]
    small_w = max(1, min(w, BLOCKS_ACROSS))
    small_h = max(1, min(h, round(small_w * h / w)))
    small = cv2.resize(frame_bgr, (small_w, small_h), interpolation=cv2.INTER_AREA)
    tint = np.array(TINT_BGR, np.float32)
    small = (small.astype(np.float32) * DIM + tint * (1.0 - DIM)).round().astype(np.uint8)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    _caption(out, caption)
    if np.array_equal(out, frame_bgr):  # only a frame that already is such a picture (or too small for text)
        out[h // 2, w // 2] = 255 - out[h // 2, w // 2]
    return out


def _caption(frame: np.ndarray, text: str) -> None:
    h, w = frame.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = max(0.3, min(w, h) / 720.0)
    thickness = max(1, round(scale * 2))
    (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    if tw > w * 0.9:
        scale *= w * 0.9 / tw
        (tw, th), baseline = cv2.getTextSize(text, font, scale, thickness)
    x, y = (w - tw) // 2, int(h * 0.85)
    cv2.putText(frame, text, (x, y), font, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(frame, text, (x, y), font, scale, TEXT_BGR, thickness, cv2.LINE_AA)
