"""Request limits and the one way the Studio decodes an uploaded image.

Every body is read through :func:`read_body`, which refuses a declared or actual size over the limit before holding
more than the limit in memory. Images are decoded by :func:`decode_image`, which reads the header first and refuses
a picture with more pixels than :data:`MAX_IMAGE_PIXELS` before decoding it (a 20 KB PNG can declare 50000 x 50000
pixels: a decompression bomb).
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.requests import Request

MiB = 1024 * 1024
MAX_JSON_BYTES = 64 * 1024
MAX_IMAGE_BYTES = 16 * MiB
MAX_ZIP_BYTES = 32 * MiB
MAX_IMAGE_PIXELS = 40_000_000  # e.g. 8000 x 5000; Pillow's own bomb limit is about 179 M
MAX_IMAGE_SIDE = 16384


class ApiError(Exception):
    """An answer other than success: HTTP status, one message, (for settings and avatars) the message of each field,
    and ``extra`` members of the answer (e.g. ``"exists": true`` for a pack name that is taken)."""

    def __init__(self, status: int, message: str, fields: dict[str, str] | None = None,
                 extra: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


def _size_text(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n / 1024:.0f} KiB"


async def read_body(request: Request, limit: int, what: str) -> bytes:
    """The request body, or ApiError 413 if it is (or says it is) larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, f"Content-Length {declared!r} is not a number") from None
        if size > limit:
            raise ApiError(413, f"{what} is {_size_text(size)}; at most {_size_text(limit)} is accepted")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ApiError(413, f"{what} is larger than {_size_text(limit)}; at most that is accepted")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request) -> dict:
    """A JSON object body (at most MAX_JSON_BYTES), or ApiError 400 saying what is wrong with it."""
    data = await read_body(request, MAX_JSON_BYTES, "the JSON body")
    try:
        value = json.loads(data or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the body is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ApiError(400, f"the body must be a JSON object, got {type(value).__name__}")
    return value


def decode_image(data: bytes, what: str = "the image") -> np.ndarray:
    """A BGR uint8 (H, W, 3) array from image file bytes (any format Pillow reads; EXIF rotation applied)."""
    if not data:
        raise ApiError(400, f"{what} is empty; send the image file as the request body")
    try:
        with Image.open(io.BytesIO(data)) as img:
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS or max(w, h) > MAX_IMAGE_SIDE:
                raise ApiError(413, f"{what} is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels); at most "
                                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels and {MAX_IMAGE_SIDE} pixels a side "
                                    "are accepted")
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"), dtype=np.uint8)
    except ApiError:
        raise
    except UnidentifiedImageError:
        raise ApiError(415, f"{what} is not an image Pillow can read; send a JPEG, PNG or WebP file") from None
    except Image.DecompressionBombError as exc:  # Pillow's own check, for sizes far beyond ours
        raise ApiError(413, f"{what} is refused as a decompression bomb ({exc}); at most "
                            f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels are accepted") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ApiError(400, f"{what} cannot be decoded ({exc})") from None
    return np.ascontiguousarray(rgb[..., ::-1])
