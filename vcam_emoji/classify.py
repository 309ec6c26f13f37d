"""Classification: cut an aligned face crop and run the expression model on every face of a frame in one batch.

The crop follows the model's manifest: the face box grown by ``crop.margin`` on each side, rotated so the eyes are
level, converted to grey, resized to ``input.size_hw`` and normalised as ``(pixel - mean) / std``.

The session is checked against the manifest when the classifier is built (one float input [N, 1, H, W], an output
of 7 values per face) and run once on blank crops: a model that does not match is refused then, with its reason.
A model with a fixed batch of 1 is run one face at a time.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from .errors import ModelError
from .model_io import FLOAT_OUTPUT_TYPES, fixed, refuse, run_model, shape_text, tensor_problems
from .models import ModelSpec
from .onnx_session import create_session
from .resources import model_card
from .types import EXPRESSION_LABELS, NUM_EXPRESSIONS, TrackedFace

log = logging.getLogger(__name__)

MAX_INPUT_SIDE = 1024  # pixels; FER models take 48-112, and a 100000 x 100000 input would need 40 GB per face


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
        if len(size_hw) != 2 or min(size_hw) < 8 or max(size_hw) > MAX_INPUT_SIDE:
            problems.append(f"input.size_hw = {list(size_hw)!r} (expected [H, W], each 8..{MAX_INPUT_SIDE})")
        if channels != 1 or color != "gray" or layout != "NCHW":
            problems.append(f"input {channels} channel(s), {color}, {layout} (only 1-channel gray NCHW is supported)")
        if not (math.isfinite(mean) and abs(mean) <= 1000):
            problems.append(f"preprocess.mean = {mean} (expected a finite number, -1000..1000)")
        if not (math.isfinite(std) and 0 < std <= 1000):
            problems.append(f"preprocess.std = {std} (expected a finite number above 0, up to 1000)")
        if classes != list(EXPRESSION_LABELS):
            problems.append(f"classes = {classes} (expected FER-2013 order {list(EXPRESSION_LABELS)})")
        if output not in ("probabilities", "logits"):
            problems.append(f"output = {output!r} (expected 'probabilities' or 'logits')")
        if not -0.3 <= margin <= 1.0:  # NaN fails these too
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
        self._input_name, self._one_at_a_time = self._check_session()
        self._trial_run()

    def _check_session(self) -> tuple[str, bool]:
        """(input name, whether the model takes one face at a time); ModelError if it does not fit the manifest."""
        h, w = self.input.size_hw
        inputs, outputs = list(self.session.get_inputs()), list(self.session.get_outputs())
        fix = ("this is not an expression classifier for this manifest (a face detector given as the classifier?) — "
               "choose an expression_classification model, or fix input.size_hw in the manifest")
        if len(inputs) != 1:
            refuse(self.source, [f"it has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}), expected one "
                                 f"image batch [N, 1, {h}, {w}]"], fix)
        problems = tensor_problems("input", inputs[0], rank=4, dims={1: 1, 2: h, 3: w})
        batch = fixed(inputs[0].shape[0]) if not problems else None
        if batch is not None and batch != 1:
            problems.append(f"input {inputs[0].name!r} has a fixed batch of {batch} (expected 1 or any)")
        if not outputs:
            problems.append("it has no output")
        else:
            out = outputs[0]
            problems += tensor_problems("output", out, rank=len(out.shape or ()) or 2, types=FLOAT_OUTPUT_TYPES)
            per_face = [fixed(d) for d in (out.shape or [])[1:]]
            if per_face and None not in per_face and math.prod(per_face) != NUM_EXPRESSIONS:
                problems.append(f"output {out.name!r} has shape {shape_text(out.shape)}: "
                                f"{math.prod(per_face)} values per face, expected {NUM_EXPRESSIONS}")
        refuse(self.source, problems, fix)
        return inputs[0].name, batch == 1

    def _trial_run(self) -> None:
        """Run once on blank crops (two, to try a batch): the outputs must be 7 finite values per face, and
        probabilities when the manifest says so."""
        h, w = self.input.size_hw
        probs = self.predict_crops(np.zeros((2, h, w), np.uint8))
        if not self.input.outputs_logits and (probs.min() < -1e-3 or probs.max() > 1 + 1e-3
                                              or np.abs(probs.sum(axis=1) - 1).max() > 1e-2):
            refuse(self.source, [f"its outputs on a blank face ({np.round(probs[0], 3).tolist()}) are not "
                                 f"probabilities that sum to 1"], "set \"output\": \"logits\" in the manifest if "
                                                                  "the model outputs logits")

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
        batch = np.ascontiguousarray(batch, np.float32)
        if self._one_at_a_time and len(batch) > 1:
            return np.concatenate([self.predict_batch(batch[i:i + 1]) for i in range(len(batch))])
        out = np.asarray(run_model(self.session, None, {self._input_name: batch}, self.source)[0], np.float32)
        if out.size != len(batch) * NUM_EXPRESSIONS:
            raise ModelError(f"{self.source}: the model gave an output of shape {list(out.shape)} for {len(batch)} "
                             f"face(s), expected {NUM_EXPRESSIONS} values per face; it does not match its manifest")
        out = out.reshape(len(batch), NUM_EXPRESSIONS)
        if not np.isfinite(out).all():
            raise ModelError(f"{self.source}: the model gave NaN or infinite outputs; it does not match its manifest "
                             "(check preprocess.mean and std) — use another model")
        return softmax(out) if self.input.outputs_logits else out

    def __call__(self, frame_bgr: np.ndarray, faces: Sequence[TrackedFace]) -> np.ndarray:
        """Probabilities (N, 7) for every face of the frame, in one batch."""
        crops = [aligned_crop(frame_bgr, f, self.input.size_hw, self.input.margin, self.input.shift_y) for f in faces]
        return self.predict_crops(crops)


def create_classifier(spec: ModelSpec, providers: str = "auto", threads: int = 0) -> tuple[ExpressionClassifier, list]:
    """The expression classifier for ``spec``, checked against its manifest and run once; and the providers its
    session really uses."""
    if spec.task != "expression_classification":
        raise ModelError(f"{spec.path}: this is a {spec.task} model, not an expression classifier; choose an "
                         "expression_classification model (e.g. emocnn_fer2013)")
    session, used = create_session(spec.path, providers=providers, threads=threads)
    return ExpressionClassifier(session, spec.manifest, source=str(spec.path)), used
