"""Emoji packs: a folder with ``pack.json`` and one image per expression, loaded and validated.

A pack folder looks like::

    my_pack/
      pack.json     {"name": "my_pack", "author": "...", "license": "...", "source": "...",
                     "images": {"angry": "angry.png", "disgust": ..., "fear": ..., "happy": ...,
                                "sad": ..., "surprise": ..., "neutral": ...}}
      angry.png ...

Image paths are relative to the pack folder and must stay inside it (no absolute paths, no ``..``, no symlink that
leads outside). Any format Pillow reads is accepted (PNG with transparency is what you want); images without alpha
become fully opaque.

Colour convention: ``EmojiPack.images`` holds **BGRA** uint8 arrays of shape (H, W, 4), straight (not premultiplied)
alpha, read-only — the same channel order as the engine's BGR frames, so the compositor never swaps channels.

Built-in packs live in :func:`vcam_emoji.resources.packs_dir`; users add packs to :func:`user_packs_dir`. A user pack
whose name is already taken (by a built-in pack or an earlier folder) is reported and skipped: built-ins always win, so
a user folder cannot silently replace a pack the app ships. Rename the user pack (its ``name`` in ``pack.json``) to
use it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import platformdirs
from PIL import Image, UnidentifiedImageError

from .errors import EmojiCamError, PackError
from .resources import packs_dir
from .types import EXPRESSION_LABELS, Expression

log = logging.getLogger(__name__)

APP_NAME = "vcam-emoji"
MANIFEST_NAME = "pack.json"
DEFAULT_PACK = "classic"
MIN_IMAGE_SIDE = 16
MAX_IMAGE_SIDE = 4096
MAX_MANIFEST_BYTES = 64 * 1024
MAX_NAME_CHARS = 64
REQUIRED_KEYS = ("name", "author", "license", "images")


@dataclass(frozen=True, eq=False)
class EmojiPack:
    """A loaded, validated pack. ``images`` maps every Expression to a read-only BGRA uint8 (H, W, 4) array."""

    name: str
    author: str
    license: str
    folder: Path
    images: dict[Expression, np.ndarray]
    source: str = ""
    builtin: bool = field(default=False)

    def image(self, expression: Expression) -> np.ndarray:
        return self.images[expression]


def user_packs_dir() -> Path:
    """Folder for the user's own packs (not created here; create it to add packs)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "packs"


def _fail(path: Path, problem: str, fix: str) -> PackError:
    return PackError(f"emoji pack {path}: {problem}; {fix}")


def _read_manifest(folder: Path) -> dict:
    manifest = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise _fail(folder, "is not a folder", "give the folder that holds pack.json")
    if not manifest.is_file():
        raise _fail(manifest, "manifest is missing", f"add a {MANIFEST_NAME} (see the built-in packs for the format)")
    try:
        size = manifest.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise _fail(manifest, f"manifest is {size} bytes, more than {MAX_MANIFEST_BYTES}", "is it the right file?")
        text = manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise _fail(manifest, f"cannot be read ({exc.strerror or exc})", "check the file's permissions") from exc
    except UnicodeDecodeError as exc:
        raise _fail(manifest, "is not UTF-8 text", "save it as UTF-8 JSON") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            manifest, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", "fix the JSON syntax"
        ) from exc
    if not isinstance(data, dict):
        raise _fail(manifest, f"expected a JSON object, got {type(data).__name__}", "see the built-in packs")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise _fail(manifest, f"missing key(s) {', '.join(missing)}", f"add them; required: {', '.join(REQUIRED_KEYS)}")
    for key in ("name", "author", "license", "source"):
        if key in data and not isinstance(data[key], str):
            raise _fail(manifest, f"{key!r} must be a string, got {type(data[key]).__name__}", f"quote the {key}")
    name = data["name"].strip()
    if not name or len(name) > MAX_NAME_CHARS or any(not ch.isprintable() for ch in name):
        raise _fail(
            manifest, f"invalid name {data['name']!r}", f"use 1 to {MAX_NAME_CHARS} printable characters for 'name'"
        )
    data["name"] = name
    if not isinstance(data["images"], dict):
        raise _fail(manifest, f"'images' must be an object, got {type(data['images']).__name__}", "see the format")
    return data


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
    if not resolved.is_file():
        raise _fail(path, f"image for {label!r} is not a regular file", f"fix images.{label} in {manifest.name}")
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
    data = _read_manifest(folder)
    manifest = folder / MANIFEST_NAME
    entries: dict = data["images"]
    unknown = sorted(k for k in entries if k not in EXPRESSION_LABELS)
    if unknown:
        raise _fail(
            manifest,
            f"unknown expression(s) in 'images': {', '.join(map(repr, unknown))}",
            f"use exactly: {', '.join(EXPRESSION_LABELS)}",
        )
    missing = [label for label in EXPRESSION_LABELS if label not in entries]
    if missing:
        raise _fail(
            manifest, f"no image for {', '.join(missing)}", f"'images' needs all of: {', '.join(EXPRESSION_LABELS)}"
        )
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
    )
    log.debug("loaded emoji pack %r from %s", pack.name, folder)
    return pack


def _pack_folders(root: Path) -> list[Path]:
    """Candidate pack folders in ``root``: sub-folders not starting with '.' or '_', sorted by name."""
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def discover_packs(dirs: Iterable[str | Path] | None = None) -> tuple[dict[str, EmojiPack], list[PackError]]:
    """Load every pack in ``dirs`` (default: the bundled packs, then :func:`user_packs_dir`).

    Returns ``(packs by name, errors)``. A broken pack is reported in ``errors`` and the others still load. When two
    packs have the same name the one in the earlier folder wins (so built-ins beat user packs) and the later one is
    reported and skipped. A missing folder is skipped quietly (the user folder need not exist).
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
        if not root.is_dir():
            log.debug("no emoji pack folder at %s; skipped", root)
            continue
        try:
            folders = _pack_folders(root)
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
