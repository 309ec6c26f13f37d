"""Tray icon images (Pillow) for each state: the emoji shown for the main face while running, and distinct badges
for paused, demo source and error.

    running   the current emoji of the active pack (neutral until a face is seen)
    starting  the same, dimmed
    demo      the emoji with a blue "D" badge (the bundled demo clip is the source, not a camera)
    paused    a grey disc with a white pause sign (no emoji: nothing is being watched)
    error     the emoji, greyed, with a red "!" badge (the tooltip and the menu say what is wrong)
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

ICON_SIZE = 64
KINDS = ("running", "starting", "demo", "paused", "error")
BADGE_COLOURS = {"demo": (33, 110, 220, 255), "error": (210, 30, 30, 255)}
BADGE_TEXT = {"demo": "D", "error": "!"}


def emoji_image(bgra: np.ndarray, size: int = ICON_SIZE) -> Image.Image:
    """A pack image (BGRA uint8, H x W x 4) as a square RGBA Pillow image of ``size`` pixels, aspect kept."""
    if bgra.ndim != 3 or bgra.shape[2] != 4 or bgra.dtype != np.uint8:
        raise ValueError(f"emoji: expected a BGRA uint8 array (H, W, 4), got {bgra.dtype} {bgra.shape}")
    rgba = Image.fromarray(np.ascontiguousarray(bgra[..., [2, 1, 0, 3]]), "RGBA")
    rgba.thumbnail((size, size), Image.LANCZOS)
    out = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    out.paste(rgba, ((size - rgba.width) // 2, (size - rgba.height) // 2), rgba)
    return out


def _disc(size: int, fill: tuple[int, ...], outline: tuple[int, ...]) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A transparent square with an outlined disc filling it, and a pen to draw on it."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    m = size // 16
    draw.ellipse((m, m, size - m - 1, size - m - 1), fill=fill, outline=outline, width=max(1, size // 32))
    return img, draw


def _placeholder_face(size: int) -> Image.Image:
    """A plain yellow face, for when no pack image is available."""
    img, draw = _disc(size, (255, 204, 51, 255), (120, 90, 0, 255))
    eye = size // 10
    for x in (size * 0.35, size * 0.65):
        draw.ellipse((x - eye / 2, size * 0.35, x + eye / 2, size * 0.35 + eye), fill=(60, 40, 0, 255))
    draw.line((size * 0.32, size * 0.68, size * 0.68, size * 0.68), fill=(60, 40, 0, 255), width=max(1, size // 20))
    return img


def _font(px: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def _badge(img: Image.Image, kind: str) -> Image.Image:
    size = img.width
    r = size * 0.23
    inset = max(2, size // 20)  # off the edge: a tray that crops or rounds its icons would cut it
    cx, cy = size - r - inset, size - r - inset
    draw = ImageDraw.Draw(img)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=BADGE_COLOURS[kind], outline=(255, 255, 255, 255),
                 width=max(1, size // 32))
    draw.text((cx, cy), BADGE_TEXT[kind], fill=(255, 255, 255, 255), font=_font(int(r * 1.5)), anchor="mm")
    return img


def _paused(size: int) -> Image.Image:
    img, draw = _disc(size, (110, 110, 110, 255), (60, 60, 60, 255))
    bar_w, bar_h = size * 0.12, size * 0.4
    for x in (size * 0.38, size * 0.62):
        draw.rectangle((x - bar_w / 2, (size - bar_h) / 2, x + bar_w / 2, (size + bar_h) / 2),
                       fill=(255, 255, 255, 255))
    return img


def xembed_picture(icon: Image.Image, size_wh: tuple[int, int]) -> tuple[Image.Image, Image.Image]:
    """``icon`` (RGBA) for an X11 tray window of ``size_wh`` pixels, which has no alpha channel: the icon fitted into
    the window as a square, centred (a tray may give a window that is not square), as an RGB picture and a 1-bit mask
    of the pixels to draw (alpha >= 128); the others keep the tray's own background."""
    w, h = size_wh
    if w < 1 or h < 1:
        raise ValueError(f"size_wh: expected a positive (width, height), got {size_wh}")
    side = min(w, h)
    fitted = icon.convert("RGBA").resize((side, side), Image.LANCZOS)
    canvas = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    canvas.paste(fitted, ((w - side) // 2, (h - side) // 2))
    mask = canvas.getchannel("A").point(lambda a: 255 if a >= 128 else 0).convert("1")
    return canvas.convert("RGB"), mask


def render_icon(kind: str, emoji: np.ndarray | None, size: int = ICON_SIZE) -> Image.Image:
    """The icon for ``kind`` (one of KINDS); ``emoji`` is the pack image (BGRA) to show, or None for a plain face."""
    if kind not in KINDS:
        raise ValueError(f"icon kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "paused":
        return _paused(size)
    img = emoji_image(emoji, size) if emoji is not None else _placeholder_face(size)
    if kind == "starting":
        img.putalpha(img.getchannel("A").point(lambda a: a * 6 // 10))
    elif kind == "error":
        grey = ImageEnhance.Color(img).enhance(0.15)
        img = _badge(grey, "error")
    elif kind == "demo":
        img = _badge(img, "demo")
    return img


class IconCache:
    """Renders each (kind, pack, emotion) once; the tray asks for the icon twice a second."""

    def __init__(self, size: int = ICON_SIZE, max_entries: int = 64) -> None:
        self.size = size
        self._max = max_entries
        self._images: OrderedDict[tuple, Image.Image] = OrderedDict()

    def get(self, kind: str, key: tuple, emoji: np.ndarray | None) -> Image.Image:
        """The icon for ``kind``; ``key`` names the emoji (e.g. (pack, emotion)) so equal requests share one image."""
        cache_key = (kind, *key) if kind != "paused" else ("paused",)
        image = self._images.get(cache_key)
        if image is None:
            image = render_icon(kind, emoji, self.size)
            self._images[cache_key] = image
            while len(self._images) > self._max:
                self._images.popitem(last=False)
        else:
            self._images.move_to_end(cache_key)
        return image
