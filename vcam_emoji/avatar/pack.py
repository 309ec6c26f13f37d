"""Avatar packs on disk: ``create`` renders the seven expressions into a new pack folder, ``edit`` re-renders one.

An avatar pack is an emoji pack like any other (see :mod:`vcam_emoji.packs`) plus, in ``pack.json``, the attributes
it was drawn from (``avatar.attributes``) so that it can be edited and drawn again, and the ``face_box`` of the
avatar pictures. Beside the seven images it holds ``preview.png`` (the sticker sheet of all seven) and
``LICENSE.txt`` (where the art comes from and its licence).

Writing is all or nothing: everything is rendered into a hidden temporary folder beside the target, checked by
loading it as a pack, and only then renamed into place; a name that is taken needs ``force``, and then the old folder
is swapped out in one rename and removed afterwards. A failure at any point leaves the user packs folder as it was.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import PackError
from ..packs import MANIFEST_NAME, EmojiPack, load_pack, read_manifest, user_packs_dir
from ..resources import packs_dir
from ..types import Expression
from .attributes import AvatarAttributes, AvatarError, AvatarWriteError
from .render import FACE_BOX, IMAGE_SIZE, RENDERER, AvatarRenderer, encode_png

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AUTHOR = "Pablo Stanley (Avataaars art), via python_avatars (Ibon)"
LICENSE = "LicenseRef-Avataaars AND MIT"
SOURCE = ("Avataaars by Pablo Stanley (https://avataaars.com/), free for personal and commercial use; SVG parts from "
          "python_avatars==1.4.1 (MIT, https://github.com/ibonn/python_avatars); drawn by resvg-py==0.5.0 with "
          "vcam-emoji avatar create")
LICENSE_TEXT = """\
This avatar pack was drawn by Emoji Cam (`vcam-emoji avatar create`) from the attributes in pack.json.

The art: Avataaars, designed by Pablo Stanley (https://avataaars.com/), released by him as free for personal and
commercial use. Additional avatar parts from blush.design, also designed by Pablo Stanley.

The SVG parts come from python_avatars 1.4.1 (https://github.com/ibonn/python_avatars), MIT License:

    Copyright (c) 2021 Ibon

    Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
    documentation files (the "Software"), to deal in the Software without restriction, including without limitation
    the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
    to permit persons to whom the Software is furnished to do so, subject to the following conditions:

    The above copyright notice and this permission notice shall be included in all copies or substantial portions of
    the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
    THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
    AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
    CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
    IN THE SOFTWARE.

Drawn with resvg 0.48.1 (Apache-2.0 OR MIT, https://github.com/linebender/resvg) through resvg-py 0.5.0 (MIT).
"""


@dataclass(frozen=True)
class AvatarPackResult:
    folder: Path
    pack: EmojiPack
    attributes: AvatarAttributes
    replaced: bool  # an existing folder was replaced (create --force, or edit)


def check_name(name: str) -> str:
    """A pack name that is also a safe folder name, and not a built-in pack's; AvatarError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AvatarError(f"avatar pack name {name!r} cannot be used; use 1 to 64 letters, digits, '-', '_' or '.', "
                          "starting with a letter or digit")
    builtin = packs_dir()
    if (builtin / name).is_dir() or name.lower() in {p.name.lower() for p in builtin.iterdir() if p.is_dir()}:
        raise AvatarError(f"{name!r} is the name of a built-in pack (built-in packs always win); choose another name")
    return name


def _manifest(name: str, attrs: AvatarAttributes) -> dict:
    return {
        "name": name,
        "author": AUTHOR,
        "license": LICENSE,
        "source": SOURCE,
        "images": {e.label: f"{e.label}.png" for e in Expression},
        "face_box": list(FACE_BOX),
        "avatar": {"attributes": attrs.to_json(), "renderer": RENDERER},
    }


def _other_pack_named(root: Path, name: str, folder: Path) -> Path | None:
    """Another folder in ``root`` whose pack.json says ``name`` (the folder itself is not counted)."""
    if not root.is_dir():
        return None
    for other in sorted(root.iterdir()):
        if other.name.startswith((".", "_")) or other == folder:
            continue
        try:
            if other.is_dir() and json.loads((other / MANIFEST_NAME).read_text(encoding="utf-8")).get("name") == name:
                return other
        except (OSError, ValueError, AttributeError, RecursionError):
            continue  # not a pack, or a broken one: packs list reports those
    return None


def _write_folder(root: Path, name: str, attrs: AvatarAttributes, renderer: AvatarRenderer, *,
                  replace_existing: bool, pack_name: str | None = None) -> AvatarPackResult:
    """Render into a temporary folder in ``root``, check it, then rename it to ``root/name``."""
    from ..sticker import sticker_sheet

    folder = root / name
    pack_name = pack_name or name
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".new", dir=root))
        staging.chmod(0o755)  # mkdtemp makes it private; a pack folder is an ordinary folder
    except OSError as exc:
        raise AvatarWriteError(f"cannot write in the user packs folder {root} ({exc.strerror or exc}); check its "
                          "permissions") from None
    old: Path | None = None
    try:
        images = renderer.render_all(attrs)
        for expression, rgba in images.items():
            (staging / f"{expression.label}.png").write_bytes(encode_png(rgba))
        (staging / MANIFEST_NAME).write_text(json.dumps(_manifest(pack_name, attrs), indent=2) + "\n", encoding="utf-8")
        (staging / "LICENSE.txt").write_text(LICENSE_TEXT, encoding="utf-8")
        staged_pack = load_pack(staging)  # what the app will load: check it before it is put in place
        (staging / "preview.png").write_bytes(encode_png(sticker_sheet(staged_pack)))
        replaced = folder.exists() or folder.is_symlink()
        if replaced:
            if not replace_existing:
                raise AvatarError(f"{folder} already exists; add --force to replace it, or choose another name")
            old = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".old", dir=root))
            os.replace(folder, old / name)  # swap: the old folder goes aside in one rename ...
        os.replace(staging, folder)  # ... and the new one takes its place in another
    except OSError as exc:
        if old is not None and (old / name).exists() and not folder.exists():
            os.replace(old / name, folder)  # put the old folder back
        raise AvatarWriteError(f"cannot write the avatar pack {folder} ({exc.strerror or exc}); nothing was "
                               "changed") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    pack = load_pack(folder)
    log.info("wrote avatar pack %r to %s", name, folder)
    return AvatarPackResult(folder, pack, attrs, replaced)


def create_avatar_pack(name: str, attrs: AvatarAttributes, *, root: Path | None = None, force: bool = False,
                       renderer: AvatarRenderer | None = None) -> AvatarPackResult:
    """Render ``attrs`` into the pack ``root/name`` (default root: the user packs folder). Raises AvatarError."""
    name = check_name(name)
    root = Path(root) if root is not None else user_packs_dir()
    other = _other_pack_named(root, name, root / name)
    if other is not None:
        raise AvatarError(f"the pack in {other} is already called {name!r}; choose another name")
    if not force and ((root / name).exists() or (root / name).is_symlink()):
        raise AvatarError(f"{root / name} already exists; add --force to replace it, or choose another name")
    return _write_folder(root, name, attrs, renderer or AvatarRenderer(IMAGE_SIZE), replace_existing=force)


def find_avatar_pack(name: str, root: Path | None = None) -> tuple[Path, AvatarAttributes]:
    """The folder and attributes of the avatar pack called ``name`` in ``root``. Raises AvatarError or PackError
    (a pack.json that is broken is reported like any broken pack)."""
    root = Path(root) if root is not None else user_packs_dir()
    folder = root / name if (root / name / MANIFEST_NAME).exists() else _other_pack_named(root, name, Path())
    if folder is None:
        raise AvatarError(f"no avatar pack called {name!r} in {root}; make one with: vcam-emoji avatar create {name}")
    data = read_manifest(folder)
    if "avatar" not in data:
        raise AvatarError(f"the pack {name!r} in {folder} is not an avatar pack (it has no 'avatar' in its "
                          f"{MANIFEST_NAME}); only packs made by vcam-emoji avatar create can be edited")
    try:
        return folder, AvatarAttributes.from_json(data["avatar"]["attributes"])
    except AvatarError as exc:
        raise PackError(f"emoji pack {folder / MANIFEST_NAME}: {exc}; fix it by hand, or make the pack again with "
                        f"vcam-emoji avatar create {name} --force") from None


def edit_avatar_pack(name: str, changes: dict[str, str | None], *, root: Path | None = None,
                     renderer: AvatarRenderer | None = None) -> AvatarPackResult:
    """Change some attributes of the avatar pack ``name`` and draw it again, in place (atomically)."""
    root = Path(root) if root is not None else user_packs_dir()
    folder, attrs = find_avatar_pack(name, root)
    new = attrs.with_changes(changes)
    pack_name = read_manifest(folder)["name"]
    return _write_folder(folder.parent, folder.name, new, renderer or AvatarRenderer(IMAGE_SIZE),
                         replace_existing=True, pack_name=pack_name)
