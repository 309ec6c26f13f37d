"""Emotion timeline: one JSON object per frame, for feedback analysis."""

from __future__ import annotations

import json
from typing import IO, Any

from .types import FrameResult


def frame_record(result: FrameResult) -> dict[str, Any]:
    """The timeline line for one frame. ``emotion`` is what was drawn; ``probs`` is this frame's model output,
    ``smoothed`` the probabilities after temporal smoothing; ``landmarks`` (eyes first) give the head roll."""
    return {
        "frame": result.index,
        "t": round(result.t_seconds, 4),
        "faces": [
            {
                "track_id": r.face.track_id,
                "box_xyxy": [round(float(v), 1) for v in r.face.box_xyxy],
                "score": round(float(r.face.score), 4),
                "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in r.face.landmarks],
                "probs": [round(float(v), 4) for v in r.probs],
                "smoothed": [round(float(v), 4) for v in r.smoothed],
                "emotion": r.emotion.label,
            }
            for r in result.faces
        ],
    }


class TimelineWriter:
    """Writes JSON lines to an open text stream (the caller owns the file and its atomic rename)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, result: FrameResult) -> None:
        self._stream.write(json.dumps(frame_record(result), separators=(",", ":")) + "\n")
