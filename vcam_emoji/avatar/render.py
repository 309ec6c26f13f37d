"""Avatar attributes + an expression -> a square RGBA picture: python_avatars writes the SVG, resvg draws it.

The picture is a bust (hair or hat, head, shoulders) on a transparent background, cropped the same way for every
avatar: a square of :data:`CROP_SVG` in the Avataaars drawing's own units (264 x 280), wide and tall enough for the
widest hair and the tallest hat; anything that would still touch the border (only the bride's veil does) fades out
over the last few pixels, so the border is always transparent. :data:`FACE_BOX` is where the face is in that
square, calibrated on the two detectors' boxes (eye distance about 0.39 of the box's longer side, box centre about
0.16 of it below the eyes); pack.json's ``face_box`` carries it, so the compositor puts the avatar's face on the face.

Speed: a picture is drawn as three layers (body and clothes, the face, the hair/hat with beard and glasses) that
are stacked in the drawing's own order. Only the face changes with the expression, so :class:`AvatarRenderer`
keeps the other two for the last few avatars: the seven expressions of one avatar cost about one full drawing plus
seven small ones, and the next expression of an avatar just drawn costs only the small one.
"""

from __future__ import annotations

import copy
import io
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Iterable
from importlib.metadata import version as _version

import numpy as np
import python_avatars as pa
import resvg_py
from PIL import Image

from ..types import Expression
from .attributes import NO_HAT, SAME_AS_HAIR, AvatarAttributes, AvatarError
from .expressions import EXPRESSION_FACES

SVG_NS = "{http://www.w3.org/2000/svg}"
IMAGE_SIZE = 512
CROP_SVG = (-23.0, -22.0, 310.0)  # x, y, side of the square cut from the drawing, in its units
FACE_BOX_SVG = (55.5, 56.5, 208.5, 209.5)  # x0, y0, x1, y1: the face, in the drawing's units
FACE_BOX = tuple(round((v - (CROP_SVG[0] if i % 2 == 0 else CROP_SVG[1])) / CROP_SVG[2], 4)
                 for i, v in enumerate(FACE_BOX_SVG))
LAYERS = (("Body", "Clothing"), ("Face",), ("Top",))  # drawn in this order; only "Face" changes with the expression
MIN_SIZE, MAX_SIZE = 16, 2048
RENDERER = f"python_avatars {_version('python_avatars')} + resvg-py {_version('resvg-py')}"  # in pack.json


def _colour(option_enum, value: str) -> str:
    return value if value.startswith("#") else option_enum[value.upper()].value


def build_avatar(attrs: AvatarAttributes, expression: Expression) -> pa.Avatar:
    """The python_avatars Avatar for ``attrs`` with ``expression``'s eyes, eyebrows and mouth. Every argument is
    given: python_avatars' own defaults include a random one (its clothing)."""
    face = EXPRESSION_FACES[Expression(expression)]
    eyebrows = face.eyebrows.upper() + ("_NATURAL" if attrs.eyebrows == "natural" else "")
    top = pa.HatType[attrs.hat.upper()] if attrs.hat != NO_HAT else pa.HairType[attrs.hair.upper()]
    hair_color = _colour(pa.HairColor, attrs.hair_color)
    facial_hair_color = hair_color if attrs.facial_hair_color == SAME_AS_HAIR else _colour(pa.HairColor,
                                                                                          attrs.facial_hair_color)
    return pa.Avatar(
        style=pa.AvatarStyle.TRANSPARENT,
        background_color=pa.BackgroundColor.WHITE,
        top=top,
        hat_color=_colour(pa.ClothingColor, attrs.hat_color),
        eyebrows=pa.EyebrowType[eyebrows],
        eyes=pa.EyeType[face.eyes.upper()],
        nose=pa.NoseType[attrs.nose.upper()],
        mouth=pa.MouthType[face.mouth.upper()],
        facial_hair=pa.FacialHairType[attrs.facial_hair.upper()],
        skin_color=_colour(pa.SkinColor, attrs.skin),
        hair_color=hair_color,
        facial_hair_color=facial_hair_color,
        accessory=pa.AccessoryType[attrs.accessory.upper()],
        clothing=pa.ClothingType[attrs.clothing.upper()],
        clothing_color=_colour(pa.ClothingColor, attrs.clothing_color),
        shirt_graphic=pa.ClothingGraphic[attrs.graphic.upper()],
        shirt_text="",
    )


def _main_group(root: ET.Element) -> ET.Element:
    for child in root:
        if child.tag == f"{SVG_NS}g":
            return child
    raise AvatarError("python_avatars wrote an SVG without its main group; reinstall python_avatars==1.4.1")


def _cropped_svg(root: ET.Element, size: int, keep: Iterable[str] | None) -> str:
    root = copy.deepcopy(root)
    if keep is not None:
        keep = tuple(keep)
        main = _main_group(root)
        for part in list(main):
            if not part.get("id", "").endswith(tuple(f"_{k}" for k in keep)):
                main.remove(part)
    x, y, side = CROP_SVG
    root.set("width", str(size))
    root.set("height", str(size))
    root.set("viewBox", f"{x:g} {y:g} {side:g} {side:g}")
    return ET.tostring(root, encoding="unicode")


def avatar_svg(attrs: AvatarAttributes, expression: Expression, size: int = IMAGE_SIZE) -> str:
    """The SVG of one expression, cropped as the pack images are (a browser can show it as it is)."""
    return _cropped_svg(ET.fromstring(build_avatar(attrs, expression).render()), _check_size(size), None)


def _check_size(size: int) -> int:
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise AvatarError(f"image size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}, got {size!r}")
    return size


def _draw(svg: str) -> np.ndarray:
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, skip_system_fonts=True))
    with Image.open(io.BytesIO(png)) as img:
        return np.asarray(img.convert("RGBA"), dtype=np.uint8)


def _over(bottom: np.ndarray, top: np.ndarray) -> np.ndarray:
    return np.asarray(Image.alpha_composite(Image.fromarray(bottom, "RGBA"), Image.fromarray(top, "RGBA")))


def _feather(rgba: np.ndarray) -> np.ndarray:
    """Fade alpha to 0 over the outermost few pixels, so nothing ends in a hard cut at the border."""
    size = rgba.shape[0]
    band = max(2, size // 128)
    ramp = np.minimum(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)[::-1]) / band
    ramp = np.clip(ramp, 0.0, 1.0)
    weight = np.minimum(ramp[:, None], ramp[None, :])
    out = rgba.copy()
    out[..., 3] = np.round(out[..., 3] * weight).astype(np.uint8)
    return out


class AvatarRenderer:
    """Draws avatars; keeps the expression-independent layers of the last ``cache_size`` avatars (thread-safe)."""

    def __init__(self, size: int = IMAGE_SIZE, cache_size: int = 4) -> None:
        self.size = _check_size(size)
        self.cache_size = max(1, int(cache_size))
        self._layers: OrderedDict[AvatarAttributes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def render(self, attrs: AvatarAttributes, expression: Expression) -> np.ndarray:
        """One expression as an RGBA uint8 (size, size, 4) array, straight alpha, transparent border."""
        expression = Expression(expression)
        root = ET.fromstring(build_avatar(attrs, expression).render())
        body, top = self._fixed_layers(attrs, root)
        face = _draw(_cropped_svg(root, self.size, LAYERS[1]))
        return _feather(_over(_over(body, face), top))

    def render_all(self, attrs: AvatarAttributes) -> dict[Expression, np.ndarray]:
        return {e: self.render(attrs, e) for e in Expression}

    def render_png(self, attrs: AvatarAttributes, expression: Expression) -> bytes:
        """PNG bytes, quickly compressed (for a preview; pack files are compressed harder)."""
        return encode_png(self.render(attrs, expression), fast=True)

    def _fixed_layers(self, attrs: AvatarAttributes, root: ET.Element) -> tuple[np.ndarray, np.ndarray]:
        with self._lock:
            cached = self._layers.get(attrs)
            if cached is not None:
                self._layers.move_to_end(attrs)
                return cached
        layers = (_draw(_cropped_svg(root, self.size, LAYERS[0])), _draw(_cropped_svg(root, self.size, LAYERS[2])))
        with self._lock:
            self._layers[attrs] = layers
            while len(self._layers) > self.cache_size:
                self._layers.popitem(last=False)
        return layers


def encode_png(rgba: np.ndarray, *, fast: bool = False) -> bytes:
    """PNG bytes: the smallest file (pack images), or ``fast`` (a few ms, about twice the size: previews)."""
    buf = io.BytesIO()
    options = {"compress_level": 1} if fast else {"optimize": True}
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG", **options)
    return buf.getvalue()


def render_expression(attrs: AvatarAttributes, expression: Expression, size: int = IMAGE_SIZE) -> np.ndarray:
    """One expression of ``attrs`` as an RGBA array (no cache: use an AvatarRenderer to draw several)."""
    return AvatarRenderer(size, cache_size=1).render(attrs, expression)
