"""Draw the chosen emoji over every face: scaled to the face box, rotated with the head, alpha-blended, clipped.

``EmojiCompositor.compose`` draws **in place** on the BGR uint8 frame it is given (when that array is writeable; a
read-only frame is copied first) and returns the frame it drew on. Pack images are BGRA (see :mod:`vcam_emoji.packs`),
so no channel swap happens per frame.

How one face is drawn:

* size and place: the pack's ``face_box`` (where the face is in its images; the whole image for a round emoji) is
  drawn with its longer side ``scale`` x the longer side of the detected face box (1.3 by default, so a round emoji
  covers the head), its centre on the detected box's centre. An avatar image with hair and shoulders around its face
  (``face_box`` about the middle half) is thus drawn about twice that size, with its face on the face;
* rotation: by ``TrackedFace.roll_degrees`` (clockwise on screen when the image-right eye is lower, as the head is),
  about the centre of the pack's face box;
* the scaled and rotated image ("sprite") is built once with premultiplied alpha (no dark fringes) and kept in an LRU
  cache keyed on pack, expression, size (quantised in steps of ``size_step``, 2 % by default) and angle (quantised to
  ``angle_step_degrees``); the cache is bounded both in entries and in bytes;
* a sprite takes 12 bytes a pixel (about 8 MB for a 550 px face box); sprites wider than ``max_sprite_side`` (2048 px
  by default: a face much bigger than the frame) are not cached: the visible part is warped straight into the frame
  instead (slower, about 10 ms at 720p, but memory stays bounded however big the face);
* blending is ``out = premultiplied_emoji + frame * (1 - alpha)`` in exact integer arithmetic (uint16) on the visible
  region only; pixels where the emoji is fully transparent keep their exact value, and nothing outside the frame is
  touched (faces partly or wholly outside the frame, or bigger than it, are clipped);
* faces are drawn in the order given, so later ones cover earlier ones where they overlap.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .packs import FULL_FACE_BOX, EmojiPack
from .types import Expression, TrackedFace, check_frame

log = logging.getLogger(__name__)

_MAX_SOURCES = 16  # premultiplied pack images kept (about 1 MB each at 512 px)


@dataclass(frozen=True)
class CacheInfo:
    hits: int
    misses: int
    entries: int
    bytes: int


@dataclass(frozen=True)
class _Sprite:
    """A scaled, rotated emoji ready to blend: 255-scaled premultiplied colour and 255-scaled inverse alpha."""

    source: np.ndarray  # the pack image it was built from (identity-checked on every hit)
    premul: np.ndarray  # (h, w, 3) uint16: BGR premultiplied by alpha, times 255 (0..65025)
    inv_alpha: np.ndarray  # (h, w, 3) uint16: 255 - alpha, repeated per channel (broadcasting is 3x slower)

    @property
    def nbytes(self) -> int:
        return int(self.premul.nbytes + self.inv_alpha.nbytes)


def _premultiply(bgra: np.ndarray) -> np.ndarray:
    """BGRA uint8 -> BGRA uint8 with BGR premultiplied by alpha (rounded)."""
    b, g, r, a = cv2.split(np.ascontiguousarray(bgra))
    premul = cv2.multiply(cv2.merge([b, g, r]), cv2.merge([a, a, a]), scale=1.0 / 255.0)
    return cv2.merge([*cv2.split(premul), a])


def _rotated_extent(w: float, h: float, angle_degrees: float) -> tuple[float, float]:
    a = math.radians(angle_degrees)
    c, s = abs(math.cos(a)), abs(math.sin(a))
    return w * c + h * s, w * s + h * c


def _warp(
    src: np.ndarray, scale: float, angle: float, out_wh: tuple[int, int], centre: tuple[float, float]
) -> np.ndarray:
    """Scale ``src`` about its centre, rotate it clockwise by ``angle`` degrees, and put its centre at ``centre``."""
    h, w = src.shape[:2]
    if scale < 0.5:  # bilinear alone would alias: area-average down first
        tw, th = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        src = cv2.resize(src, (tw, th), interpolation=cv2.INTER_AREA)
        scale *= max(h, w) / max(th, tw)
        h, w = th, tw
    # cv2 angles are counter-clockwise on screen; roll is clockwise-positive, hence -angle
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -angle, scale)
    m[0, 2] += centre[0] - (w - 1) / 2.0
    m[1, 2] += centre[1] - (h - 1) / 2.0
    return cv2.warpAffine(src, m, out_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _split(premul_bgra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Premultiplied BGRA uint8 -> (premul x 255, 255 - alpha) as uint16 (h, w, 3) arrays."""
    b, g, r, a = cv2.split(premul_bgra)
    premul = cv2.merge([b, g, r]).astype(np.uint16)
    premul *= np.uint16(255)
    inv = cv2.subtract(np.full_like(a, 255), a)
    return premul, cv2.merge([inv, inv, inv]).astype(np.uint16)


def _blend(roi: np.ndarray, premul: np.ndarray, inv_alpha: np.ndarray) -> None:
    """roi (uint8 BGR view into the frame) <- round((premul + roi * inv_alpha) / 255), exact integer arithmetic."""
    acc = roi.astype(np.uint16)
    acc *= inv_alpha
    acc += premul
    acc += 128
    acc += acc >> 8  # (x + 128 + ((x + 128) >> 8)) >> 8 == round(x / 255) for 0 <= x <= 255 * 255
    acc >>= 8
    roi[...] = acc


class EmojiCompositor:
    """Draws emojis over faces; holds the sprite cache, so keep one instance per output stream."""

    def __init__(
        self,
        scale: float = 1.3,
        *,
        rotate: bool = True,
        size_step: float = 0.02,
        angle_step_degrees: float = 2.0,
        max_sprite_side: int = 2048,
        max_cache_entries: int = 64,
        max_cache_bytes: int = 128 * 1024 * 1024,
    ) -> None:
        if not (math.isfinite(scale) and 0.1 <= scale <= 10.0):
            raise ValueError(f"scale: expected a number in [0.1, 10], got {scale!r}")
        if not (0.0 <= size_step <= 0.5):
            raise ValueError(f"size_step: expected a fraction in [0, 0.5], got {size_step!r}")
        if not (0.0 <= angle_step_degrees <= 45.0):
            raise ValueError(f"angle_step_degrees: expected a value in [0, 45], got {angle_step_degrees!r}")
        if max_sprite_side < 16:
            raise ValueError(f"max_sprite_side: expected at least 16, got {max_sprite_side!r}")
        if max_cache_entries < 1 or max_cache_bytes < 1:
            raise ValueError(
                f"max_cache_entries / max_cache_bytes: expected at least 1, got {max_cache_entries} / {max_cache_bytes}"
            )
        self.scale = float(scale)
        self.rotate = rotate
        self.size_step = float(size_step)
        self.angle_step_degrees = float(angle_step_degrees)
        self.max_sprite_side = int(max_sprite_side)
        self.max_cache_entries = int(max_cache_entries)
        self.max_cache_bytes = int(max_cache_bytes)
        self._cache: OrderedDict[tuple, _Sprite] = OrderedDict()
        self._sources: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_bytes = 0
        self._hits = 0
        self._misses = 0

    # ---------------------------------------------------------------------------------------------------------------
    # public API

    def compose(
        self,
        frame_bgr: np.ndarray,
        faces: Sequence[tuple[TrackedFace, Expression]],
        pack: EmojiPack,
    ) -> np.ndarray:
        """Draw ``pack``'s emoji for each (face, expression) onto ``frame_bgr`` in place and return the frame."""
        frame = check_frame(frame_bgr, "frame_bgr")
        if not frame.flags.writeable:
            frame = frame.copy()
        for face, expression in faces:
            self._draw_one(frame, face, Expression(expression), pack)
        return frame

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._hits, self._misses, len(self._cache), self._cache_bytes)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._sources.clear()
        self._cache_bytes = 0

    def sprite_geometry(
        self,
        face: TrackedFace,
        face_box: Sequence[float] = FULL_FACE_BOX,
        image_wh: tuple[int, int] = (1, 1),
    ) -> tuple[float, float, int, float]:
        """(image centre x, image centre y, quantised length in px of the image's longer side, quantised angle in
        degrees) for drawing an image of ``image_wh`` pixels whose face is at ``face_box`` (fractions of the image,
        see :mod:`vcam_emoji.packs`) over ``face``."""
        x0, y0, x1, y1 = (float(v) for v in face.box_xyxy)
        w, h = (float(v) for v in image_wh)
        fx0, fy0, fx1, fy1 = (float(v) for v in face_box)
        face_side = max((fx1 - fx0) * w, (fy1 - fy0) * h)  # the pack's face box, in image pixels
        side = self.scale * max(x1 - x0, y1 - y0) * max(w, h) / face_side
        has_eyes = np.shape(face.landmarks)[0] >= 2 if np.ndim(face.landmarks) == 2 else False
        angle = self._quantise_angle(face.roll_degrees if self.rotate and has_eyes else 0.0)
        side_q = self._quantise_side(side)
        # from the face box's centre to the image's centre, scaled and turned as _warp turns the image
        dx, dy = w / 2.0 - (fx0 + fx1) / 2.0 * w, h / 2.0 - (fy0 + fy1) / 2.0 * h
        k = side_q / max(w, h)
        a = math.radians(-angle)
        ox, oy = k * (math.cos(a) * dx + math.sin(a) * dy), k * (-math.sin(a) * dx + math.cos(a) * dy)
        return (x0 + x1) / 2.0 + ox, (y0 + y1) / 2.0 + oy, side_q, angle

    # ---------------------------------------------------------------------------------------------------------------
    # internals

    def _quantise_side(self, side: float) -> int:
        if not math.isfinite(side) or side < 2.0:
            return 0
        if self.size_step > 0.0:
            step = math.log1p(self.size_step)
            side = math.exp(round(math.log(side) / step) * step)
        return max(2, int(round(side)))

    def _quantise_angle(self, angle: float) -> float:
        if not math.isfinite(angle):
            return 0.0
        angle = (angle + 180.0) % 360.0 - 180.0
        if self.angle_step_degrees > 0.0:
            angle = round(angle / self.angle_step_degrees) * self.angle_step_degrees
        return 0.0 if abs(angle) < 1e-6 else float(angle)

    def _draw_one(self, frame: np.ndarray, face: TrackedFace, expression: Expression, pack: EmojiPack) -> None:
        image = pack.images[expression]
        h, w = image.shape[:2]
        cx, cy, side, angle = self.sprite_geometry(face, pack.face_box, (w, h))
        if side == 0 or not (math.isfinite(cx) and math.isfinite(cy)):
            log.debug("face %s: degenerate box %s; not drawn", face.track_id, face.box_xyxy)
            return
        ew, eh = _rotated_extent(w * side / max(h, w), h * side / max(h, w), angle)
        if max(ew, eh) > self.max_sprite_side:
            self._draw_direct(frame, image, cx, cy, side, angle)
            return
        sprite = self._sprite(pack, expression, image, side, angle)
        sh, sw = sprite.premul.shape[:2]
        x0 = math.floor(cx - sw / 2.0 + 0.5)  # round half up: shifting a face by n px shifts the emoji by n px
        y0 = math.floor(cy - sh / 2.0 + 0.5)
        fh, fw = frame.shape[:2]
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(fw, x0 + sw), min(fh, y0 + sh)
        if fx0 >= fx1 or fy0 >= fy1:
            return  # entirely outside the frame
        sl = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
        _blend(frame[fy0:fy1, fx0:fx1], sprite.premul[sl], sprite.inv_alpha[sl])

    def _sprite(self, pack: EmojiPack, expression: Expression, image: np.ndarray, side: int, angle: float) -> _Sprite:
        key = (pack.name, str(pack.folder), int(expression), side, angle)
        sprite = self._cache.get(key)
        if sprite is not None and sprite.source is image:
            self._cache.move_to_end(key)
            self._hits += 1
            return sprite
        self._misses += 1
        sprite = self._build_sprite(image, side, angle)
        old = self._cache.pop(key, None)
        if old is not None:
            self._cache_bytes -= old.nbytes
        self._cache[key] = sprite
        self._cache_bytes += sprite.nbytes
        while len(self._cache) > 1 and (
            len(self._cache) > self.max_cache_entries or self._cache_bytes > self.max_cache_bytes
        ):
            _, evicted = self._cache.popitem(last=False)
            self._cache_bytes -= evicted.nbytes
        return sprite

    def _premultiplied(self, image: np.ndarray) -> np.ndarray:
        """The premultiplied BGRA of a pack image, kept for the last few images used."""
        key = id(image)
        entry = self._sources.get(key)
        if entry is not None and entry[0] is image:
            self._sources.move_to_end(key)
            return entry[1]
        premul = _premultiply(image)
        self._sources[key] = (image, premul)
        while len(self._sources) > _MAX_SOURCES:
            self._sources.popitem(last=False)
        return premul

    def _build_sprite(self, image: np.ndarray, side: int, angle: float) -> _Sprite:
        h, w = image.shape[:2]
        scale = side / max(h, w)
        ew, eh = _rotated_extent(w * scale, h * scale, angle)
        ow, oh = max(1, int(math.ceil(ew - 1e-6))), max(1, int(math.ceil(eh - 1e-6)))
        warped = _warp(self._premultiplied(image), scale, angle, (ow, oh), ((ow - 1) / 2.0, (oh - 1) / 2.0))
        premul, inv_alpha = _split(warped)
        return _Sprite(image, premul, inv_alpha)

    def _draw_direct(self, frame: np.ndarray, image: np.ndarray, cx: float, cy: float, side: int, angle: float) -> None:
        """Warp only the visible part of a huge emoji straight into the frame (not cached)."""
        h, w = image.shape[:2]
        scale = side / max(h, w)
        ew, eh = _rotated_extent(w * scale, h * scale, angle)
        fh, fw = frame.shape[:2]
        fx0, fy0 = max(0, int(math.floor(cx - ew / 2.0))), max(0, int(math.floor(cy - eh / 2.0)))
        fx1, fy1 = min(fw, int(math.ceil(cx + ew / 2.0))), min(fh, int(math.ceil(cy + eh / 2.0)))
        if fx0 >= fx1 or fy0 >= fy1:
            return
        # the emoji centre, in the coordinates of the visible region (pixel centres at integers)
        centre = (cx - 0.5 - fx0, cy - 0.5 - fy0)
        warped = _warp(self._premultiplied(image), scale, angle, (fx1 - fx0, fy1 - fy0), centre)
        premul, inv_alpha = _split(warped)
        _blend(frame[fy0:fy1, fx0:fx1], premul, inv_alpha)
