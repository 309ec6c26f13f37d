"""Evaluate an expression classifier on labelled 48x48 face crops (the FER-2013 .npz format)."""

from __future__ import annotations

import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, OutputError
from .fileio import check_output, write_atomic
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


SKIP_LABEL = 255  # y value of a row to leave out (FER+ "unknown"/"not a face")
_NPY_MAGIC = b"\x93NUMPY"
_HOW = "save one with np.savez(FILE, x=faces, y=labels)"
_CHUNK = 4096  # rows checked at once, so a large float x needs no second full-size copy for the checks


def load_labelled_faces(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (N, H, W) uint8 grey and ``y`` (N,) int64 labels in FER order from an .npz; rows labelled 255 are
    dropped. Everything is checked before it is used: a readable .npz archive (no pickles), arrays ``x`` (N x H x W
    or N x H x W x 1 grey levels 0..255, H and W above 0) and ``y`` (N whole-number labels 0..6, or 255 = skip), and
    at least one face left. Raises InputError naming the file, what is wrong and how to fix it."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; pass an .npz file with arrays x (N x 48 x 48 uint8) and y (N labels)")
    if not path.is_file():
        raise InputError(f"{path}: no such file; pass an .npz with arrays x (N x 48 x 48 uint8) and y (N labels)")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror}); check its permissions") from None
    if head == _NPY_MAGIC:
        raise InputError(f"{path}: is a .npy file (one array); eval needs an .npz archive holding both x (the faces) "
                         f"and y (the labels): {_HOW}")
    if not zipfile.is_zipfile(path):
        raise InputError(f"{path}: not a readable .npz file (not a zip archive); {_HOW}")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(data.files)
            if "x" not in names or "y" not in names:
                raise InputError(f"{path}: expected arrays 'x' and 'y', found {names or 'none'}; {_HOW}")
            x, y = _member(path, data, "x"), _member(path, data, "y")
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{path}: its arrays are too large to load into memory; evaluate a smaller sample") from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError) as exc:
        raise InputError(f"{path}: not a readable .npz file ({exc}); {_HOW}") from None
    x = _checked_faces(path, x)
    y = _checked_labels(path, y, len(x))
    if len(y) == 0:
        raise InputError(f"{path}: x and y hold no faces (N = 0); {_HOW} with at least one face")
    keep = y != SKIP_LABEL
    if not keep.any():
        raise InputError(f"{path}: no usable face: all {len(y)} label(s) are {SKIP_LABEL} (skip); label some faces "
                         "0..6")
    return x[keep], y[keep]


def _member(path: Path, data, name: str) -> np.ndarray:
    try:
        return data[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc):  # an object array: loading it would run pickled code
            raise InputError(f"{path}: {name} holds Python objects (dtype=object), which eval does not load; save it "
                             "as a numeric array (e.g. np.asarray(..., np.uint8))") from None
        raise


def _checked_faces(path: Path, x: np.ndarray) -> np.ndarray:
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3:
        colour = x.ndim == 4 and x.shape[-1] in (3, 4)
        raise InputError(f"{path}: x must be N x H x W grey images (or N x H x W x 1), got shape {list(x.shape)}"
                         + ("; convert the colour faces to grey first" if colour else ""))
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise InputError(f"{path}: x holds images of {x.shape[1]} x {x.shape[2]} pixels; each face needs at least "
                         "1 x 1 (FER-2013 faces are 48 x 48)")
    if x.dtype == np.uint8:
        return x
    if x.dtype.kind not in "iuf":
        raise InputError(f"{path}: x must hold grey levels 0..255 (uint8), got {_kind(x)} values; save the faces "
                         "as a uint8 array")
    if x.dtype.kind == "f":
        for i in range(0, len(x), _CHUNK):
            part = x[i:i + _CHUNK]
            if not (np.isfinite(part).all() and (part == np.round(part)).all()):
                raise InputError(f"{path}: x must hold grey levels 0..255 (uint8), got {x.dtype} values that are "
                                 "not whole numbers (or NaN); if they are scaled to 0..1, save "
                                 "(x * 255).round().astype(np.uint8)")
    if x.size and (x.min() < 0 or x.max() > 255):
        raise InputError(f"{path}: x must hold grey levels 0..255 (uint8), got {x.dtype} values "
                         f"{x.min():g}..{x.max():g}; scale them to 0..255")
    return x.astype(np.uint8)


def _kind(a: np.ndarray) -> str:
    return "text" if a.dtype.kind in "US" else str(a.dtype)


def _checked_labels(path: Path, y: np.ndarray, n: int) -> np.ndarray:
    if y.dtype.kind == "f":
        odd = y[~(np.isfinite(y) & (y == np.round(y)))]
    else:
        odd = y if y.dtype.kind not in "iu" else y[:0]
    if odd.size or y.dtype.kind not in "iuf":
        example = f" such as {odd.flat[0].item()!r}" if odd.size else ""
        raise InputError(f"{path}: y must be whole-number labels 0..6 in FER-2013 order (0 angry .. 6 neutral; "
                         f"{SKIP_LABEL} = skip), got {_kind(y)} values{example}; map names to numbers first, e.g. "
                         "'happy' -> 3")
    if y.shape != (n,):
        raise InputError(f"{path}: y must hold one label per image ({n}), got shape {list(y.shape)}")
    bad = (y != SKIP_LABEL) & ((y < 0) | (y >= NUM_EXPRESSIONS))  # before the cast: 1e30 must not wrap around
    if bad.any():
        shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in np.unique(y[bad])[:5].tolist())
        raise InputError(f"{path}: labels must be 0..6 in FER-2013 order ({SKIP_LABEL} = skip), found {shown} in "
                         f"{int(bad.sum())} row(s)")
    return y.astype(np.int64)


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


def confusion_png(result: EvalResult, path: str | Path, title: str = "", *, replace: bool = False,
                  inputs: Iterable[str | Path | None] = ()) -> Path:
    """Draw the row-normalised confusion matrix with counts as a PNG at ``path``, under the output rule
    (:mod:`vcam_emoji.fileio`: never over ``inputs``, nor over an existing file unless ``replace``; written to a
    temporary file and renamed). Returns the path written. Check the target with :func:`check_plot_path` before the
    evaluation, so a bad one is said at once."""
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
        raise OutputError(f"{path}: could not encode the PNG")
    return write_atomic(path, data.tobytes(), replace=replace, inputs=inputs, what="plot")


def check_plot_path(path: str | Path, *, replace: bool = False, inputs: Iterable[str | Path | None] = ()) -> Path:
    """Raise OutputError unless ``confusion_png`` may write ``path``: a .png name, in a folder that exists, not an
    input, not a folder, not an existing file unless ``replace`` (fileio.check_output). Nothing is created."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder; give the plot a file name (e.g. {path / 'confusion.png'})")
    if path.suffix.lower() != ".png":
        raise OutputError(f"{path}: the plot is a PNG image; give it a .png name (e.g. {path.with_suffix('.png')})")
    return check_output(path, inputs=inputs, replace=replace, what="plot")
