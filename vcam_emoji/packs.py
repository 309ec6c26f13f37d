"""Emoji packs: a folder with ``pack.json`` and one image per expression, loaded and validated.

A pack folder looks like::

    my_pack/
      pack.json     {"name": "my_pack", "author": "...", "license": "...", "source": "...",
                     "images": {"angry": "angry.png", "disgust": ..., "fear": ..., "happy": ...,
                                "sad": ..., "surprise": ..., "neutral": ...},
                     "face_box": [0.25, 0.25, 0.75, 0.75]}          (optional)
      angry.png ...

The manifest is checked against the JSON Schema ``pack.schema.json`` shipped beside this module, after limits that
hold before any parsing: at most :data:`MAX_MANIFEST_BYTES` bytes, nested at most :data:`MAX_JSON_DEPTH` levels, no
NaN or Infinity. ``face_box`` says where the face is in the images ([x0, y0, x1, y1] as fractions of the width and
height; default the whole image, as for a round emoji): the compositor puts that box over the detected face, so an
image with hair and shoulders around the face (an avatar) lands with its face on the face. ``avatar`` (avatar packs
only, :mod:`vcam_emoji.avatar`) keeps the attributes the images were rendered from.

Image paths are relative to the pack folder and must stay inside it (no absolute paths, no ``..``, no symlink that
leads outside). Any format Pillow reads is accepted (PNG with transparency is what you want); images without alpha
become fully opaque.

Colour convention: ``EmojiPack.images`` holds **BGRA** uint8 arrays of shape (H, W, 4), straight (not premultiplied)
alpha, read-only — the same channel order as the engine's BGR frames, so the compositor never swaps channels.

Built-in packs live in :func:`vcam_emoji.resources.packs_dir`; users add packs to :func:`user_packs_dir`. A user pack
whose name is already taken (by a built-in pack or an earlier folder) is reported and skipped: built-ins always win, so
a user folder cannot silently replace a pack the app ships. Rename the user pack (its ``name`` in ``pack.json``) to
use it. Discovery survives any one bad folder or file (unreadable, too big, too deep, not a pack): it is reported in
the errors and the other packs still load.

:class:`PackWatcher` tells a running app that the files of the pack it shows changed (e.g. ``vcam-emoji avatar edit``
re-rendered it), so it can load the pack again without a restart.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Callable

import numpy as np
import platformdirs
from PIL import Image, UnidentifiedImageError

from .errors import EmojiCamError, PackError
from .resources import packs_dir
from .types import EXPRESSION_LABELS, Expression

log = logging.getLogger(__name__)

APP_NAME = "vcam-emoji"
MANIFEST_NAME = "pack.json"
SCHEMA_PATH = Path(__file__).resolve().with_name("pack.schema.json")
DEFAULT_PACK = "twemoji"  # the one default: config.py's pack.name default is this constant
MIN_IMAGE_SIDE = 16
MAX_IMAGE_SIDE = 4096
MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
MAX_JSON_DEPTH = 8  # a valid pack.json is 3 deep (the avatar attributes)
MAX_NAME_CHARS = 64
MIN_FACE_BOX_SIDE = 0.05
FULL_FACE_BOX = (0.0, 0.0, 1.0, 1.0)
REQUIRED_KEYS = ("name", "author", "license", "images")


@dataclass(frozen=True, eq=False)
class EmojiPack:
    """A loaded, validated pack. ``images`` maps every Expression to a read-only BGRA uint8 (H, W, 4) array.

    ``face_box`` is where the face is in each image, (x0, y0, x1, y1) as fractions of its width and height;
    ``avatar`` holds the attributes of an avatar pack (empty for other packs)."""

    name: str
    author: str
    license: str
    folder: Path
    images: dict[Expression, np.ndarray]
    source: str = ""
    builtin: bool = field(default=False)
    face_box: tuple[float, float, float, float] = FULL_FACE_BOX
    avatar: Mapping[str, str] = field(default_factory=dict)

    def image(self, expression: Expression) -> np.ndarray:
        return self.images[expression]


def user_packs_dir() -> Path:
    """Folder for the user's own packs (not created here; create it to add packs)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "packs"


def _fail(path: Path, problem: str, fix: str) -> PackError:
    return PackError(f"emoji pack {path}: {problem}; {fix}")


@functools.cache
def _validator():
    """The manifest's JSON Schema validator (the schema file ships beside this module; read once)."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest, counted without parsing it (strings are skipped)."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _schema_problem(error) -> tuple[str, str]:
    """(problem, fix) for a jsonschema ValidationError, in the words the rest of this module uses."""
    path = [str(p) for p in error.absolute_path]
    where = ".".join(path)
    keyword, instance = error.validator, error.instance
    if keyword == "type" and not path:
        return f"expected a JSON object, got {type(instance).__name__}", "see the built-in packs for the format"
    if keyword == "required" and path == ["images"]:
        missing = [label for label in EXPRESSION_LABELS if label not in instance]
        return f"no image for {', '.join(missing)}", f"'images' needs all of: {', '.join(EXPRESSION_LABELS)}"
    if keyword == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return (f"missing key(s) {', '.join(missing)}" + (f" in {where!r}" if where else ""),
                f"add them; required: {', '.join(error.validator_value)}")
    if keyword == "additionalProperties" and path == ["images"]:
        unknown = sorted(k for k in instance if k not in EXPRESSION_LABELS)
        return (f"unknown expression(s) in 'images': {', '.join(map(repr, unknown))}",
                f"use exactly: {', '.join(EXPRESSION_LABELS)}")
    if len(path) == 2 and path[0] == "images":
        return f"images.{path[1]} must be a non-empty file name, got {instance!r}", "name a file in the pack"
    if path and path[0] == "face_box":
        return (f"face_box must be 4 numbers from 0 to 1 ([x0, y0, x1, y1]), got {error.message}",
                "fix face_box, or leave it out when the face fills the image")
    if keyword == "type":
        return f"{where!r} must be a {error.validator_value}, got {type(instance).__name__}", f"fix {where!r}"
    return f"{where or 'the manifest'}: {error.message}", f"see {SCHEMA_PATH.name} beside the vcam_emoji code"


def _read_manifest_text(manifest: Path) -> str:
    try:
        with open(manifest, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise _fail(manifest, f"cannot be read ({exc.strerror or exc})", "check the file's permissions") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _fail(manifest, f"manifest is more than {MAX_MANIFEST_BYTES} bytes", "is it the right file?")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _fail(manifest, "is not UTF-8 text", "save it as UTF-8 JSON") from None


def read_manifest(folder: Path) -> dict:
    """The checked ``pack.json`` of ``folder`` (images not read): its limits, the schema, the name and face_box.
    Raises PackError naming the file, the problem and the fix."""
    manifest = folder / MANIFEST_NAME
    try:
        if not folder.is_dir():
            raise _fail(folder, "is not a folder", "give the folder that holds pack.json")
        if not manifest.is_file():
            raise _fail(manifest, "manifest is missing",
                        f"add a {MANIFEST_NAME} (see the built-in packs for the format)")
    except OSError as exc:
        raise _fail(folder, f"cannot be read ({exc.strerror or exc})", "check the folder's permissions") from None
    text = _read_manifest_text(manifest)
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise _fail(manifest, f"is nested {depth} levels deep, more than {MAX_JSON_DEPTH}", "is it the right file?")
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _fail(
            manifest, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", "fix the JSON syntax"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise _fail(manifest, f"is not valid JSON ({exc})", "fix the JSON syntax") from None
    error = _best_error(data)
    if error is not None:
        problem, fix = _schema_problem(error)
        raise _fail(manifest, problem, fix)
    name = data["name"].strip()
    if not name or len(name) > MAX_NAME_CHARS or any(not ch.isprintable() for ch in name):
        raise _fail(
            manifest, f"invalid name {data['name']!r}", f"use 1 to {MAX_NAME_CHARS} printable characters for 'name'"
        )
    data["name"] = name
    if "face_box" in data:
        data["face_box"] = _check_face_box(manifest, data["face_box"])
    if "avatar" in data:
        _check_avatar(manifest, data["avatar"]["attributes"])
    return data


def _check_avatar(manifest: Path, attributes: dict) -> None:
    """An avatar pack's attributes must be ones `avatar edit` can draw again."""
    from .avatar.attributes import AvatarAttributes, AvatarError

    try:
        AvatarAttributes.from_json(attributes)
    except AvatarError as exc:
        raise _fail(manifest, f"avatar.attributes: {exc}",
                    "fix it, or draw the pack again with vcam-emoji avatar create NAME --force") from None


def _best_error(data: object):
    import jsonschema

    return jsonschema.exceptions.best_match(_validator().iter_errors(data))


def _check_face_box(manifest: Path, box: list) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 - x0 < MIN_FACE_BOX_SIDE \
            or y1 - y0 < MIN_FACE_BOX_SIDE:
        raise _fail(manifest, f"face_box {box} is empty or inverted",
                    f"give [x0, y0, x1, y1] with x1 - x0 and y1 - y0 at least {MIN_FACE_BOX_SIDE}")
    return x0, y0, x1, y1


def _resolve_inside(folder: Path, manifest: Path, label: str, rel: object) -> Path:
    """The image path for ``label``, guaranteed to be a regular file inside ``folder``."""
    if not isinstance(rel, str) or not rel.strip():
        raise _fail(manifest, f"images.{label} must be a non-empty file name, got {rel!r}", "name a file in the pack")
    posix, windows = PurePosixPath(rel), PureWindowsPath(rel)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or rel.startswith(("/", "\\")):
        raise _fail(manifest, f"images.{label} is an absolute path {rel!r}", "use a path relative to the pack folder")
    if ".." in posix.parts or ".." in windows.parts:
        raise _fail(manifest, f"images.{label} path {rel!r} contains '..'", "keep the images inside the pack folder")
    path = folder / rel
    root = folder.resolve()
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # missing, or a symlink loop
        fix = f"add the file or fix images.{label} in {manifest.name}"
        raise _fail(path, f"image for {label!r} not found", fix) from exc
    if not resolved.is_relative_to(root):
        raise _fail(
            path, f"image for {label!r} leads outside the pack folder (to {resolved})", "copy the image into the pack"
        )
    try:
        size = resolved.stat().st_size if resolved.is_file() else None
    except OSError as exc:
        raise _fail(path, f"image for {label!r} cannot be read ({exc.strerror or exc})",
                    "check the file's permissions") from None
    if size is None:
        raise _fail(path, f"image for {label!r} is not a regular file", f"fix images.{label} in {manifest.name}")
    if size > MAX_IMAGE_BYTES:
        raise _fail(path, f"image for {label!r} is {size} bytes, more than {MAX_IMAGE_BYTES}",
                    "save it as a smaller PNG (512x512 is ideal)")
    return resolved


def _load_image(path: Path, label: str) -> np.ndarray:
    """Decode ``path`` with Pillow into a read-only BGRA uint8 array, checking its size and content."""
    try:
        with Image.open(path) as img:
            w, h = img.size
            if min(w, h) < MIN_IMAGE_SIDE or max(w, h) > MAX_IMAGE_SIDE:
                raise _fail(
                    path,
                    f"image for {label!r} is {w}x{h} pixels",
                    f"use a size between {MIN_IMAGE_SIDE} and {MAX_IMAGE_SIDE} pixels a side (512x512 is ideal)",
                )
            img.load()
            rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
    except PackError:
        raise
    except UnidentifiedImageError as exc:
        raise _fail(path, f"image for {label!r} is not an image Pillow can read", "save it as PNG") from exc
    except PermissionError as exc:
        raise _fail(path, f"image for {label!r} cannot be read ({exc.strerror})", "check the file's permissions") \
            from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _fail(path, f"image for {label!r} cannot be decoded ({exc})", "re-export it as PNG") from exc
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.size == 0:
        raise _fail(path, f"image for {label!r} decoded to shape {rgba.shape}", "re-export it as RGBA PNG")
    if not rgba[..., 3].any():
        raise _fail(path, f"image for {label!r} is fully transparent", "re-export it with visible pixels")
    bgra = np.ascontiguousarray(rgba[..., [2, 1, 0, 3]])
    bgra.setflags(write=False)
    return bgra


def load_pack(folder: str | Path, *, builtin: bool = False) -> EmojiPack:
    """Load and validate the pack in ``folder``; raise PackError naming the file, the problem and the fix."""
    folder = Path(folder).expanduser().absolute()
    data = read_manifest(folder)
    manifest = folder / MANIFEST_NAME
    entries: dict = data["images"]  # the schema checked: exactly the seven expressions, each a non-empty string
    images: dict[Expression, np.ndarray] = {}
    for expression in Expression:
        path = _resolve_inside(folder, manifest, expression.label, entries[expression.label])
        images[expression] = _load_image(path, expression.label)
    pack = EmojiPack(
        name=data["name"],
        author=data["author"],
        license=data["license"],
        folder=folder,
        images=images,
        source=data.get("source", ""),
        builtin=builtin,
        face_box=data.get("face_box", FULL_FACE_BOX),
        avatar=dict(data.get("avatar", {}).get("attributes", {})),
    )
    log.debug("loaded emoji pack %r from %s", pack.name, folder)
    return pack


def _pack_folders(root: Path, errors: list[PackError]) -> list[Path]:
    """Candidate pack folders in ``root``: sub-folders not starting with '.' or '_', sorted by name. An entry that
    cannot be looked at is reported in ``errors`` and skipped."""
    folders = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        try:
            if entry.is_dir():
                folders.append(entry)
        except OSError as exc:
            errors.append(_fail(entry, f"cannot be read ({exc.strerror or exc})", "check its permissions"))
    return folders


def discover_packs(dirs: Iterable[str | Path] | None = None) -> tuple[dict[str, EmojiPack], list[PackError]]:
    """Load every pack in ``dirs`` (default: the bundled packs, then :func:`user_packs_dir`).

    Returns ``(packs by name, errors)``. A broken pack is reported in ``errors`` and the others still load, whatever
    is wrong with it (an unreadable folder or file, a manifest too big or too deep, a bad image). When two packs have
    the same name the one in the earlier folder wins (so built-ins beat user packs) and the later one is reported and
    skipped. A missing folder is skipped quietly (the user folder need not exist).
    """
    errors: list[PackError] = []
    if dirs is None:
        roots: list[tuple[Path, bool]] = []
        try:
            roots.append((packs_dir(), True))
        except EmojiCamError as exc:
            errors.append(PackError(str(exc)))
        roots.append((user_packs_dir(), False))
    else:
        roots = [(Path(d).expanduser(), False) for d in dirs]
    packs: dict[str, EmojiPack] = {}
    for root, builtin in roots:
        try:
            if not root.is_dir():
                log.debug("no emoji pack folder at %s; skipped", root)
                continue
            folders = _pack_folders(root, errors)
        except OSError as exc:
            errors.append(_fail(root, f"cannot list the folder ({exc.strerror or exc})", "check its permissions"))
            continue
        for folder in folders:
            try:
                pack = load_pack(folder, builtin=builtin)
            except PackError as exc:
                log.warning("%s", exc)
                errors.append(exc)
                continue
            except (OSError, RecursionError, MemoryError) as exc:  # what no check above foresaw: this pack only
                exc = _fail(folder, f"cannot be loaded ({type(exc).__name__}: {exc})", "fix or remove the folder")
                log.warning("%s", exc)
                errors.append(exc)
                continue
            if pack.name in packs:
                other = packs[pack.name]
                exc = _fail(
                    folder / MANIFEST_NAME,
                    f"name {pack.name!r} is already used by the pack in {other.folder}; skipped",
                    "give this pack another 'name' in its pack.json",
                )
                log.warning("%s", exc)
                errors.append(exc)
                continue
            packs[pack.name] = pack
    log.info("emoji packs: %s", ", ".join(packs) or "none")
    return packs, errors


def select_pack(packs: Mapping[str, EmojiPack], name: str) -> EmojiPack:
    """``packs[name]``, or PackError listing the installed packs."""
    if name in packs:
        return packs[name]
    known = ", ".join(sorted(packs)) or "(none)"
    raise PackError(f"emoji pack {name!r} not found; installed packs: {known} (vcam-emoji packs list)")


def folder_signature(folder: Path) -> tuple:
    """What changes when any file of the pack in ``folder`` changes (names, sizes, modification times), read
    without opening a file; ``("unreadable", reason)`` when the folder cannot be listed."""
    try:
        st = folder.stat()
        entries = []
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            est = entry.stat(follow_symlinks=True)
            entries.append((entry.name, est.st_size, est.st_mtime_ns))
        return (st.st_ino, st.st_mtime_ns, tuple(entries))
    except OSError as exc:
        return ("unreadable", exc.strerror or str(exc))


def packs_signature(roots: Iterable[Path]) -> tuple:
    """What changes when a pack is added to, removed from or changed in any of the ``roots`` (the built-in and the
    user packs folders): each root's modification time and each pack folder's ``folder_signature``; one unreadable
    folder changes only its own part."""
    parts: list[tuple] = []
    for root in roots:
        try:
            parts.append((str(root), root.stat().st_mtime_ns))
            folders = sorted(entry.path for entry in os.scandir(root) if entry.is_dir())
        except OSError as exc:
            parts.append((str(root), "unreadable", exc.strerror or str(exc)))
            continue
        parts += [(folder, folder_signature(Path(folder))) for folder in folders]
    return tuple(parts)


class PackWatcher:
    """Notices when the files of one pack change, e.g. because ``vcam-emoji avatar edit`` re-rendered it.

    ``poll()`` is cheap between checks (it looks at the folder at most every ``interval_s`` of ``clock``) and returns
    True once per change. The caller then loads the pack again (keeping the old one if the new files are broken).
    """

    def __init__(self, folder: Path | None, *, interval_s: float = 1.0, clock: Callable[[], float] | None = None):
        import time

        self._clock = clock or time.monotonic
        self.interval_s = float(interval_s)
        self.watch(folder)

    def watch(self, folder: Path | None) -> None:
        """Watch ``folder`` from now on (None: nothing)."""
        self.folder = folder
        self._signature = folder_signature(folder) if folder is not None else None
        self._next = self._clock() + self.interval_s

    def poll(self) -> bool:
        if self.folder is None or self._clock() < self._next:
            return False
        self._next = self._clock() + self.interval_s
        signature = folder_signature(self.folder)
        if signature == self._signature:
            return False
        self._signature = signature
        return True
