"""An in-memory engine for the Studio's API tests: the commands it got, frames pushed by the test."""

from __future__ import annotations

import threading

import numpy as np

from vcam_emoji.config import Config
from vcam_emoji.engine import EngineStatus
from vcam_emoji.types import Expression, FaceResult, FrameResult, TrackedFace


class FakeEngine:
    def __init__(self, config: Config | None = None, size_wh: tuple[int, int] = (64, 48)) -> None:
        self.config = config or Config()
        self.size_wh = size_wh
        self.commands: list = []
        self.state = "running"
        self.pack = self.config.pack.name
        self.result: FrameResult | None = None
        self._listeners: list = []
        self._lock = threading.Lock()

    # --- what the Studio calls
    def status(self) -> EngineStatus:
        faces = self.result.faces if self.result is not None else ()
        return EngineStatus(state=self.state, source="fake camera", sink="memory", demo=False, pack=self.pack,
                            mirror=self.config.camera.mirror, fps=29.5, latency_ms_p50=12.0, latency_ms_p99=20.0,
                            faces=len(faces), main_emotion=faces[0].emotion if faces else None, frames=100,
                            problem="", detector="fake-detector", classifier="fake-classifier", providers=("CPU",))

    def last_result(self) -> FrameResult | None:
        return self.result

    def add_frame_listener(self, listener):
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def pause(self) -> None:
        self.commands.append("pause")
        self.state = "paused"

    def resume(self) -> None:
        self.commands.append("resume")
        self.state = "running"

    def apply_config(self, config: Config) -> None:
        self.commands.append(("apply", config))
        self.config = config
        self.pack = config.pack.name

    # --- what the test does
    @property
    def listeners(self) -> list:
        with self._lock:
            return list(self._listeners)

    def emit(self, frame: np.ndarray, result: FrameResult | None = None) -> None:
        for listener in self.listeners:
            listener(frame, result)


def face_result(track_id: int = 1, emotion: Expression = Expression.HAPPY, index: int = 0) -> FrameResult:
    probs = np.full(7, 0.02, np.float32)
    probs[int(emotion)] = 0.88
    face = TrackedFace(track_id, (10.0, 8.0, 40.0, 38.0), 0.97, np.array([[18, 18], [32, 18]], np.float32))
    return FrameResult(index, index / 30, (FaceResult(face, probs, probs, emotion),))
