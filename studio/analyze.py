"""``POST /api/v1/analyze``: the faces in one uploaded image, with their boxes, probabilities and expression.

The engine's own pipeline belongs to the engine thread, so the analyzer builds its own (the render pipeline: the
detector that favours recall), from the current settings, once, and again only when the model settings change.
Calls are serialised: one image at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from vcam_emoji.app import build_pipeline
from vcam_emoji.config import Config
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.types import EXPRESSION_LABELS, Expression

from .limits import ApiError, decode_image


def _probs(values: np.ndarray) -> dict[str, float]:
    return {label: round(float(p), 4) for label, p in zip(EXPRESSION_LABELS, values)}


class ImageAnalyzer:
    def __init__(self, current_config: Callable[[], Config],
                 pipeline_factory: Callable[[Config], tuple[object, object]] | None = None) -> None:
        self._current_config = current_config
        self._factory = pipeline_factory or (lambda cfg: build_pipeline(cfg, purpose="video"))
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._pipeline = None
        self._info = None

    def analyze(self, data: bytes) -> dict:
        frame = decode_image(data)
        config = self._current_config()
        key = (config.detector, config.classifier, config.runtime)
        with self._lock:
            if key != self._key:
                try:
                    self._pipeline, self._info = self._factory(config)
                except EmojiCamError as exc:
                    raise ApiError(503, f"cannot load the models: {exc}") from None
                self._key = key
            self._pipeline.reset()
            _, result = self._pipeline.process(frame, 0.0)
        faces = [{
            "box_xyxy": [round(float(v), 1) for v in r.face.box_xyxy],
            "score": round(float(r.face.score), 4),
            "probs": _probs(r.probs),
            "expression": Expression(int(np.argmax(r.probs))).label,
        } for r in result.faces]
        h, w = frame.shape[:2]
        return {"width": w, "height": h, "detector": self._info.detector, "classifier": self._info.classifier,
                "faces": faces}
