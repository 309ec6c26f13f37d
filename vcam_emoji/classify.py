"""Classification: cut an aligned face crop and run the expression model on every face of a frame in one batch.

The crop follows the model's manifest: the face box grown by ``crop.margin`` on each side, rotated so the eyes are
level, converted to grey, resized to ``input.size_hw`` and normalised as ``(pixel - mean) / std``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from .errors import ModelError
from .resources import model_card
from .types import EXPRESSION_LABELS, NUM_EXPRESSIONS, TrackedFace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClassifierInput:
    """What the model expects, read from its manifest."""

    size_hw: tuple[int, int]
    mean: float
    std: float
    margin: float
    shift_y: float  # crop centre moved down by this fraction of the box side (negative = up), along the face
    outputs_logits: bool

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], source: str) -> "ClassifierInput":
        try:
            size_hw = tuple(int(v) for v in manifest["input"]["size_hw"])
            channels = int(manifest["input"].get("channels", 1))
            layout = manifest["input"].get("layout", "NCHW")
            color = manifest["preprocess"].get("color", "gray")
            mean = float(manifest["preprocess"]["mean"])
            std = float(manifest["preprocess"]["std"])
            margin = float(manifest.get("crop", {}).get("margin", 0.0))
            shift_y = float(manifest.get("crop", {}).get("shift_y", 0.0))
            classes = list(manifest["classes"])
            output = manifest.get("output", "probabilities")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{source}: classifier manifest is missing or has a bad field ({exc!r}); "
                             f"see the schema in {model_card()}") from None
        problems = []
        if len(size_hw) != 2 or min(size_hw) < 8:
            problems.append(f"input.size_hw = {size_hw!r} (expected [H, W], each >= 8)")
        if channels != 1 or color != "gray" or layout != "NCHW":
            problems.append(f"input {channels} channel(s), {color}, {layout} (only 1-channel gray NCHW is supported)")
        if std == 0:
            problems.append("preprocess.std = 0")
        if classes != list(EXPRESSION_LABELS):
            problems.append(f"classes = {classes} (expected FER-2013 order {list(EXPRESSION_LABELS)})")
        if output not in ("probabilities", "logits"):
            problems.append(f"output = {output!r} (expected 'probabilities' or 'logits')")
        if not -0.3 <= margin <= 1.0:
            problems.append(f"crop.margin = {margin} (expected -0.3..1; negative crops inside the box)")
        if not -0.5 <= shift_y <= 0.5:
            problems.append(f"crop.shift_y = {shift_y} (expected -0.5..0.5)")
        if problems:
            raise ModelError(f"{source}: unusable classifier manifest: " + "; ".join(problems))
        return cls((size_hw[0], size_hw[1]), mean, std, margin, shift_y, output == "logits")


def aligned_crop(frame_bgr: np.ndarray, face: TrackedFace, size_hw: tuple[int, int], margin: float,
                 shift_y: float = 0.0) -> np.ndarray:
    """Grey uint8 crop of ``face``: side = max(w, h) * (1 + 2 * margin), eyes level, centred on the box centre moved
    ``shift_y`` box sides down the face (negative: up)."""
    x0, y0, x1, y1 = face.box_xyxy
    box_side = max(x1 - x0, y1 - y0, 1.0)
    roll = np.radians(face.roll_degrees)
    cx = (x0 + x1) / 2.0 - np.sin(roll) * shift_y * box_side
    cy = (y0 + y1) / 2.0 + np.cos(roll) * shift_y * box_side
    side = box_side * (1.0 + 2.0 * margin)
    out_h, out_w = size_hw
    # Warp to an intermediate 2x size with bilinear sampling, then INTER_AREA down: avoids aliasing on big faces.
    work = 2 if side > 2 * max(out_h, out_w) else 1
    wh, ww = out_h * work, out_w * work
    scale = ww / side
    m = cv2.getRotationMatrix2D((cx, cy), face.roll_degrees, scale)
    m[0, 2] += ww / 2.0 - cx
    m[1, 2] += wh / 2.0 - cy
    crop = cv2.warpAffine(frame_bgr, m, (ww, wh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    if work != 1:
        grey = cv2.resize(grey, (out_w, out_h), interpolation=cv2.INTER_AREA)
    return grey


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class ExpressionClassifier:
    """Runs an ONNX expression model. ``session`` is an onnxruntime.InferenceSession (or anything with ``run``)."""

    def __init__(self, session: Any, manifest: dict[str, Any], source: str = "classifier") -> None:
        self.input = ClassifierInput.from_manifest(manifest, source)
        self.session = session
        self.source = source
        self._input_name = session.get_inputs()[0].name

    def preprocess(self, grey_crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """uint8 grey crops of any size -> float32 (N, 1, H, W) network input."""
        h, w = self.input.size_hw
        batch = np.empty((len(grey_crops), 1, h, w), np.float32)
        for i, crop in enumerate(grey_crops):
            if crop.shape != (h, w):
                interp = cv2.INTER_AREA if crop.shape[0] > h else cv2.INTER_LINEAR
                crop = cv2.resize(crop, (w, h), interpolation=interp)
            batch[i, 0] = crop
        batch -= self.input.mean
        batch /= self.input.std
        return batch

    def predict_crops(self, grey_crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """Probabilities (N, 7) in FER order for grey uint8 face crops (e.g. FER-2013 48x48 images)."""
        if len(grey_crops) == 0:
            return np.zeros((0, NUM_EXPRESSIONS), np.float32)
        return self.predict_batch(self.preprocess(grey_crops))

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities (N, 7) for a network input batch as ``preprocess`` makes it (float32, N x 1 x H x W)."""
        out = self.session.run(None, {self._input_name: np.ascontiguousarray(batch, np.float32)})[0]
        out = np.asarray(out, np.float32).reshape(len(batch), -1)
        if out.shape[1] != NUM_EXPRESSIONS:
            raise ModelError(f"{self.source}: model gave {out.shape[1]} outputs per face, expected {NUM_EXPRESSIONS}")
        return softmax(out) if self.input.outputs_logits else out

    def __call__(self, frame_bgr: np.ndarray, faces: Sequence[TrackedFace]) -> np.ndarray:
        """Probabilities (N, 7) for every face of the frame, in one batch."""
        crops = [aligned_crop(frame_bgr, f, self.input.size_hw, self.input.margin, self.input.shift_y) for f in faces]
        return self.predict_crops(crops)
