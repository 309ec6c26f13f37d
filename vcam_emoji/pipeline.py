"""The pipeline: detect -> track -> classify -> smooth -> compose, for one frame at a time.

Pure given its stages: no threads, no I/O, no clock of its own (the caller passes each frame's time), so the same
object renders a recorded video and serves the live camera.
"""

from __future__ import annotations

import time
from typing import Callable, Protocol, Sequence

import numpy as np

from .classify_schedule import ClassifySchedule
from .smooth import ExpressionSmoother
from .track import Tracker
from .types import Detections, Expression, FaceResult, FrameResult, TrackedFace, check_frame


class Detector(Protocol):
    def __call__(self, frame_bgr: np.ndarray) -> Detections: ...


class Classifier(Protocol):
    def __call__(self, frame_bgr: np.ndarray, faces: Sequence[TrackedFace]) -> np.ndarray: ...


class Compositor(Protocol):
    def compose(self, frame_bgr: np.ndarray, faces: Sequence[tuple[TrackedFace, Expression]], pack: object) -> np.ndarray:
        ...


class Pipeline:
    """``process(frame, t_seconds) -> (frame_with_emojis, FrameResult)``.

    ``detect_every`` > 1 runs the detector on every Nth frame only; the tracker carries faces in between.
    ``schedule`` decides which faces are classified in each frame (default: every face, every frame); the others keep
    their last classification and shown emoji. ``pack`` may be swapped at any time with ``set_pack``;
    ``smoother.configure`` and ``schedule.configure`` change smoothing and the classification rate live.
    """

    def __init__(
        self,
        detector: Detector,
        classifier: Classifier,
        compositor: Compositor,
        pack: object,
        tracker: Tracker | None = None,
        smoother: ExpressionSmoother | None = None,
        detect_every: int = 1,
        schedule: ClassifySchedule | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"detect_every must be >= 1, got {detect_every}")
        self.detector = detector
        self.classifier = classifier
        self.compositor = compositor
        self.pack = pack
        self.tracker = tracker or Tracker()
        self.smoother = smoother or ExpressionSmoother()
        self.detect_every = detect_every
        self.schedule = schedule or ClassifySchedule(rate_hz=0)
        self._clock = clock
        self._index = 0

    def set_pack(self, pack: object) -> None:
        self.pack = pack

    def reset(self) -> None:
        """Forget every face (after a cut, a pause, or a camera switch)."""
        self.tracker.reset()
        self.smoother.forget(set())
        self.schedule.forget(set())

    def process(self, frame_bgr: np.ndarray, t_seconds: float) -> tuple[np.ndarray, FrameResult]:
        check_frame(frame_bgr)
        ms: dict[str, float] = {}
        tick = self._clock()

        def lap(stage: str) -> None:
            nonlocal tick
            now = self._clock()
            ms[stage] = (now - tick) * 1000.0
            tick = now

        detections = self.detector(frame_bgr) if self._index % self.detect_every == 0 else None
        lap("detect")
        faces = self.tracker.update(detections, t_seconds)
        self.smoother.forget(self.tracker.active_ids)
        self.schedule.forget(self.tracker.active_ids)
        lap("track")
        due = self.schedule.due([f.track_id for f in faces], t_seconds) if faces else []
        probs = self.classifier(frame_bgr, [faces[i] for i in due]) if due else np.zeros((0, 7), np.float32)
        fresh = dict(zip(due, probs))
        lap("classify")
        results = []
        for i, face in enumerate(faces):
            state = None if i in fresh else self.smoother.current(face.track_id)
            if state is None:  # classified in this frame (a face is always classified in its first frame)
                p = fresh[i] if i in fresh else self.classifier(frame_bgr, [face])[0]
                smoothed, shown = self.smoother.update(face.track_id, p, t_seconds)
                results.append(FaceResult(face, p, smoothed, shown))
            else:
                p, smoothed, shown = state
                results.append(FaceResult(face, p, smoothed, shown, classified=False))
        lap("smooth")
        out = self.compositor.compose(frame_bgr.copy(), [(r.face, r.emotion) for r in results], self.pack)
        lap("compose")
        result = FrameResult(self._index, t_seconds, tuple(results), ms)
        self._index += 1
        return out, result
