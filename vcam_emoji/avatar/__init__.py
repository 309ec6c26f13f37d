"""Avatar emoji packs: your own face (skin, hair, beard, glasses, clothes) as the emoji, following your expression.

No UI here: the CLI (``vcam-emoji avatar ...``, :mod:`vcam_emoji.avatar.command`), the tray and the Studio's avatar
builder are thin clients of this API. Nothing is downloaded: the art ships inside python_avatars.

Attributes (:mod:`.attributes`)::

    OPTIONS                      {attribute: Option(values, colour, help)}: what can be chosen (from python_avatars)
    options_table()              [(attribute, flag, default, allowed)]: the same, for listing
    AvatarAttributes(**values)   frozen, checked (AvatarError names the attribute and lists the allowed values)
    attrs.with_changes({...})    a copy with some attributes changed (None = unchanged)
    attrs.to_json() / AvatarAttributes.from_json(d)    what pack.json keeps under avatar.attributes
    random_attributes(seed, fixed={...})               the same seed gives the same avatar

Drawing (:mod:`.render`, :mod:`.expressions`)::

    EXPRESSION_FACES             the one table: Expression -> eyes, eyebrows, mouth
    AvatarRenderer(size=512)     keeps the expression-independent layers of the last few avatars (thread-safe):
      .render(attrs, expression) -> RGBA uint8 (size, size, 4), transparent border
      .render_png(attrs, expression) -> PNG bytes       (about 50 ms once that avatar was drawn; 250 ms new)
      .render_all(attrs) -> {Expression: RGBA}
    avatar_svg(attrs, expression) -> SVG text, cropped like the pack images (a browser shows it as it is)
    FACE_BOX                     where the face is in those images (pack.json's face_box)

Packs on disk (:mod:`.pack`)::

    create_avatar_pack(name, attrs, root=None, force=False) -> AvatarPackResult(folder, pack, attributes, replaced)
    edit_avatar_pack(name, {"hair": "bob"}, root=None)      -> AvatarPackResult   (re-renders in place)
    find_avatar_pack(name, root=None) -> (folder, attrs)

Both write into a temporary folder and rename it into place (nothing half-written); ``root`` defaults to the user
packs folder, which the running app watches: a new or re-rendered pack shows up without a restart. Errors are
:class:`AvatarError` (bad attribute, name taken without force, not an avatar pack) or PackError (a broken pack.json).
"""

from __future__ import annotations

from .attributes import OPTIONS, AvatarAttributes, AvatarError, AvatarWriteError, options_table, random_attributes
from .expressions import EXPRESSION_FACES, FaceParts
from .pack import AvatarPackResult, create_avatar_pack, edit_avatar_pack, find_avatar_pack
from .render import FACE_BOX, IMAGE_SIZE, AvatarRenderer, avatar_svg, render_expression

__all__ = [
    "OPTIONS", "AvatarAttributes", "AvatarError", "AvatarWriteError", "options_table", "random_attributes",
    "EXPRESSION_FACES", "FaceParts", "AvatarPackResult", "create_avatar_pack", "edit_avatar_pack", "find_avatar_pack", "FACE_BOX",
    "IMAGE_SIZE", "AvatarRenderer", "avatar_svg", "render_expression",
]
