"""Face detection stage: BGR frame -> Detections (boxes, scores, landmarks in frame pixels).

Two detector families, chosen by the model manifest's ``architecture`` (never guessed from tensor shapes):

- ``blazeface`` (MediaPipe BlazeFace short/full range): fixed square input, SSD anchors, weighted NMS as in MediaPipe;
  6 landmarks: eye, eye, nose tip, mouth, ear tragion, ear tragion.
- ``centerface`` (CenterFace): any input size that is a multiple of 32, heatmap decoding, hard NMS; 5 landmarks:
  eye, eye, nose tip, mouth corner, mouth corner.

In every result landmark 0 and 1 are the two eye centres, the one further left in the image first (paired points
such as ears or mouth corners are reordered the same way).

When a detector is built, its session is checked against the manifest (input name, [1, 3, H, W] float, the named
outputs and their sizes) and run once on a blank frame, so a model that does not match is refused with its reason.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from .errors import ModelError
from .model_io import fixed, refuse, run_model, shape_text, tensor_problems
from .models import ModelSpec
from .resources import model_card
from .onnx_session import create_session
from .types import Detections, check_frame

log = logging.getLogger(__name__)


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a BGR uint8 frame."""

    num_landmarks: int

    def __call__(self, frame_bgr: np.ndarray) -> Detections: ...


# --------------------------------------------------------------------------------------------------------------------
# Shared helpers (pure functions on arrays)
# --------------------------------------------------------------------------------------------------------------------


def letterbox(frame_bgr: np.ndarray, out_hw: tuple[int, int], centre: bool = True
              ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Resize ``frame_bgr`` to fit ``out_hw`` keeping its aspect ratio, padding with black (centred or right/bottom).

    Returns ``(rgb_image, scale_xy, pad_x, pad_y)``: a frame point (x, y) lands at
    ``(x * scale_xy[0] + pad_x, y * scale_xy[1] + pad_y)`` (the two scales differ only by rounding).
    """
    out_h, out_w = out_hw
    h, w = frame_bgr.shape[:2]
    scale = min(out_w / w, out_h / h)
    new_w = min(out_w, max(1, int(round(w * scale))))
    new_h = min(out_h, max(1, int(round(h * scale))))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(frame_bgr, (new_w, new_h), interpolation=interp)
    pad_x = (out_w - new_w) // 2 if centre else 0
    pad_y = (out_h - new_h) // 2 if centre else 0
    canvas = np.zeros((out_h, out_w, 3), np.uint8)
    canvas[pad_y:pad_y + new_h, pad_x:pad_x + new_w] = resized[:, :, ::-1]  # BGR -> RGB
    return canvas, np.array([new_w / w, new_h / h]), float(pad_x), float(pad_y)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each of ``boxes`` (N, 4)."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, iou_threshold: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted NMS: each kept face is the score-weighted mean of the boxes overlapping the best one.

    ``boxes`` (N, 4) xyxy, ``points`` (N, K, 2), ``scores`` (N,). The kept score is the best one of its group.
    """
    order = np.argsort(-scores, kind="stable")
    out_boxes, out_points, out_scores = [], [], []
    while order.size:
        top = order[0]
        iou = box_iou(boxes[top], boxes[order])
        iou[0] = 1.0
        group = order[iou > iou_threshold]
        w = scores[group].astype(np.float64)
        w_sum = w.sum()
        out_boxes.append((boxes[group] * w[:, None]).sum(axis=0) / w_sum)
        out_points.append((points[group] * w[:, None, None]).sum(axis=0) / w_sum)
        out_scores.append(scores[top])
        order = order[iou <= iou_threshold]
    return np.array(out_boxes), np.array(out_points), np.array(out_scores)


def hard_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS (a box is dropped when IoU >= threshold with a better kept box)."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        top = order[0]
        keep.append(top)
        iou = box_iou(boxes[top], boxes[order[1:]])
        order = order[1:][iou < iou_threshold]
    return np.array(keep, dtype=np.int64)


def order_pairs(points: np.ndarray, pairs: list[tuple[int, int]]) -> np.ndarray:
    """Swap each (a, b) landmark pair so that the one with the smaller x comes first. ``points`` is (N, K, 2)."""
    points = points.copy()
    for a, b in pairs:
        swap = points[:, a, 0] > points[:, b, 0]
        if np.any(swap):
            pa = points[swap, a].copy()
            points[swap, a] = points[swap, b]
            points[swap, b] = pa
    return points


MAX_INPUT_SIDE = 4096  # pixels: a detector input of 100000 x 100000 would need 120 GB


def _check_numbers(spec: ModelSpec, input_hw: tuple[int, int], mean: float, std: float, iou: float, clip: float,
                   stride: int, landmarks: list, min_score: float) -> None:
    """Sizes and numbers a manifest built by hand could get wrong (NaN, 0, huge), as one ModelError."""
    problems = []
    if not all(16 <= side <= MAX_INPUT_SIDE for side in input_hw):
        problems.append(f"input size {list(input_hw)} (expected 16..{MAX_INPUT_SIDE} pixels a side)")
    if not (np.isfinite(mean) and abs(mean) <= 1000 and np.isfinite(std) and 0 < std <= 1000):
        problems.append(f"input.mean {mean} / std {std} (expected finite, std above 0, both up to 1000)")
    if not 0 < iou <= 1:  # False for NaN
        problems.append(f"decode.nms_iou_threshold {iou} (expected above 0, up to 1)")
    if not 0 < clip <= 1000:
        problems.append(f"decode.raw_score_clip {clip} (expected above 0, up to 1000)")
    if not 1 <= stride <= 256:
        problems.append(f"stride {stride} (expected 1..256)")
    if not 0 < min_score < 1:
        problems.append(f"score threshold {min_score} (expected between 0 and 1)")
    if not 2 <= len(landmarks) <= 68:
        problems.append(f"{len(landmarks)} landmarks (expected 2..68, the two eyes first)")
    if problems:
        raise ModelError(f"{spec.manifest_path}: unusable detector manifest: {'; '.join(problems)}; see the schema in "
                         f"{model_card()}")


def box_to_reference(spec: ModelSpec) -> tuple[float, float]:
    """(scale, shift_y) from the manifest's optional ``box_to_reference``: how this detector's boxes map onto the
    reference face box (blazeface_full's), so crops, emoji sizes and classifier margins mean the same with every
    detector. The box is scaled about its centre, then moved ``shift_y`` of its new side down."""
    ref = spec.manifest.get("box_to_reference", {})
    try:
        scale, shift_y = float(ref.get("scale", 1.0)), float(ref.get("shift_y", 0.0))
    except (AttributeError, TypeError, ValueError):
        raise ModelError(f"{spec.manifest_path}: box_to_reference must be {{\"scale\": number, \"shift_y\": number}}, "
                         f"got {ref!r}") from None
    if not (0.5 <= scale <= 2.0 and -0.5 <= shift_y <= 0.5):
        raise ModelError(f"{spec.manifest_path}: box_to_reference scale {scale} / shift_y {shift_y} out of range "
                         "(scale 0.5..2, shift_y -0.5..0.5)")
    return scale, shift_y


def _finish(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray, scale: np.ndarray, pad_x: float, pad_y: float,
            frame_hw: tuple[int, int], pairs: list[tuple[int, int]], num_landmarks: int,
            box_adjust: tuple[float, float] = (1.0, 0.0)) -> Detections:
    """Map model-input pixels back to frame pixels, bring boxes to the reference convention, clip to the frame, drop
    empty boxes, order landmark pairs."""
    if len(boxes) == 0:
        return Detections.empty(num_landmarks)
    h, w = frame_hw
    offset = np.array([pad_x, pad_y], np.float64)
    boxes = (boxes.reshape(-1, 2, 2) - offset) / scale
    points = (points - offset) / scale
    if box_adjust != (1.0, 0.0):
        box_scale, shift_y = box_adjust
        centre, half = boxes.mean(axis=1, keepdims=True), (boxes[:, 1:] - boxes[:, :1]) / 2 * box_scale
        centre[..., 1] += shift_y * 2 * half[..., 1]
        boxes = np.concatenate([centre - half, centre + half], axis=1)
    boxes[..., 0] = np.clip(boxes[..., 0], 0, w)
    boxes[..., 1] = np.clip(boxes[..., 1], 0, h)
    points[..., 0] = np.clip(points[..., 0], 0, w)
    points[..., 1] = np.clip(points[..., 1], 0, h)
    boxes = boxes.reshape(-1, 4)
    valid = (boxes[:, 2] - boxes[:, 0] >= 1.0) & (boxes[:, 3] - boxes[:, 1] >= 1.0)
    order = np.argsort(-scores[valid], kind="stable")
    boxes, points, scores = boxes[valid][order], points[valid][order], scores[valid][order]
    points = order_pairs(points, pairs)
    return Detections(boxes.astype(np.float32), np.clip(scores, 0, 1).astype(np.float32), points.astype(np.float32))


def _manifest_get(spec: ModelSpec, *keys: str) -> Any:
    node: Any = spec.manifest
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            raise ModelError(
                f"{spec.manifest_path}: the manifest lacks {'.'.join(keys)}, which a {spec.architecture} detector "
                f"needs; see the schema in {model_card()} (a bundled model: reinstall vcam-emoji: "
                f"pip install --force-reinstall --no-deps vcam-emoji)"
            )
        node = node[key]
    return node


_BAD_FIELD = (KeyError, TypeError, ValueError, IndexError, AttributeError)


def _bad_field(spec: ModelSpec, exc: Exception) -> ModelError:
    return ModelError(f"{spec.manifest_path}: a {spec.architecture} detector manifest field is missing or has a bad "
                      f"value ({exc!r}); see the schema in {model_card()}")


_DETECTOR_FIX = "this model is not the detector its manifest describes — fix the manifest or choose another model"


def _check_io(spec: ModelSpec, session: Any, input_name: str, input_dims: dict[int, int],
              outputs: dict[str, tuple[int, dict[int, int]]]) -> None:
    """The session has exactly the one named float input [1, 3, ...] and the named outputs with the given rank and
    fixed sizes; else ModelError naming every mismatch."""
    source = str(spec.path)
    inputs = {i.name: i for i in session.get_inputs()}
    if list(inputs) != [input_name]:
        refuse(source, [f"its inputs are {', '.join(map(repr, inputs)) or '(none)'}, the manifest names "
                        f"{input_name!r} only"], _DETECTOR_FIX)
    problems = tensor_problems("input", inputs[input_name], rank=4, dims=input_dims)
    if not problems and fixed(inputs[input_name].shape[0]) not in (None, 1):
        problems.append(f"input {input_name!r} has shape {shape_text(inputs[input_name].shape)}: batch must be 1")
    have = {o.name: o for o in session.get_outputs()}
    for name, (rank, dims) in outputs.items():
        if name not in have:
            problems.append(f"it has no output {name!r} (its outputs: {', '.join(map(repr, have))})")
        else:
            problems += tensor_problems("output", have[name], rank=rank, dims=dims)
    refuse(source, problems, _DETECTOR_FIX)


def _check_trial(spec: ModelSpec, got: dict[str, tuple[int, ...]], expected: dict[str, tuple[int | None, ...]],
                 at_least: dict[str, tuple[int, int]] | None = None) -> None:
    """Output shapes of the trial run against what decoding needs (None: any size; ``at_least``: name -> (axis, n))."""
    problems = []
    for name, want in expected.items():
        shape = got[name]
        low = (at_least or {}).get(name)
        ok = len(shape) == len(want) and all(w is None or s == w for s, w in zip(shape, want)) and \
            (low is None or shape[low[0]] >= low[1])
        if not ok:
            shown = ["?" if w is None else str(w) for w in want]
            if low is not None:
                shown[low[0]] = f">={low[1]}"
            problems.append(f"output {name!r} came out {list(shape)} on a blank frame, decoding needs "
                            f"[{', '.join(shown)}]")
    refuse(str(spec.path), problems, _DETECTOR_FIX)


# --------------------------------------------------------------------------------------------------------------------
# BlazeFace
# --------------------------------------------------------------------------------------------------------------------


def ssd_anchors(input_hw: tuple[int, int], strides: list[int], offset_x: float = 0.5, offset_y: float = 0.5,
                interpolated_scale_aspect_ratio: float = 1.0) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1] as MediaPipe's SsdAnchorsCalculator makes them with fixed_anchor_size."""
    h, w = input_hw
    anchors = []
    layer = 0
    while layer < len(strides):
        last = layer
        repeats = 0
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
            repeats += 2 if interpolated_scale_aspect_ratio == 1.0 else 1
        fh, fw = int(np.ceil(h / strides[layer])), int(np.ceil(w / strides[layer]))
        ys, xs = np.meshgrid((np.arange(fh) + offset_y) / fh, (np.arange(fw) + offset_x) / fw, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        anchors.append(np.repeat(centres, repeats, axis=0))
        layer = last
    return np.concatenate(anchors).astype(np.float32)


class BlazeFaceDetector:
    """MediaPipe BlazeFace (short or full range) on onnxruntime."""

    def __init__(self, spec: ModelSpec, providers: str = "auto", threads: int = 0, min_score: float | None = None):
        self.spec = spec
        inp = _manifest_get(spec, "input")
        decode = _manifest_get(spec, "decode")
        anchors_cfg = _manifest_get(spec, "decode", "anchors")
        try:
            self.input_hw = (int(inp["size_hw"][0]), int(inp["size_hw"][1]))
            self.input_name = str(inp["name"])
            self.mean, self.std = float(inp["mean"]), float(inp["std"])
            self.box_output = str(_manifest_get(spec, "outputs", "boxes"))
            self.score_output = str(_manifest_get(spec, "outputs", "scores"))
            self.raw_score_clip = float(decode.get("raw_score_clip", 80.0))
            self.iou_threshold = float(decode["nms_iou_threshold"])
            self.min_score = float(spec.manifest["score_threshold"] if min_score is None else min_score)
            self.landmark_names = list(spec.manifest["landmarks"])
            strides = [int(v) for v in anchors_cfg["strides"]]
            offsets = (float(anchors_cfg["anchor_offset_x"]), float(anchors_cfg["anchor_offset_y"]),
                       float(anchors_cfg["interpolated_scale_aspect_ratio"]))
        except _BAD_FIELD as exc:
            raise _bad_field(spec, exc) from None
        _check_numbers(spec, self.input_hw, self.mean, self.std, self.iou_threshold, self.raw_score_clip,
                       min(strides, default=0), self.landmark_names, self.min_score)
        self.num_landmarks = len(self.landmark_names)
        self.anchors = ssd_anchors(self.input_hw, strides, *offsets)
        self.pairs = [(0, 1)] + ([(4, 5)] if self.num_landmarks >= 6 else [])
        self.box_adjust = box_to_reference(spec)
        self.session, self.providers = create_session(spec.path, providers, threads)
        n, values = len(self.anchors), 4 + 2 * self.num_landmarks
        h, w = self.input_hw
        _check_io(spec, self.session, self.input_name, {1: 3, 2: h, 3: w},
                  {self.box_output: (3, {1: n}), self.score_output: (3, {1: n, 2: 1})})
        boxes, scores = run_model(self.session, [self.box_output, self.score_output],
                                  {self.input_name: np.zeros((1, 3, h, w), np.float32)}, str(spec.path))
        _check_trial(spec, {self.box_output: boxes.shape, self.score_output: scores.shape},
                     {self.box_output: (1, n, None), self.score_output: (1, n, 1)}, {self.box_output: (2, values)})
        log.info("face detector %s (blazeface %dx%d, min_score %.2f) on %s", spec.name, self.input_hw[1],
                 self.input_hw[0], self.min_score, ", ".join(self.providers))

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        frame = check_frame(frame_bgr, "frame_bgr")
        rgb, scale, pad_x, pad_y = letterbox(frame, self.input_hw)
        x = ((rgb.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)[None]
        raw_boxes, raw_scores = run_model(self.session, [self.box_output, self.score_output], {self.input_name: x},
                                          str(self.spec.path))
        return self.decode(raw_boxes[0], raw_scores[0, :, 0], scale, pad_x, pad_y, frame.shape[:2])

    def decode(self, raw_boxes: np.ndarray, raw_scores: np.ndarray, scale: np.ndarray, pad_x: float, pad_y: float,
               frame_hw: tuple[int, int]) -> Detections:
        clipped = np.clip(raw_scores.astype(np.float64), -self.raw_score_clip, self.raw_score_clip)
        scores = 1.0 / (1.0 + np.exp(-clipped))
        keep = np.nonzero(scores >= self.min_score)[0]
        if keep.size == 0:
            return Detections.empty(self.num_landmarks)
        in_h, in_w = self.input_hw
        size = np.array([in_w, in_h], np.float64)
        raw = raw_boxes[keep].astype(np.float64)
        anchors = self.anchors[keep].astype(np.float64) * size  # anchor centres in input pixels
        centre = anchors + raw[:, 0:2]
        half = raw[:, 2:4] / 2.0
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        points = raw[:, 4:4 + 2 * self.num_landmarks].reshape(-1, self.num_landmarks, 2) + anchors[:, None, :]
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, points, scores = weighted_nms(boxes[valid], points[valid], scores[keep][valid], self.iou_threshold)
        return _finish(boxes, points, scores, scale, pad_x, pad_y, frame_hw, self.pairs, self.num_landmarks,
                       self.box_adjust)


# --------------------------------------------------------------------------------------------------------------------
# CenterFace
# --------------------------------------------------------------------------------------------------------------------


class CenterFaceDetector:
    """CenterFace on onnxruntime; the frame is scaled so its long side is the manifest's ``max_side``."""

    def __init__(self, spec: ModelSpec, providers: str = "auto", threads: int = 0, min_score: float | None = None,
                 max_side: int | None = None):
        self.spec = spec
        inp = _manifest_get(spec, "input")
        decode = _manifest_get(spec, "decode")
        outs = _manifest_get(spec, "outputs")
        try:
            self.input_name = str(inp["name"])
            self.mean, self.std = float(inp["mean"]), float(inp["std"])
            self.multiple = int(inp["size_multiple"])
            self.max_side = int(max_side if max_side is not None else inp["max_side"])
            self.output_names = [str(outs[k]) for k in ("heatmap", "scale", "offset", "landmarks")]
            self.stride = int(decode["stride"])
            self.iou_threshold = float(decode["nms_iou_threshold"])
            self.min_score = float(spec.manifest["score_threshold"] if min_score is None else min_score)
            self.landmark_names = list(spec.manifest["landmarks"])
        except _BAD_FIELD as exc:
            raise _bad_field(spec, exc) from None
        if not 1 <= self.multiple <= 256:
            raise ModelError(f"{spec.manifest_path}: input.size_multiple is {self.multiple}, expected 1..256")
        if not self.multiple <= self.max_side <= MAX_INPUT_SIDE:
            raise ModelError(f"max_side: expected {self.multiple}..{MAX_INPUT_SIDE}, got {self.max_side}")
        _check_numbers(spec, (self.max_side, self.max_side), self.mean, self.std, self.iou_threshold, 1.0,
                       self.stride, self.landmark_names, self.min_score)
        self.num_landmarks = len(self.landmark_names)
        self.pairs = [(0, 1)] + ([(3, 4)] if self.num_landmarks >= 5 else [])
        self.box_adjust = box_to_reference(spec)
        self.session, self.providers = create_session(spec.path, providers, threads)
        heatmap, scale, offset, lms = self.output_names
        k = self.num_landmarks
        _check_io(spec, self.session, self.input_name, {1: 3},
                  {heatmap: (4, {1: 1}), scale: (4, {1: 2}), offset: (4, {1: 2}), lms: (4, {})})
        in_h, in_w = self.input_hw_for((480, 640))
        outputs = run_model(self.session, self.output_names,
                            {self.input_name: np.zeros((1, 3, in_h, in_w), np.float32)}, str(spec.path))
        grid = (in_h // self.stride, in_w // self.stride)
        _check_trial(spec, dict(zip(self.output_names, (o.shape for o in outputs))),
                     {heatmap: (1, 1, *grid), scale: (1, 2, *grid), offset: (1, 2, *grid), lms: (1, None, *grid)},
                     {lms: (1, 2 * k)})
        log.info("face detector %s (centerface, long side %d, min_score %.2f) on %s", spec.name, self.max_side,
                 self.min_score, ", ".join(self.providers))

    def input_hw_for(self, frame_hw: tuple[int, int]) -> tuple[int, int]:
        h, w = frame_hw
        scale = self.max_side / max(h, w)
        m = self.multiple
        return (max(m, int(np.ceil(h * scale / m)) * m), max(m, int(np.ceil(w * scale / m)) * m))

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        frame = check_frame(frame_bgr, "frame_bgr")
        in_hw = self.input_hw_for(frame.shape[:2])
        # fit the long side exactly, pad right/bottom up to the multiple of 32
        h, w = frame.shape[:2]
        s = self.max_side / max(h, w)
        fit_hw = (min(in_hw[0], max(1, int(round(h * s)))), min(in_hw[1], max(1, int(round(w * s)))))
        rgb, scale, _, _ = letterbox(frame, fit_hw, centre=False)
        x = np.zeros((1, 3, in_hw[0], in_hw[1]), np.float32)
        x[0, :, :fit_hw[0], :fit_hw[1]] = ((rgb.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)
        heatmap, scale_map, offset, lms = run_model(self.session, self.output_names, {self.input_name: x},
                                                    str(self.spec.path))
        return self.decode(heatmap[0, 0], scale_map[0], offset[0], lms[0], scale, frame.shape[:2])

    def decode(self, heatmap: np.ndarray, scale_map: np.ndarray, offset: np.ndarray, lms: np.ndarray, scale: np.ndarray,
               frame_hw: tuple[int, int]) -> Detections:
        ys, xs = np.nonzero(heatmap >= self.min_score)
        if ys.size == 0:
            return Detections.empty(self.num_landmarks)
        st = self.stride
        scores = heatmap[ys, xs].astype(np.float64)
        bh = np.exp(scale_map[0, ys, xs].astype(np.float64)) * st
        bw = np.exp(scale_map[1, ys, xs].astype(np.float64)) * st
        cy = (ys + offset[0, ys, xs] + 0.5) * st
        cx = (xs + offset[1, ys, xs] + 0.5) * st
        x1, y1 = cx - bw / 2, cy - bh / 2
        boxes = np.stack([x1, y1, x1 + bw, y1 + bh], axis=1)
        k = self.num_landmarks
        lm = lms[: 2 * k, ys, xs].astype(np.float64).T.reshape(-1, k, 2)  # (N, K, (y, x))
        points = np.stack([lm[:, :, 1] * bw[:, None] + x1[:, None], lm[:, :, 0] * bh[:, None] + y1[:, None]], axis=2)
        keep = hard_nms(boxes, scores, self.iou_threshold)
        return _finish(boxes[keep], points[keep], scores[keep], scale, 0.0, 0.0, frame_hw, self.pairs,
                       self.num_landmarks, self.box_adjust)


def create_detector(spec: ModelSpec, providers: str = "auto", threads: int = 0,
                    min_score: float | None = None) -> FaceDetector:
    """A face detector for ``spec`` (its manifest's ``architecture`` picks the implementation)."""
    if spec.task != "face_detection":
        raise ModelError(
            f"{spec.path}: this is a {spec.task} model, not a face detector; choose a face_detection model "
            f"(e.g. blazeface_short, blazeface_full, centerface)"
        )
    if min_score is not None and not 0.0 < float(min_score) < 1.0:
        raise ModelError(f"min_score: expected a number between 0 and 1 (exclusive), got {min_score!r}")
    arch = spec.architecture
    if arch == "blazeface":
        return BlazeFaceDetector(spec, providers, threads, min_score)
    if arch == "centerface":
        return CenterFaceDetector(spec, providers, threads, min_score)
    raise ModelError(f"{spec.manifest_path}: unknown detector architecture {arch!r}; expected blazeface or centerface")
