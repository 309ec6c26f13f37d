"""Evaluate an expression classifier on labelled 48x48 face crops (the FER-2013 .npz format)."""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError
from .types import EXPRESSION_LABELS, NUM_EXPRESSIONS


@dataclass(frozen=True)
class EvalResult:
    n: int
    accuracy: float
    per_class: dict[str, float]  # recall per class; NaN where the class has no example
    confusion: np.ndarray  # (7, 7) counts, rows = true class, columns = predicted class
    ms_per_face: float

    def to_json(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 5),
            "per_class": {k: (None if np.isnan(v) else round(v, 5)) for k, v in self.per_class.items()},
            "confusion": self.confusion.tolist(),
            "ms_per_face": round(self.ms_per_face, 4),
        }


def load_labelled_faces(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (N, H, W) uint8 grey and ``y`` (N,) labels in FER order from an .npz; rows with label 255 are dropped."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass an .npz with arrays x (N x 48 x 48 uint8) and y (N labels)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "x" not in data or "y" not in data:
                raise InputError(f"{path}: expected arrays 'x' and 'y', found {sorted(data.files)}")
            x, y = data["x"], data["y"]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc})") from None
    if x.ndim != 3 or x.dtype != np.uint8:
        raise InputError(f"{path}: x must be N x H x W uint8 grey images, got {x.dtype} {x.shape}")
    if y.shape != (x.shape[0],):
        raise InputError(f"{path}: y must hold one label per image ({x.shape[0]}), got shape {y.shape}")
    keep = y != 255
    x, y = x[keep], y[keep].astype(np.int64)
    if len(y) == 0:
        raise InputError(f"{path}: no labelled images")
    if y.min() < 0 or y.max() >= NUM_EXPRESSIONS:
        raise InputError(f"{path}: labels must be 0..6 in FER-2013 order, found {int(y.min())}..{int(y.max())}")
    return x, y


def evaluate(classifier: object, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> EvalResult:
    """Accuracy, per-class recall and confusion of ``classifier.predict_crops`` on crops ``x`` with labels ``y``."""
    preds = np.empty(len(y), np.int64)
    start = time.perf_counter()
    for i in range(0, len(y), batch_size):
        probs = classifier.predict_crops(x[i : i + batch_size])
        preds[i : i + batch_size] = np.argmax(probs, axis=1)
    ms_per_face = (time.perf_counter() - start) * 1000.0 / len(y)
    confusion = np.zeros((NUM_EXPRESSIONS, NUM_EXPRESSIONS), np.int64)
    np.add.at(confusion, (y, preds), 1)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(confusion) / support
    per_class = {label: float(recall[i]) if support[i] else float("nan") for i, label in enumerate(EXPRESSION_LABELS)}
    return EvalResult(len(y), float(np.mean(preds == y)), per_class, confusion, ms_per_face)


def confusion_png(result: EvalResult, path: str | Path, title: str = "") -> None:
    """Draw the row-normalised confusion matrix with counts as a PNG."""
    cell, left, top = 72, 110, 86
    n = NUM_EXPRESSIONS
    img = np.full((top + n * cell + 40, left + n * cell + 20, 3), 255, np.uint8)
    rows = result.confusion.sum(axis=1, keepdims=True)
    frac = np.divide(result.confusion, np.maximum(rows, 1))
    font = cv2.FONT_HERSHEY_SIMPLEX
    for i in range(n):
        for j in range(n):
            v = float(frac[i, j])
            shade = int(255 - 200 * v)
            x0, y0 = left + j * cell, top + i * cell
            cv2.rectangle(img, (x0, y0), (x0 + cell - 2, y0 + cell - 2), (255, shade, shade) if i != j else
                          (shade, 255, shade), -1)
            colour = (0, 0, 0) if v < 0.6 else (255, 255, 255)
            cv2.putText(img, f"{v:.2f}", (x0 + 12, y0 + 32), font, 0.5, colour, 1, cv2.LINE_AA)
            cv2.putText(img, str(int(result.confusion[i, j])), (x0 + 12, y0 + 54), font, 0.4, colour, 1, cv2.LINE_AA)
        cv2.putText(img, EXPRESSION_LABELS[i], (8, top + i * cell + 40), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, EXPRESSION_LABELS[i][:7], (left + i * cell + 4, top - 10), font, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.putText(img, title, (8, 22), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"n = {result.n}, accuracy = {result.accuracy:.4f}", (8, 46), font, 0.5, (0, 0, 0), 1,
                cv2.LINE_AA)
    cv2.putText(img, "rows: true class, columns: predicted class, cells: share of the row and count",
                (8, top + n * cell + 26), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", img)
    if not ok:
        raise InputError(f"{path}: could not encode the PNG")
    Path(path).write_bytes(data.tobytes())
