"""Helpers for the analytics tests: a clip with a real face made from the bundled fixture, report comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
from conftest import FIXTURES


def fixture_clip(path: Path, frames: int = 30, fps: float = 10.0) -> Path:
    """A short video of the bundled astronaut photo drifting to the right (a real face, no ../shared needed)."""
    face = cv2.imread(str(FIXTURES / "astronaut_256.jpg"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 256))
    for i in range(frames):
        frame = np.full((256, 320, 3), 90, np.uint8)
        frame[:, i:i + 256] = face
        writer.write(frame)
    writer.release()
    return path


def report_data(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def without_timings(data: dict) -> dict:
    data = json.loads(json.dumps(data))
    for f in data["files"]:
        f.pop("analysis_s", None)
    return data
