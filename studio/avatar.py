"""The Avatar page's side of the server: the avatar library (:mod:`vcam_emoji.avatar`) behind a few API routes.

Everything is drawn here, server-side, by the library (python_avatars + resvg): the page only shows the PNGs.

* ``GET /avatar/options``: every attribute (what ``vcam-emoji avatar options`` lists), its values, whether a colour
  ``#RRGGBB`` is allowed, its default; the user's avatar packs with their attributes (to edit one).
* ``GET /avatar/random``: the attributes of random avatar number ``seed`` (the library's, so the same seed gives the
  same avatar as ``avatar create --seed``).
* ``GET /avatar/image``: one expression of the avatar given by the query's attributes, as a PNG.
* ``GET /avatar/sticker``: the same as a 512x512 sticker to download, PNG or WebP (:mod:`vcam_emoji.sticker`).
* ``POST /avatar/pack``: save the avatar as a pack in the user packs folder, through the library
  (``create_avatar_pack``: drawn into a temporary folder there, checked, renamed into place). A name that is taken
  is refused with ``"exists": true`` until the request says ``"overwrite": true`` (like ``--force``); a built-in
  pack's name, or a name that is not a plain folder name, is refused outright.

Bad attributes are answered 400 with the library's message for each field (``"fields": {"hair": ...}``), so the page
shows it next to that field. Drawing is serialised (one avatar at a time; the library keeps the layers that do not
change with the expression, so the seven pictures of one avatar cost about one full drawing), and the last PNGs are
kept, so the page's debounced preview stays cheap on a small CPU.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import anyio
import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vcam_emoji.avatar import (OPTIONS, AvatarAttributes, AvatarError, AvatarRenderer, AvatarWriteError,
                               create_avatar_pack)
from vcam_emoji.avatar.attributes import check_value
from vcam_emoji.avatar.pack import check_name
from vcam_emoji.avatar.render import IMAGE_SIZE, encode_png
from vcam_emoji.errors import EmojiCamError, OutputError, PackError
from vcam_emoji.packs import user_packs_dir
from vcam_emoji.sticker import STICKER_SIZE, encode, fit_square
from vcam_emoji.types import EXPRESSION_LABELS, Expression

from .limits import ApiError, read_json

log = logging.getLogger(__name__)

IMAGE_SIZES = (96, 128, 192, 256, 512)
DEFAULT_IMAGE_SIZE = 192
STICKER_FORMATS = {"png": ("PNG", "image/png"), "webp": ("WEBP", "image/webp")}
PNG_CACHE = 64  # pictures kept (the seven of a few avatars, at the page's size)
MAX_SEED = 2**31 - 1
QUERY_KEYS = ("expression", "size", "format", "token")  # the other query parameters are attributes


def _field_message(name: str, exc: Exception) -> str:
    """The library's message without the command-line flag it names (the page has no flags)."""
    return str(exc).replace(f" (--{name.replace('_', '-')})", "")


def parse_attributes(values: Mapping[str, object]) -> AvatarAttributes:
    """The avatar described by ``values`` (attribute -> value; missing ones take their default), or ApiError 400
    naming every field that is wrong, each with the library's message."""
    fields: dict[str, str] = {}
    checked: dict[str, str] = {}
    for name, value in values.items():
        if name not in OPTIONS:
            fields[name] = f"{name!r} is not an avatar attribute; the attributes are: {', '.join(OPTIONS)}"
            continue
        if not isinstance(value, str):
            fields[name] = f"{name}: expected a string, got {value!r}"
            continue
        try:
            checked[name] = check_value(name, value)
        except AvatarError as exc:
            fields[name] = _field_message(name, exc)
    if fields:
        raise ApiError(400, "; ".join(fields.values()), fields)
    return AvatarAttributes(**checked)


def _expression(label: str | None) -> Expression:
    try:
        return Expression.from_label(label or "happy")
    except ValueError as exc:
        raise ApiError(400, str(exc), {"expression": str(exc)}) from None


class AvatarDrawing:
    """Draws avatars for the page: one at a time, a renderer per picture size, the last PNGs kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._renderers: dict[int, AvatarRenderer] = {}
        self._pngs: OrderedDict[tuple[AvatarAttributes, Expression, int], bytes] = OrderedDict()
        self._save_lock = threading.Lock()

    def rgba(self, attrs: AvatarAttributes, expression: Expression, size: int) -> np.ndarray:
        with self._lock:
            renderer = self._renderers.get(size)
            if renderer is None:
                renderer = self._renderers[size] = AvatarRenderer(size, cache_size=4)
            try:
                return renderer.render(attrs, expression)
            except AvatarError as exc:
                raise ApiError(500, f"the avatar could not be drawn: {exc}") from None

    def png(self, attrs: AvatarAttributes, expression: Expression, size: int) -> bytes:
        if size not in IMAGE_SIZES:
            raise ApiError(400, f"size {size} is not offered; use one of {', '.join(map(str, IMAGE_SIZES))}",
                           {"size": "not offered"})
        key = (attrs, expression, size)
        with self._lock:
            cached = self._pngs.get(key)
            if cached is not None:
                self._pngs.move_to_end(key)
                return cached
        png = encode_png(self.rgba(attrs, expression, size))
        with self._lock:
            self._pngs[key] = png
            while len(self._pngs) > PNG_CACHE:
                self._pngs.popitem(last=False)
        return png

    def sticker(self, attrs: AvatarAttributes, expression: Expression, fmt: str) -> bytes:
        rgba = fit_square(self.rgba(attrs, expression, IMAGE_SIZE), STICKER_SIZE)
        try:
            return encode(rgba, fmt)
        except OutputError as exc:
            raise ApiError(500, str(exc)) from None

    def save_pack(self, name: str, attrs: AvatarAttributes, overwrite: bool, root: Path | None = None) -> dict:
        """Write the pack (the library's create_avatar_pack) into the user packs folder; see the module doc."""
        root = root or user_packs_dir()
        try:
            name = check_name(name)
        except AvatarError as exc:
            raise ApiError(400, str(exc), {"name": str(exc)}) from None
        with self._save_lock:
            folder = root / name
            if (folder.exists() or folder.is_symlink()) and not overwrite:
                what = _describe_existing(folder)
                message = (f"a pack called {name!r} exists already ({what}); replace it, or choose another name")
                raise ApiError(409, message, {"name": message}, extra={"exists": True})
            try:
                result = create_avatar_pack(name, attrs, root=root, force=overwrite)
            except AvatarWriteError as exc:  # the disk or the folder's permissions, not the name: no field to blame
                raise ApiError(500, f"the pack could not be written: {exc}") from None
            except AvatarError as exc:
                raise ApiError(409, str(exc), {"name": str(exc)}) from None
            except (PackError, EmojiCamError) as exc:
                raise ApiError(500, f"the pack could not be written: {exc}") from None
        log.info("Studio saved avatar pack %r in %s", name, result.folder)
        return {"name": result.pack.name, "folder": str(result.folder), "replaced": result.replaced,
                "attributes": result.attributes.to_json()}


def _describe_existing(folder: Path) -> str:
    from vcam_emoji.packs import read_manifest

    try:
        data = read_manifest(folder)
    except PackError:
        return f"the folder {folder}, which is not a valid pack"
    if "avatar" in data:
        return f"an avatar pack in {folder}"
    return f"a pack that is not an avatar, in {folder}: its pictures would be lost"


def _hex_values(option) -> dict[str, str]:
    """The #rrggbb of each named colour of a colour attribute (python_avatars' enum values), for the page's swatches."""
    return {value: member.value.lower() for value in option.values
            if (member := option.enum.__members__.get(value.upper())) is not None
            and isinstance(member.value, str) and member.value.startswith("#")}


# --------------------------------------------------------------------------------------------------------- routes
def _drawing(request: Request) -> AvatarDrawing:
    return request.app.state.studio.avatars


def _query_attributes(request: Request) -> AvatarAttributes:
    return parse_attributes({k: v for k, v in request.query_params.items() if k not in QUERY_KEYS})


async def get_avatar_options(request: Request) -> Response:
    state = request.app.state.studio
    defaults = AvatarAttributes()
    names = await anyio.to_thread.run_sync(state.catalog.names)
    loaded = state.catalog.packs
    packs = [{"name": n, "folder": str(loaded[n].folder), "attributes": dict(loaded[n].avatar)}
             for n in names if n in loaded and loaded[n].avatar and not loaded[n].builtin]
    return JSONResponse({
        "attributes": [{"name": name, "help": option.help, "values": list(option.values), "colour": option.colour,
                        "default": getattr(defaults, name), **({"hex": _hex_values(option)} if option.colour else {})}
                       for name, option in OPTIONS.items()],
        "expressions": list(EXPRESSION_LABELS), "sizes": list(IMAGE_SIZES), "default_size": DEFAULT_IMAGE_SIZE,
        "sticker_formats": list(STICKER_FORMATS), "packs": packs, "user_folder": str(user_packs_dir()),
    })


async def get_avatar_random(request: Request) -> Response:
    from vcam_emoji.avatar import random_attributes

    text = request.query_params.get("seed")
    if text is None:
        seed = random.SystemRandom().randrange(MAX_SEED)
    else:
        try:
            seed = int(text)
        except ValueError:
            seed = -1
        if not 0 <= seed <= MAX_SEED:
            raise ApiError(400, f"seed {text!r}: expected a whole number from 0 to {MAX_SEED}", {"seed": "bad seed"})
    return JSONResponse({"seed": seed, "attributes": random_attributes(seed).to_json()})


async def get_avatar_image(request: Request) -> Response:
    attrs = _query_attributes(request)
    expression = _expression(request.query_params.get("expression"))
    text = request.query_params.get("size", str(DEFAULT_IMAGE_SIZE))
    try:
        size = int(text)
    except ValueError:
        raise ApiError(400, f"size must be a number: one of {', '.join(map(str, IMAGE_SIZES))}",
                       {"size": "not a number"}) from None
    png = await anyio.to_thread.run_sync(_drawing(request).png, attrs, expression, size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


async def get_avatar_sticker(request: Request) -> Response:
    attrs = _query_attributes(request)
    expression = _expression(request.query_params.get("expression"))
    kind = request.query_params.get("format", "png").lower()
    if kind not in STICKER_FORMATS:
        raise ApiError(400, f"format {kind!r}: a sticker is png or webp", {"format": "png or webp"})
    fmt, media_type = STICKER_FORMATS[kind]
    data = await anyio.to_thread.run_sync(_drawing(request).sticker, attrs, expression, fmt)
    filename = f"emoji-cam-avatar-{expression.label}.{kind}"
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def post_avatar_pack(request: Request) -> Response:
    state = request.app.state.studio
    body = await read_json(request)
    name, values, overwrite = body.get("name"), body.get("attributes", {}), body.get("overwrite", False)
    if not isinstance(name, str):
        raise ApiError(400, "\"name\" is needed: the new pack's name", {"name": "a name is needed"})
    if not isinstance(values, dict):
        raise ApiError(400, "\"attributes\" must be an object: {\"hair\": \"bob\", ...}")
    if not isinstance(overwrite, bool):
        raise ApiError(400, "\"overwrite\" must be true or false")
    fields: dict[str, str] = {}
    try:
        check_name(name)
    except AvatarError as exc:
        fields["name"] = str(exc)
    try:
        attrs = parse_attributes(values)
    except ApiError as exc:
        fields.update(exc.fields)
    if fields:  # every field that is wrong, at once
        raise ApiError(400, "nothing was saved: " + "; ".join(fields.values()), fields)
    saved = await anyio.to_thread.run_sync(_drawing(request).save_pack, name, attrs, overwrite)
    await anyio.to_thread.run_sync(state.catalog.refresh)
    saved["current"] = saved["name"] == state.engine.status().pack
    return JSONResponse({"saved": saved}, status_code=201)
