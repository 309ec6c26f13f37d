"""Tracking: give each face a stable id from frame to frame, and coast briefly over missed detections.

Greedy IoU matching is enough for faces in a webcam or a recorded clip: faces rarely cross, and a face that moves
further than its own width between two frames gets a new id, which only resets its smoothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import Detections, TrackedFace


def iou_matrix(a_xyxy: np.ndarray, b_xyxy: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b``: shape (len(a), len(b))."""
    if len(a_xyxy) == 0 or len(b_xyxy) == 0:
        return np.zeros((len(a_xyxy), len(b_xyxy)), np.float32)
    a = a_xyxy[:, None, :]
    b = b_xyxy[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


@dataclass
class _Track:
    track_id: int
    xyxy: np.ndarray
    score: float
    landmarks: np.ndarray
    last_seen_s: float

    def as_face(self) -> TrackedFace:
        x0, y0, x1, y1 = (float(v) for v in self.xyxy)
        return TrackedFace(self.track_id, (x0, y0, x1, y1), self.score, self.landmarks.copy())


class Tracker:
    """``update(detections, now_s)`` returns the faces to draw this frame, each with a stable ``track_id``.

    A track that misses detections keeps its last position for ``max_coast_ms`` (so a single missed detection does
    not make the emoji blink), then is dropped. ``box_smoothing`` in [0, 1) damps box jitter (0 = none).
    Call ``update(None, now_s)`` on frames where detection is skipped on purpose: tracks are returned unchanged.
    """

    def __init__(self, iou_threshold: float = 0.3, max_coast_ms: float = 300.0, box_smoothing: float = 0.3) -> None:
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if max_coast_ms < 0:
            raise ValueError(f"max_coast_ms must be >= 0, got {max_coast_ms}")
        if not 0.0 <= box_smoothing < 1.0:
            raise ValueError(f"box_smoothing must be in [0, 1), got {box_smoothing}")
        self.iou_threshold = iou_threshold
        self.max_coast_ms = max_coast_ms
        self.box_smoothing = box_smoothing
        self._tracks: list[_Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self._tracks = []

    @property
    def active_ids(self) -> set[int]:
        return {t.track_id for t in self._tracks}

    def update(self, detections: Detections | None, now_s: float) -> list[TrackedFace]:
        if detections is not None:
            self._match(detections, now_s)
        limit_s = self.max_coast_ms / 1000.0
        self._tracks = [t for t in self._tracks if now_s - t.last_seen_s <= limit_s]
        return [t.as_face() for t in sorted(self._tracks, key=lambda t: t.track_id)]

    def _match(self, detections: Detections, now_s: float) -> None:
        old = np.array([t.xyxy for t in self._tracks], np.float32).reshape(-1, 4)
        ious = iou_matrix(old, detections.xyxy)
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if ious.size:
            order = np.dstack(np.unravel_index(np.argsort(-ious, axis=None), ious.shape))[0]
            for ti, di in order:
                if ious[ti, di] < self.iou_threshold:
                    break
                if ti in matched_tracks or di in matched_dets:
                    continue
                matched_tracks.add(int(ti))
                matched_dets.add(int(di))
                self._follow(self._tracks[ti], detections, int(di), now_s)
        for di in range(len(detections)):
            if di not in matched_dets:
                self._tracks.append(
                    _Track(
                        self._next_id,
                        detections.xyxy[di].astype(np.float32).copy(),
                        float(detections.scores[di]),
                        detections.landmarks[di].astype(np.float32).copy(),
                        now_s,
                    )
                )
                self._next_id += 1

    def _follow(self, track: _Track, detections: Detections, di: int, now_s: float) -> None:
        k = self.box_smoothing
        track.xyxy = (k * track.xyxy + (1 - k) * detections.xyxy[di]).astype(np.float32)
        new_lm = detections.landmarks[di].astype(np.float32)
        if new_lm.shape == track.landmarks.shape:
            track.landmarks = (k * track.landmarks + (1 - k) * new_lm).astype(np.float32)
        else:
            track.landmarks = new_lm.copy()
        track.score = float(detections.scores[di])
        track.last_seen_s = now_s
