"""A still image as a one-frame source (EXIF orientation honoured)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image_bgr(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8, rotated upright per its EXIF orientation."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            rgb = np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not an image that can be read ({exc})") from None
    if rgb.size == 0:
        raise InputError(f"{path}: the image is empty")
    return np.ascontiguousarray(rgb[:, :, ::-1])


class ImageSource:
    """Yields the image once (``repeat=True``: forever, for a demo)."""

    def __init__(self, path: str | Path, fps: float = 30.0, repeat: bool = False) -> None:
        self.path = Path(path)
        self._frame = load_image_bgr(self.path)
        self._fps = fps
        self._repeat = repeat
        self._done = False

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size_wh(self) -> tuple[int, int]:
        return self._frame.shape[1], self._frame.shape[0]

    def read(self) -> np.ndarray | None:
        if self._done:
            return None
        self._done = not self._repeat
        return self._frame.copy()

    def close(self) -> None:
        self._done = True
