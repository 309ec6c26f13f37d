"""The one check of a user's image file before it is decoded: at most :data:`MAX_IMAGE_PIXELS`, as its header says.

A 250 KB PNG can declare 16000 x 16000 pixels (768 MB once decoded as RGB). :func:`open_image` reads only the header
and refuses such a file with a message that names the file, its size, the limit and what to do, before any pixel is
decoded. Pillow's own bomb check (a warning above 89 megapixels, an error above 179) never reaches the user: ours is
lower, and Pillow's error, raised before the size can be seen, is turned into the same message.

Every reader of a user's photo goes through here: ``source/image.py`` (``run --source``, ``render``, ``analyze``) and
the image folders of ``training/data.py``. The Studio's uploads (``studio/limits.py``) and pack images
(``packs.py``) have their own, lower limits.
"""

from __future__ import annotations

import contextlib
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import InputError

# 80 megapixels, e.g. 10000 x 8000: a 61-megapixel camera's photo fits, a 100-megapixel medium-format one must be
# scaled down (240 MB as RGB, and faces are found at a fraction of that size anyway)
MAX_IMAGE_PIXELS = 80_000_000

_PILLOW_PIXELS = re.compile(r"\((\d+) pixels\)")  # in Pillow's DecompressionBombError message


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0") + " megapixels"


def too_many_pixels(path: str | Path, size_wh: tuple[int, int] | None = None, pixels: int | None = None) -> InputError:
    """The error for an image over the limit: its size (``size_wh``, or only its ``pixels`` where the header's width
    and height are not known), the limit, and the largest size of the same shape that is accepted."""
    limit = _megapixels(MAX_IMAGE_PIXELS)
    if size_wh is not None:
        w, h = size_wh
        scale = math.sqrt(MAX_IMAGE_PIXELS / (w * h))
        what = f"is {w}x{h} pixels ({_megapixels(w * h)}), more than the limit of {limit}"
        fix = f"scale it down to {max(1, math.floor(w * scale))}x{max(1, math.floor(h * scale))} pixels or less"
    elif pixels:
        what = f"is {pixels} pixels ({_megapixels(pixels)}), more than the limit of {limit}"
        percent = math.floor(100 * math.sqrt(MAX_IMAGE_PIXELS / pixels))
        fix = (f"scale it down to {percent}% of its width and height or less" if percent >= 1 else
               f"scale it down to {limit} or less")
    else:
        what, fix = f"has more pixels than the limit of {limit}", f"scale it down to {limit} or less"
    return InputError(f"{path}: the image {what}; {fix} (any image editor can) and try again")


def damaged(path: str | Path, exc: BaseException) -> InputError:
    """The error for a file that starts as an image but cannot be decoded (Pillow's reason in brackets)."""
    return InputError(f"{path}: not an image that can be read ({exc}); the file may be cut short or damaged: save "
                      "it again, or use another copy")


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow, its header read and its size checked, nothing decoded yet (``img.load()``,
    ``convert`` and the like decode it). Raises InputError: no such file, not readable, not an image, too many pixels.
    """
    path = Path(path)
    try:
        # Pillow's DecompressionBombWarning (above 89 megapixels): ours below says it better. (catch_warnings is
        # process-wide: at worst, while threads open images at once, such a warning elsewhere goes unseen.)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except Image.DecompressionBombError as exc:  # more than Pillow's own error limit: only the pixel count is known
        match = _PILLOW_PIXELS.search(str(exc))
        raise too_many_pixels(path, pixels=int(match.group(1)) if match else None) from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file (no JPEG, PNG, WebP, BMP or TIFF header); check that this is "
                         "the photo you meant, or save it again as PNG or JPEG") from None
    except OSError as exc:
        if exc.errno is None:  # Pillow's own, e.g. "Truncated File Read"
            raise damaged(path, exc) from None
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None  # a folder, permissions, I/O
    except (ValueError, EOFError) as exc:
        raise damaged(path, exc) from None
    with img:
        w, h = img.size
        if w * h > MAX_IMAGE_PIXELS:
            raise too_many_pixels(path, (w, h))
        yield img


def check_image_file(path: str | Path) -> tuple[int, int]:
    """The (width, height) of an image file that is within the limit, from its header only; InputError otherwise.
    For readers that decode with another library (OpenCV)."""
    with open_image(path) as img:
        return img.size
