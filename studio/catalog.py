"""The emoji packs as the Packs page shows them: every valid pack, the broken ones with their reason, thumbnails,
a pack imported from a .zip, and removal of a user pack.

Writes happen only inside the user packs folder (:func:`vcam_emoji.packs.user_packs_dir`): an import is unpacked into
a hidden temporary folder there (pack discovery skips names starting with "."), validated with the same
:func:`vcam_emoji.packs.load_pack` every pack goes through, and only then renamed into place. A zip is refused
before anything is written if an entry's path is absolute or climbs out with "..", if an entry is a link (or any
other special file), or if it holds too many files or too many bytes once unpacked; sizes are counted while unpacking
too, so a zip whose headers lie about its sizes is caught as well.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import cv2
import numpy as np

from vcam_emoji.errors import PackError
from vcam_emoji.packs import (MANIFEST_NAME, EmojiPack, discover_packs, load_pack, packs_signature,
                              user_packs_dir)
from vcam_emoji.resources import packs_dir
from vcam_emoji.types import Expression

from .limits import MiB, ApiError

log = logging.getLogger(__name__)

MAX_ZIP_ENTRIES = 64
MAX_ZIP_UNPACKED = 64 * MiB
MAX_ZIP_ENTRY = 16 * MiB
MAX_ZIP_RATIO = 200  # unpacked / packed, for entries over 1 MiB: a zip bomb packs far tighter than any image
IGNORED_ENTRIES = ("__MACOSX/", ".DS_Store", "Thumbs.db")
THUMB_SIZES = (48, 96, 192, 256, 512)


class PackCatalog:
    """The packs (built-in and user), loaded again whenever a pack folder changes (checked at most every call)."""

    def __init__(self, roots: Callable[[], Sequence[Path]] | None = None,
                 discover: Callable[[], tuple[dict, list]] = discover_packs) -> None:
        self._roots = roots or (lambda: [packs_dir(), user_packs_dir()])
        self._discover = discover
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self.packs: dict[str, EmojiPack] = {}
        self.errors: list[PackError] = []
        self._thumbs: dict[tuple[str, int, int], bytes] = {}

    def _current_signature(self) -> tuple:
        return packs_signature(self._roots())

    def refresh(self) -> None:
        """Load the packs again if any pack folder changed."""
        with self._lock:
            signature = self._current_signature()
            if signature == self._signature:
                return
            self.packs, self.errors = self._discover()
            self._signature = signature
            self._thumbs = {}

    def names(self) -> list[str]:
        self.refresh()
        builtin = sorted(n for n, p in self.packs.items() if p.builtin)
        return builtin + sorted(n for n, p in self.packs.items() if not p.builtin)

    def get(self, name: str) -> EmojiPack:
        self.refresh()
        pack = self.packs.get(name)
        if pack is None:
            raise ApiError(404, f"no emoji pack named {name!r}; installed: {', '.join(self.names()) or 'none'}")
        return pack

    def thumbnail(self, name: str, expression: Expression, size: int) -> bytes:
        """One image of a pack as a PNG ``size`` pixels wide (one of THUMB_SIZES), transparency kept."""
        if size not in THUMB_SIZES:
            raise ApiError(400, f"size {size} is not offered; use one of {', '.join(map(str, THUMB_SIZES))}")
        pack = self.get(name)
        key = (name, int(expression), size)
        with self._lock:
            cached = self._thumbs.get(key)
        if cached is not None:
            return cached
        image = pack.image(expression)
        h, w = image.shape[:2]
        scale = size / max(w, h)
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        ok, data = cv2.imencode(".png", np.ascontiguousarray(small))
        if not ok:
            raise ApiError(500, f"could not encode a thumbnail of {name!r}")
        png = data.tobytes()
        with self._lock:
            self._thumbs[key] = png
        return png


# ------------------------------------------------------------------------------------------------------------ import
def _entry_problem(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return f"{name!r} is a symbolic link; a pack holds plain files only"
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        return f"{name!r} is a special file; a pack holds plain files only"
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return f"{name!r} is an absolute path; entries must stay inside the pack folder"
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return f"{name!r} leaves the pack folder ('..'); entries must stay inside it"
    if any(not part.isprintable() for part in parts):
        return f"{name!r} has unprintable characters in its name"
    return None


def _check_zip(archive: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], str]:
    """The entries to unpack and the folder inside the zip that holds pack.json ("" for the top), or ApiError."""
    infos = [i for i in archive.infolist() if not any(i.filename.startswith(p) or i.filename.endswith(p)
                                                      for p in IGNORED_ENTRIES)]
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ApiError(413, f"the zip has {len(infos)} entries; a pack needs 8 files, at most {MAX_ZIP_ENTRIES} "
                            "are accepted")
    for info in infos:
        problem = _entry_problem(info)
        if problem:
            raise ApiError(400, f"the zip is refused: {problem}")
    total = sum(i.file_size for i in infos)
    if total > MAX_ZIP_UNPACKED:
        raise ApiError(413, f"the zip unpacks to {total / MiB:.0f} MiB; at most {MAX_ZIP_UNPACKED // MiB} MiB is "
                            "accepted")
    for info in infos:
        if info.file_size > MAX_ZIP_ENTRY:
            raise ApiError(413, f"{info.filename!r} unpacks to {info.file_size / MiB:.0f} MiB; at most "
                                f"{MAX_ZIP_ENTRY // MiB} MiB a file is accepted")
        if info.file_size > MiB and info.file_size > MAX_ZIP_RATIO * max(1, info.compress_size):
            raise ApiError(413, f"{info.filename!r} is compressed {info.file_size // max(1, info.compress_size)} "
                                "to 1, like a zip bomb; refused")
    manifests = sorted((PurePosixPath(i.filename) for i in infos
                        if not i.is_dir() and PurePosixPath(i.filename).name == MANIFEST_NAME), key=lambda p: len(p.parts))
    if not manifests:
        raise ApiError(400, f"the zip has no {MANIFEST_NAME}; zip the pack folder (pack.json and its 7 images)")
    top = manifests[0].parent
    if len(top.parts) > 1:
        raise ApiError(400, f"{MANIFEST_NAME} is nested too deep in the zip ({manifests[0]}); zip the pack folder "
                            "itself")
    prefix = "" if str(top) == "." else f"{top}/"
    return [i for i in infos if i.filename.startswith(prefix) and not i.is_dir()], prefix


def _unpack(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], prefix: str, dest: Path) -> None:
    root = dest.resolve()
    written = 0
    for info in infos:
        relative = info.filename[len(prefix):]
        target = (dest / relative).resolve()
        if not target.is_relative_to(root) or target == root:
            raise ApiError(400, f"the zip is refused: {info.filename!r} leaves the pack folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with archive.open(info) as src, open(target, "xb") as out:
            while chunk := src.read(256 * 1024):
                size += len(chunk)
                written += len(chunk)
                if size > info.file_size or size > MAX_ZIP_ENTRY or written > MAX_ZIP_UNPACKED:
                    raise ApiError(413, f"{info.filename!r} unpacks to more than its header says; refused")
                out.write(chunk)


def folder_name_for(pack_name: str) -> str:
    """A plain folder name for a pack name ("My pack!" -> "My_pack")."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", pack_name).strip("_")[:64] or "pack"


def import_pack_zip(data: bytes, catalog: PackCatalog, packs_root: Path | None = None) -> EmojiPack:
    """Check, unpack and validate a pack zip, then move it into the user packs folder; ApiError on any problem."""
    packs_root = packs_root or user_packs_dir()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise ApiError(400, f"the upload is not a zip file ({exc}); zip the pack folder and send that") from None
    with archive:
        infos, prefix = _check_zip(archive)
        try:
            packs_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ApiError(500, f"cannot create the user packs folder {packs_root}: {exc.strerror or exc}") from None
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=packs_root))
        try:
            staging.chmod(0o755)  # mkdtemp makes it 0700; a pack folder gets the usual mode, as avatar packs do
            try:
                _unpack(archive, infos, prefix, staging)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError, OSError) as exc:
                raise ApiError(400, f"the zip cannot be unpacked ({exc})") from None
            try:
                pack = load_pack(staging)
            except PackError as exc:
                raise ApiError(400, str(exc).replace(str(staging), "the zip's pack folder")) from None
            catalog.refresh()
            if pack.name in catalog.packs:
                other = catalog.packs[pack.name]
                kind = "built-in pack" if other.builtin else f"user pack in {other.folder}"
                raise ApiError(409, f"a pack named {pack.name!r} exists already (the {kind}); rename the new one "
                                    "(its 'name' in pack.json) or remove the old one first")
            final = packs_root / folder_name_for(pack.name)
            if final.exists():
                raise ApiError(409, f"the folder {final} exists already; remove it or rename the pack")
            staging.rename(final)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    catalog.refresh()
    log.info("imported emoji pack %r into %s", pack.name, final)
    return catalog.get(pack.name)


def remove_user_pack(name: str, catalog: PackCatalog, in_use: str, packs_root: Path | None = None) -> Path:
    """Delete a user pack's folder (never a built-in one, nor the pack shown now); returns the folder removed."""
    packs_root = (packs_root or user_packs_dir())
    pack = catalog.get(name)
    if pack.builtin:
        raise ApiError(403, f"{name!r} is a built-in pack; built-in packs cannot be removed")
    if name == in_use:
        raise ApiError(409, f"{name!r} is the pack shown now; pick another pack first")
    folder = pack.folder
    if folder.is_symlink() or folder.parent.resolve() != packs_root.resolve():
        raise ApiError(403, f"{folder} is not a folder of the user packs folder {packs_root}; remove it by hand")
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise ApiError(500, f"cannot remove {folder}: {exc.strerror or exc}") from None
    catalog.refresh()
    log.info("removed emoji pack %r (%s)", name, folder)
    return folder
