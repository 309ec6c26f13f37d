"""What an avatar looks like: its attributes, their allowed values, checking, and seeded random avatars.

Values are the lower-case names of python_avatars' enums (``short_flat``, ``beard_light``, ``prescription_1``);
colours also take ``#RRGGBB``. The tables below are built from python_avatars itself, so they list exactly what the
pinned version can draw, minus what Emoji Cam leaves out on purpose (the ``custom_text`` shirt graphic: text would be
drawn with whatever fonts the machine has).
"""

from __future__ import annotations

import difflib
import random
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from enum import Enum

import python_avatars as pa

from ..errors import EmojiCamError

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
SAME_AS_HAIR = "hair"  # facial_hair_color: follow hair_color
NO_HAT = "none"
EYEBROW_STYLES = ("natural", "classic")  # the Avataaars "natural" (thin) or "default" (thick) eyebrow drawings


class AvatarError(EmojiCamError):
    """An unknown avatar attribute or value, or an avatar pack that cannot be made or edited."""


class AvatarWriteError(AvatarError):
    """The avatar pack's files cannot be written (permissions, a full disk): not the user's choice of name or look."""


def _names(enum: type[Enum], leave_out: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(m.name.lower() for m in enum if m.name.lower() not in leave_out)


@dataclass(frozen=True)
class Option:
    """One attribute: the python_avatars enum its values name, whether ``#RRGGBB`` is allowed, and what it is."""

    enum: type[Enum] | None
    values: tuple[str, ...]
    colour: bool
    help: str

    def allowed(self) -> str:
        return ", ".join(self.values) + (", or a colour #RRGGBB" if self.colour else "")


OPTIONS: Mapping[str, Option] = {
    "skin": Option(pa.SkinColor, _names(pa.SkinColor), True, "skin colour"),
    "hair": Option(pa.HairType, _names(pa.HairType), False, "hair style (none: bald); a hat replaces it"),
    "hair_color": Option(pa.HairColor, _names(pa.HairColor), True, "hair colour"),
    "facial_hair": Option(pa.FacialHairType, _names(pa.FacialHairType), False, "beard or moustache"),
    "facial_hair_color": Option(pa.HairColor, (SAME_AS_HAIR, *_names(pa.HairColor)), True,
                                "beard colour (hair: the same as the hair)"),
    "hat": Option(pa.HatType, (NO_HAT, *_names(pa.HatType)), False, "hat or headscarf, drawn instead of the hair"),
    "hat_color": Option(pa.ClothingColor, _names(pa.ClothingColor), True, "hat colour"),
    "clothing": Option(pa.ClothingType, _names(pa.ClothingType), False, "clothes"),
    "clothing_color": Option(pa.ClothingColor, _names(pa.ClothingColor), True, "colour of the clothes"),
    "graphic": Option(pa.ClothingGraphic, _names(pa.ClothingGraphic, ("custom_text",)), False,
                      "picture on the graphic_shirt (other clothes show none)"),
    "accessory": Option(pa.AccessoryType, _names(pa.AccessoryType), False, "glasses or eyepatch"),
    "nose": Option(pa.NoseType, _names(pa.NoseType), False, "nose"),
    "eyebrows": Option(None, EYEBROW_STYLES, False, "eyebrow drawing: natural (thin) or classic (bold)"),
}


@dataclass(frozen=True)
class AvatarAttributes:
    """Everything that makes an avatar look like someone; the expression is not part of it (see expressions.py).

    Field names are the keys of :data:`OPTIONS` (and of ``pack.json``'s ``avatar.attributes``)."""

    skin: str = "light"
    hair: str = "short_flat"
    hair_color: str = "brown"
    facial_hair: str = "none"
    facial_hair_color: str = SAME_AS_HAIR
    hat: str = NO_HAT
    hat_color: str = "heather"
    clothing: str = "hoodie"
    clothing_color: str = "blue_02"
    graphic: str = "none"
    accessory: str = "none"
    nose: str = "default"
    eyebrows: str = "natural"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            checked = check_value(f.name, value)
            if checked != value:
                object.__setattr__(self, f.name, checked)

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    def with_changes(self, changes: Mapping[str, str | None]) -> AvatarAttributes:
        """A copy with ``changes`` (None values are ignored); unknown names or values raise AvatarError."""
        given = {k: v for k, v in changes.items() if v is not None}
        unknown = sorted(set(given) - set(OPTIONS))
        if unknown:
            raise AvatarError(f"unknown avatar attribute(s) {', '.join(unknown)}; the attributes are: "
                              f"{', '.join(OPTIONS)}")
        return replace(self, **given)

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> AvatarAttributes:
        """From ``pack.json``'s ``avatar.attributes``; a missing attribute takes its default."""
        if not isinstance(data, Mapping):
            raise AvatarError(f"avatar attributes must be an object, got {type(data).__name__}")
        bad = {k: v for k, v in data.items() if not isinstance(v, str)}
        if bad:
            name = sorted(bad)[0]
            raise AvatarError(f"avatar attribute {name} must be a string, got {bad[name]!r}")
        return cls().with_changes(data)  # type: ignore[arg-type]


def check_value(name: str, value: object) -> str:
    """``value`` normalised (lower case; colours as #rrggbb), or AvatarError naming the attribute and listing the
    allowed values."""
    option = OPTIONS.get(name)
    if option is None:
        raise AvatarError(f"unknown avatar attribute {name!r}; the attributes are: {', '.join(OPTIONS)}")
    text = value.strip().lower().replace("-", "_") if isinstance(value, str) else value
    if isinstance(text, str) and text in option.values:
        return text
    if option.colour and isinstance(text, str) and HEX_COLOUR.match(text):
        return text
    flag = "--" + name.replace("_", "-")
    close = difflib.get_close_matches(text, option.values, n=1) if isinstance(text, str) else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise AvatarError(f"{name} ({flag}): {value!r} is not a value avatars have{hint}; allowed: {option.allowed()}")


def random_attributes(seed: int | None = None, fixed: Mapping[str, str | None] | None = None) -> AvatarAttributes:
    """A random avatar from ``seed`` (the same seed gives the same avatar); ``fixed`` attributes are kept.

    Named colours only; about half the avatars get facial hair, a third an accessory, one in six a hat, as
    python_avatars' own random avatars favour none of those."""
    rng = random.Random(seed)

    def pick(name: str, leave_out: tuple[str, ...] = ()) -> str:
        return rng.choice([v for v in OPTIONS[name].values if v not in leave_out])

    chosen = {
        "skin": pick("skin"),
        "hair": pick("hair"),
        "hair_color": pick("hair_color"),
        "facial_hair": pick("facial_hair", ("none",)) if rng.random() < 0.4 else "none",
        "facial_hair_color": SAME_AS_HAIR if rng.random() < 0.7 else pick("facial_hair_color", (SAME_AS_HAIR,)),
        "hat": pick("hat", (NO_HAT,)) if rng.random() < 1 / 6 else NO_HAT,
        "hat_color": pick("hat_color"),
        "clothing": pick("clothing"),
        "clothing_color": pick("clothing_color"),
        "graphic": pick("graphic", ("none",)),
        "accessory": pick("accessory", ("none",)) if rng.random() < 1 / 3 else "none",
        "nose": pick("nose"),
        "eyebrows": pick("eyebrows"),
    }
    return AvatarAttributes(**chosen).with_changes(fixed or {})


def options_table() -> list[tuple[str, str, str, str]]:
    """(attribute, command-line flag, default, allowed values) for every attribute, for ``avatar options``."""
    defaults = AvatarAttributes()
    return [(name, "--" + name.replace("_", "-"), getattr(defaults, name), option.allowed())
            for name, option in OPTIONS.items()]
