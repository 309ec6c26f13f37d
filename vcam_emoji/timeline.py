"""Emotion timeline: one JSON object per frame, for feedback analysis.

``render`` writes a new timeline through fileio's rule (temporary file, renamed at the end). A live session
(:func:`open_live_timeline`) appends to its file instead, line by line, so what was recorded survives a kill and the
config's ``timeline.path`` can gather many sessions: existing lines are never rewritten, and a file that is not a
timeline, or that is an input or another output of the same run, is refused.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from .errors import OutputError
from .fileio import PathLike, check_output
from .types import FrameResult

PROBE_BYTES = 1 << 16  # how much of an existing file is read to tell whether it is a timeline


def _number(value: float, digits: int) -> float | None:
    """A rounded float, or None (JSON null) for NaN and infinities, which JSON cannot hold."""
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def frame_record(result: FrameResult) -> dict[str, Any]:
    """The timeline line for one frame. ``emotion`` is what was drawn; ``probs`` is this frame's model output,
    ``smoothed`` the probabilities after temporal smoothing; ``landmarks`` (eyes first) give the head roll. A value
    that is not a finite number is written as null."""
    return {
        "frame": result.index,
        "t": _number(result.t_seconds, 4),
        "faces": [
            {
                "track_id": r.face.track_id,
                "box_xyxy": [_number(v, 1) for v in r.face.box_xyxy],
                "score": _number(r.face.score, 4),
                "landmarks": [[_number(x, 1), _number(y, 1)] for x, y in r.face.landmarks],
                "probs": [_number(v, 4) for v in r.probs],
                "smoothed": [_number(v, 4) for v in r.smoothed],
                "emotion": r.emotion.label,
            }
            for r in result.faces
        ],
    }


class TimelineWriter:
    """Writes JSON lines to an open text stream (the caller owns the file and how it is committed)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, result: FrameResult) -> None:
        self._stream.write(json.dumps(frame_record(result), separators=(",", ":"), allow_nan=False) + "\n")


def _check_is_timeline(path: Path) -> bool:
    """For an existing file: raise unless it is empty or starts with a timeline line; True if it lacks a final
    newline (a session cut short mid-line)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(PROBE_BYTES)
            if not head:
                return False
            handle.seek(-1, os.SEEK_END)
            unfinished = handle.read(1) != b"\n"
    except OSError as exc:
        raise OutputError(f"{path}: cannot read it to append the timeline ({exc.strerror}); choose another "
                          "file") from None
    first = head.split(b"\n", 1)[0]
    try:
        record = json.loads(first.decode("utf-8"))
        ok = isinstance(record, dict) and "frame" in record and "faces" in record
    except (UnicodeDecodeError, ValueError):
        ok = False
    if not ok:
        raise OutputError(f"{path}: exists and is not an emotion timeline (JSON lines), so it is left alone; give "
                          "the timeline a new name or the name of an earlier timeline to add to it")
    return unfinished


def open_live_timeline(path: PathLike, *, inputs: Iterable[PathLike | None] = (),
                       outputs: Iterable[PathLike | None] = ()) -> tuple[TimelineWriter, IO[str]]:
    """Open ``path`` to append one line per frame (created if missing). Returns the writer and the stream, which the
    caller closes. Raises OutputError for a folder, a device, an input or output of the same run, or a file that
    is not a timeline."""
    path = check_output(Path(path).expanduser(), inputs=inputs, outputs=outputs, replace=True, what="timeline")
    unfinished = path.exists() and _check_is_timeline(path)
    try:
        stream = open(path, "a", encoding="utf-8", buffering=1)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the timeline ({exc.strerror}); check timeline.path") from None
    if unfinished:
        stream.write("\n")  # the last session was cut mid-line: start ours on a line of its own
    return TimelineWriter(stream), stream
