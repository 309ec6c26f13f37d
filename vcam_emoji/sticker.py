"""Stickers: one expression of a pack as the square transparent picture messaging apps take, and the pack's sheet.

A sticker is 512 x 512 with a transparent background (the pack's image fitted into the square, its aspect kept), as
PNG or WebP; WebP stickers are kept under :data:`MAX_WEBP_BYTES` (100 KB, what WhatsApp asks): lossless when that
fits, else lossy at the best quality that does. The sheet shows all seven expressions in a row, named under each;
``avatar create`` writes it into the pack as ``preview.png``.

Files are written by :mod:`vcam_emoji.fileio` (a temporary file in the same folder, renamed at the end), never over
an existing file unless asked (``force``); :func:`save_sticker_to` picks a new timestamped name in a folder (the
tray's "Save current emoji as sticker"), numbered when that name is taken.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import OutputError
from .fileio import check_output, write_atomic
from .packs import EmojiPack
from .types import Expression

STICKER_SIZE = 512
MAX_WEBP_BYTES = 100 * 1024
FORMATS = {".png": "PNG", ".webp": "WEBP"}
SHEET_TILE = 256
LABEL_GREY = (110, 110, 110, 255)  # readable on light and dark backgrounds


def _rgba(pack: EmojiPack, expression: Expression) -> np.ndarray:
    bgra = pack.image(Expression(expression))
    return np.ascontiguousarray(bgra[..., [2, 1, 0, 3]])


def fit_square(rgba: np.ndarray, size: int) -> np.ndarray:
    """``rgba`` scaled to fit a ``size`` square (aspect kept, centred, transparent around it)."""
    h, w = rgba.shape[:2]
    scale = size / max(h, w)
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    img = Image.fromarray(rgba, "RGBA")
    if (tw, th) != (w, h):
        img = img.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(img, ((size - tw) // 2, (size - th) // 2))
    return np.asarray(canvas)


def sticker_image(pack: EmojiPack, expression: Expression, size: int = STICKER_SIZE) -> np.ndarray:
    """One expression of ``pack`` as an RGBA (size, size, 4) uint8 array."""
    return fit_square(_rgba(pack, expression), size)


def sticker_sheet(pack: EmojiPack, tile: int = SHEET_TILE) -> np.ndarray:
    """All seven expressions in a row, FER order, each named under it; RGBA, transparent background."""
    label_h = max(12, tile // 8)
    sheet = Image.new("RGBA", (tile * len(Expression), tile + label_h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=max(10, label_h * 2 // 3))
    for i, expression in enumerate(Expression):
        sheet.paste(Image.fromarray(sticker_image(pack, expression, tile), "RGBA"), (i * tile, 0))
        draw.text((i * tile + tile / 2, tile + label_h / 2), expression.label, fill=LABEL_GREY, font=font,
                  anchor="mm")
    return np.asarray(sheet)


def encode(rgba: np.ndarray, fmt: str) -> bytes:
    """``rgba`` as PNG or WEBP bytes; WebP under MAX_WEBP_BYTES (lossless if it fits, else the best quality)."""
    img = Image.fromarray(rgba, "RGBA")
    if fmt == "PNG":
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        return buf.getvalue()
    if fmt != "WEBP":
        raise ValueError(f"format: expected PNG or WEBP, got {fmt!r}")
    buf = io.BytesIO()
    img.save(buf, format="WEBP", lossless=True, method=6)
    if buf.tell() <= MAX_WEBP_BYTES:
        return buf.getvalue()
    for quality in (90, 80, 70, 60, 50, 40, 30, 20):
        buf = io.BytesIO()
        img.save(buf, format="WEBP", quality=quality, alpha_quality=100, method=6)
        if buf.tell() <= MAX_WEBP_BYTES:
            return buf.getvalue()
    raise OutputError(f"the sticker does not fit in {MAX_WEBP_BYTES // 1024} KB as WebP even at quality 20; "
                      "save it as .png instead")


def format_for(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        given = path.suffix or "a name without an extension"
        raise OutputError(f"{path}: a sticker is written as .png or .webp, not {given}; end the name with .png or "
                          ".webp")
    return fmt


def save_sticker(pack: EmojiPack, expression: Expression, path: str | Path, *, force: bool = False) -> Path:
    """Write one expression of ``pack`` as a sticker to ``path`` (.png or .webp)."""
    path = Path(path).expanduser()
    fmt = format_for(path)
    check_output(path, replace=force, what="sticker")  # before encoding: a taken name is said at once
    return write_atomic(path, encode(sticker_image(pack, expression), fmt), replace=force, what="sticker")


def save_sheet(pack: EmojiPack, path: str | Path, *, force: bool = False) -> Path:
    path = Path(path).expanduser()
    fmt = format_for(path)
    check_output(path, replace=force, what="sticker sheet")
    return write_atomic(path, encode(sticker_sheet(pack), fmt), replace=force, what="sticker sheet")


def save_sticker_to(folder: Path, pack: EmojiPack, expression: Expression, now: datetime) -> Path:
    """Save a PNG sticker in ``folder`` (created if missing) under a new name, e.g.
    ``emoji-cam-twemoji-happy-20250101-120000.png`` (``-2``, ``-3`` ... when taken). Returns its path."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder} ({exc.strerror}); check its permissions") from None
    safe_pack = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in pack.name)
    name = f"emoji-cam-{safe_pack}-{Expression(expression).label}-{now:%Y%m%d-%H%M%S}.png"
    return write_atomic(folder / name, encode(sticker_image(pack, expression), "PNG"), numbered=True, what="sticker")
