"""Typed values passed between the stages: source -> detect -> track -> classify -> smooth -> compose -> sink.

Frames are BGR uint8 arrays of shape (H, W, 3) everywhere inside the engine. Boxes are ``xyxy`` in pixels of the
frame they came from. Landmarks are ``(K, 2)`` pixel coordinates; index 0 and 1 are always the two eye centres,
the one further left in the image first; further points depend on the detector (see ``models/MODELS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np


class Expression(IntEnum):
    """The 7 FER-2013 classes, in FER-2013 label order."""

    ANGRY = 0
    DISGUST = 1
    FEAR = 2
    HAPPY = 3
    SAD = 4
    SURPRISE = 5
    NEUTRAL = 6

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> "Expression":
        try:
            return cls[label.strip().upper()]
        except KeyError:
            allowed = ", ".join(EXPRESSION_LABELS)
            raise ValueError(f"unknown expression {label!r}; expected one of: {allowed}") from None


EXPRESSION_LABELS: tuple[str, ...] = tuple(e.label for e in Expression)
NUM_EXPRESSIONS = len(EXPRESSION_LABELS)


def check_frame(frame: object, name: str = "frame") -> np.ndarray:
    """Return ``frame`` if it is a BGR uint8 (H, W, 3) array, else raise ValueError saying what it is."""
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{name}: expected a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name}: expected uint8 array of shape (H, W, 3), got {frame.dtype} {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"{name}: expected a non-empty frame, got shape {frame.shape}")
    return frame


@dataclass(frozen=True)
class Detections:
    """Faces found in one frame, as a struct of arrays (N faces, K landmarks each)."""

    xyxy: np.ndarray  # (N, 4) float32, pixels
    scores: np.ndarray  # (N,) float32 in [0, 1]
    landmarks: np.ndarray  # (N, K, 2) float32, pixels

    def __post_init__(self) -> None:
        n = self.xyxy.shape[0] if self.xyxy.ndim == 2 else -1
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy: expected shape (N, 4), got {self.xyxy.shape}")
        if self.scores.shape != (n,):
            raise ValueError(f"scores: expected shape ({n},), got {self.scores.shape}")
        if self.landmarks.ndim != 3 or self.landmarks.shape[0] != n or self.landmarks.shape[2] != 2:
            raise ValueError(f"landmarks: expected shape ({n}, K, 2), got {self.landmarks.shape}")

    @classmethod
    def empty(cls, num_landmarks: int = 5) -> "Detections":
        return cls(
            xyxy=np.zeros((0, 4), np.float32),
            scores=np.zeros((0,), np.float32),
            landmarks=np.zeros((0, num_landmarks, 2), np.float32),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def __getitem__(self, index: object) -> "Detections":
        idx = np.atleast_1d(np.arange(len(self))[index])  # type: ignore[index]
        return Detections(self.xyxy[idx], self.scores[idx], self.landmarks[idx])


@dataclass(frozen=True)
class TrackedFace:
    """One face with an identity that stays the same from frame to frame."""

    track_id: int
    box_xyxy: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray  # (K, 2) float32, pixels

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        (lx, ly), (rx, ry) = self.landmarks[0], self.landmarks[1]
        return (float(lx), float(ly)), (float(rx), float(ry))

    @property
    def roll_degrees(self) -> float:
        """Head roll: the angle of the line between the eyes, positive when the image-right eye is lower."""
        (lx, ly), (rx, ry) = self.eyes
        return float(np.degrees(np.arctan2(ry - ly, rx - lx)))


@dataclass(frozen=True)
class FaceResult:
    """What the pipeline decided for one face in one frame."""

    face: TrackedFace
    probs: np.ndarray  # (7,) float32, classifier output for this frame, FER order
    smoothed: np.ndarray  # (7,) float32, after temporal smoothing
    emotion: Expression  # what is drawn (after smoothing and hysteresis)
    classified: bool = True  # False: not classified in this frame (classifier.rate_hz); probs is the last output


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline decided for one frame."""

    index: int
    t_seconds: float
    faces: tuple[FaceResult, ...] = field(default_factory=tuple)
    stage_ms: dict[str, float] = field(default_factory=dict)
