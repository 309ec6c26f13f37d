"""Expression data sets in FER-2013 label order, loaded into memory as uint8 grey images.

Three layouts are understood:

* ``.npz`` with ``x`` (N x H x W uint8 grey) and ``y`` (N labels, FER order);
* the Kaggle image-folder release: ``ROOT/train/<class>/*.jpg`` and ``ROOT/test/<class>/*.jpg`` (or a folder that
  directly holds the ``<class>`` folders), class names angry, disgust, fear, happy, sad, surprise, neutral;
* the original ``fer2013.csv`` with the columns ``emotion``, ``pixels`` and ``Usage``.

FER+ vote files (``ferplus_labels_aligned_to_fer2013.npz``) give optional soft targets row-aligned to the training set.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam_emoji.errors import InputError
from vcam_emoji.image_limits import check_image_file
from vcam_emoji.types import EXPRESSION_LABELS, NUM_EXPRESSIONS

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".pgm")
# The split of each layout used for each role ("train" or "val").
FOLDER_SPLITS = {"train": ("train", "training", "Training"), "val": ("test", "val", "validation", "PublicTest")}
CSV_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
# FER+ vote columns -> FER-2013 class index (contempt, unknown and NF are not FER-2013 classes).
FERPLUS_TO_FER = {"anger": 0, "disgust": 1, "fear": 2, "happiness": 3, "sadness": 4, "surprise": 5, "neutral": 6}


@dataclass(frozen=True)
class FaceDataset:
    """Images (N, H, W) uint8 grey, labels (N,) int64 in FER order, optional soft targets (N, 7) float32."""

    x: np.ndarray
    y: np.ndarray
    source: str
    soft: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.x.ndim != 3 or self.x.dtype != np.uint8:
            raise InputError(f"{self.source}: expected uint8 images of shape (N, H, W), got {self.x.dtype} {self.x.shape}")
        if self.y.shape != (self.x.shape[0],):
            raise InputError(f"{self.source}: {self.x.shape[0]} images but labels of shape {self.y.shape}")
        if len(self.y) == 0:
            raise InputError(f"{self.source}: the data set is empty")
        if self.y.min() < 0 or self.y.max() >= NUM_EXPRESSIONS:
            raise InputError(f"{self.source}: labels must be 0..{NUM_EXPRESSIONS - 1} (FER order), "
                             f"got values from {self.y.min()} to {self.y.max()}")
        if self.soft is not None and self.soft.shape != (len(self.y), NUM_EXPRESSIONS):
            raise InputError(f"{self.source}: soft targets of shape {self.soft.shape}, expected ({len(self.y)}, 7)")

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def subset(self, index: np.ndarray) -> "FaceDataset":
        soft = None if self.soft is None else self.soft[index]
        return FaceDataset(self.x[index], self.y[index], self.source, soft)

    def resized(self, size: int) -> "FaceDataset":
        """The same data with every image resized to size x size (INTER_AREA, as the app does)."""
        if self.x.shape[1:] == (size, size):
            return self
        x = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in self.x])
        return FaceDataset(x, self.y, self.source, self.soft)

    def class_counts(self) -> list[int]:
        return np.bincount(self.y, minlength=NUM_EXPRESSIONS).tolist()


def load_dataset(path: str | Path, role: str = "train", size: int = 48) -> FaceDataset:
    """Load a data set from an ``.npz``, a Kaggle image folder or ``fer2013.csv``; images resized to size x size.

    ``role`` ("train" or "val") picks the split where the layout holds several (folder: train/ or test/; csv: the
    Training or PublicTest rows).
    """
    if role not in ("train", "val", "test"):
        raise ValueError(f"role must be 'train', 'val' or 'test', got {role!r}")
    p = Path(path)
    if not p.exists():
        raise InputError(f"data set not found: {p} (expected an .npz, a fer2013.csv or a folder of class folders)")
    if p.is_dir():
        ds = _load_folder(p, role)
    elif p.suffix.lower() == ".npz":
        ds = _load_npz(p)
    elif p.suffix.lower() == ".csv":
        ds = _load_csv(p, role)
    else:
        raise InputError(f"{p}: unknown data set format {p.suffix!r}; expected .npz, .csv or a folder")
    return ds.resized(size)


def _load_npz(p: Path) -> FaceDataset:
    try:
        with np.load(p, allow_pickle=False) as d:
            if "x" not in d or "y" not in d:
                raise InputError(f"{p}: an .npz data set needs arrays 'x' (N x H x W uint8) and 'y'; has {d.files}")
            x, y = d["x"], d["y"]
    except InputError:
        raise
    except Exception as exc:  # a truncated or non-zip file
        raise InputError(f"{p}: cannot read as .npz ({exc})") from exc
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.dtype != np.uint8:
        raise InputError(f"{p}: 'x' must be uint8 grey images, got {x.dtype}")
    return FaceDataset(np.ascontiguousarray(x), y.astype(np.int64).reshape(-1), str(p))


def _class_folders(root: Path) -> dict[int, Path]:
    found = {}
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() in EXPRESSION_LABELS:
            found[EXPRESSION_LABELS.index(child.name.lower())] = child
    return found


def _load_folder(root: Path, role: str) -> FaceDataset:
    classes = _class_folders(root)
    if not classes:
        names = {c.name: c for c in root.iterdir() if c.is_dir()}
        split = next((names[n] for n in FOLDER_SPLITS.get(role, ()) if n in names), None)
        if split is None:
            raise InputError(f"{root}: no class folders ({', '.join(EXPRESSION_LABELS)}) and no "
                             f"{'/'.join(FOLDER_SPLITS.get(role, ()))} split folder for the {role} set")
        root, classes = split, _class_folders(split)
        if not classes:
            raise InputError(f"{root}: expected class folders named {', '.join(EXPRESSION_LABELS)}")
    images, labels = [], []
    size = None
    for label, folder in sorted(classes.items()):
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            check_image_file(f)  # its size from the header, before OpenCV decodes it
            im = cv2.imread(str(f), cv2.IMREAD_GRAYSCALE)
            if im is None:
                raise InputError(f"{f}: cannot read the image")
            if size is None:
                size = im.shape
            if im.shape != size:
                im = cv2.resize(im, (size[1], size[0]), interpolation=cv2.INTER_AREA)
            images.append(im)
            labels.append(label)
    if not images:
        raise InputError(f"{root}: the class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
    return FaceDataset(np.stack(images), np.asarray(labels, np.int64), str(root))


def _load_csv(p: Path, role: str) -> FaceDataset:
    usage = CSV_USAGE[role]
    images, labels = [], []
    with open(p, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"emotion", "pixels"} <= set(reader.fieldnames):
            raise InputError(f"{p}: a FER-2013 csv needs the columns emotion, pixels (and Usage); "
                             f"got {reader.fieldnames}")
        has_usage = "Usage" in reader.fieldnames
        for i, row in enumerate(reader, start=2):
            if has_usage and row["Usage"] != usage:
                continue
            try:
                px = np.array(row["pixels"].split(), dtype=np.int64)
                label = int(row["emotion"])
            except ValueError as exc:
                raise InputError(f"{p}, line {i}: cannot parse the row ({exc})") from exc
            side = int(round(np.sqrt(px.size)))
            if side * side != px.size or px.min(initial=0) < 0 or px.max(initial=0) > 255:
                raise InputError(f"{p}, line {i}: 'pixels' must be a square image of 0..255 values, got {px.size}")
            images.append(px.reshape(side, side).astype(np.uint8))
            labels.append(label)
    if not images:
        raise InputError(f"{p}: no rows with Usage == {usage!r} for the {role} set")
    return FaceDataset(np.stack(images), np.asarray(labels, np.int64), f"{p}[{usage}]")


def ferplus_distribution(votes: np.ndarray, vote_cols: np.ndarray) -> np.ndarray:
    """FER+ votes (N, len(vote_cols)) -> (N, 7) probabilities in FER order; rows without votes are all zero."""
    cols = [str(c) for c in vote_cols]
    dist = np.zeros((votes.shape[0], NUM_EXPRESSIONS), np.float32)
    for name, fer in FERPLUS_TO_FER.items():
        if name not in cols:
            raise InputError(f"FER+ votes: missing the column {name!r}; got {cols}")
        dist[:, fer] = votes[:, cols.index(name)]
    total = dist.sum(axis=1, keepdims=True)
    return np.divide(dist, total, out=np.zeros_like(dist), where=total > 0)


def load_soft_labels(path: str | Path, n_rows: int, key: str = "train_votes") -> np.ndarray:
    """FER+ vote distributions (n_rows, 7) from a votes .npz (``train_votes`` + ``vote_cols``); zero rows = none."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"soft-label file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as d:
            if key not in d or "vote_cols" not in d:
                raise InputError(f"{p}: expected arrays {key!r} and 'vote_cols'; has {d.files}")
            votes, cols = d[key], d["vote_cols"]
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{p}: cannot read as .npz ({exc})") from exc
    if votes.shape[0] != n_rows:
        raise InputError(f"{p}: {key} has {votes.shape[0]} rows but the training set has {n_rows}; "
                         "the votes must be row-aligned to the training data")
    return ferplus_distribution(votes, cols)


def image_hashes(x: np.ndarray) -> list[str]:
    return [hashlib.sha1(im.tobytes()).hexdigest() for im in x]


def drop_overlap(train: FaceDataset, val: FaceDataset) -> tuple[FaceDataset, int]:
    """Remove training images that are exact copies of validation images (FER-2013 has 280 such); returns the count."""
    val_hashes = set(image_hashes(val.x))
    keep = np.array([h not in val_hashes for h in image_hashes(train.x)])
    return train.subset(np.flatnonzero(keep)), int((~keep).sum())
