"""A still image as a one-frame source (EXIF orientation honoured)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import InputError
from ..image_limits import damaged, open_image

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def load_image_bgr(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8, rotated upright per its EXIF orientation. Its size is checked on its header
    before it is decoded (image_limits.MAX_IMAGE_PIXELS); InputError says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")
    with open_image(path) as img:
        try:
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
            raise damaged(path, exc) from None
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
