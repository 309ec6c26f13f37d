"""Helpers for tests that check what was drawn against the timeline."""

from __future__ import annotations

import numpy as np

from vcam_emoji.compose import EmojiCompositor
from vcam_emoji.types import Expression, TrackedFace


def face_from_record(record: dict) -> TrackedFace:
    return TrackedFace(record["track_id"], tuple(record["box_xyxy"]), record["score"],
                       np.array(record["landmarks"], np.float32))


def redraw_error(input_bgr, output_bgr, faces: list[dict], emotions: list[Expression], pack) -> float:
    drawn = EmojiCompositor().compose(input_bgr.copy(), [(face_from_record(f), e) for f, e in zip(faces, emotions)],
                                      pack)
    return float(np.mean(np.abs(drawn.astype(np.int16) - output_bgr.astype(np.int16))))


def assert_timeline_matches_drawing(input_bgr: np.ndarray, output_bgr: np.ndarray, faces: list[dict], pack) -> None:
    """Redrawing the timeline's emotions on the input reproduces the output better than any other emotion on any face."""
    told = [Expression[f["emotion"].upper()] for f in faces]
    best = redraw_error(input_bgr, output_bgr, faces, told, pack)
    for i in range(len(faces)):
        for other in Expression:
            if other == told[i]:
                continue
            changed = list(told)
            changed[i] = other
            alt = redraw_error(input_bgr, output_bgr, faces, changed, pack)
            assert best < alt, f"face {i}: timeline says {told[i].label}, but {other.label} redraws as well ({alt})"
