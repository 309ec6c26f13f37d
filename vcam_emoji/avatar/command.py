"""``vcam-emoji avatar create|edit|options``: make your own avatar pack. cli.py only registers :func:`add_parser`."""

from __future__ import annotations

import argparse
import random
import textwrap

from ..cli_types import MAX_SEED, seed
from .attributes import OPTIONS, AvatarError, check_value, options_table

EXIT_OK = 0


def _value_type(name: str):
    def parse(text: str) -> str:
        try:
            return check_value(name, text)
        except AvatarError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None  # argparse names the flag

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _attribute_options(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    from .attributes import AvatarAttributes

    base = AvatarAttributes()
    for name, option in OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        shown = f" (default {getattr(base, name)})" if defaults else ""
        p.add_argument(flag, dest=name, type=_value_type(name), metavar="VALUE",
                       help=f"{option.help}{shown}; see: vcam-emoji avatar options")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("avatar", help="make your own avatar emoji pack (your skin, hair, beard, glasses, "
                              "clothes), with the seven expressions",
                              description="Make your own avatar emoji pack: an Avataaars-style bust drawn with the "
                              "attributes you choose, one picture per expression, written into the user packs folder. "
                              "Use it with --pack NAME, pack.name in the settings, or the tray's Emoji pack menu.")
    sub = p.add_subparsers(dest="avatar_action", required=True, metavar="ACTION")

    q = sub.add_parser("create", help="draw a new avatar pack", description="Draw a new avatar pack NAME into the "
                       "user packs folder (the seven pictures, pack.json with the attributes, preview.png, "
                       "LICENSE.txt). Attributes not given take their default, or a random value with --random.")
    q.add_argument("name", help="pack name (letters, digits, - _ .), also its folder name")
    _attribute_options(q, defaults=True)
    q.add_argument("--random", action="store_true", help="random values for the attributes not given")
    q.add_argument("--seed", type=seed, metavar="N", help=f"the random avatar number N, 0..{MAX_SEED} (implies "
                   "--random; the same N gives the same avatar)")
    q.add_argument("--force", action="store_true", help="replace a pack folder of that name")
    q.set_defaults(func=run_create)

    q = sub.add_parser("edit", help="change attributes of an avatar pack and draw it again",
                       description="Change some attributes of the avatar pack NAME and draw it again in place; the "
                       "others stay as they were. A running Emoji Cam shows the new pictures within a second.")
    q.add_argument("name", help="the avatar pack's name")
    _attribute_options(q, defaults=False)
    q.set_defaults(func=run_edit)

    q = sub.add_parser("options", help="list every attribute and its allowed values")
    q.set_defaults(func=run_options)
    return p


def _given(args: argparse.Namespace) -> dict[str, str | None]:
    return {name: getattr(args, name) for name in OPTIONS}


def _describe(attrs) -> str:
    return ", ".join(f"{k} {v}" for k, v in attrs.to_json().items())


def run_create(args: argparse.Namespace) -> int:
    from .attributes import AvatarAttributes, random_attributes
    from .pack import create_avatar_pack

    given = _given(args)
    seed = None
    if args.random or args.seed is not None:
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
        attrs = random_attributes(seed, fixed=given)
    else:
        attrs = AvatarAttributes().with_changes(given)
    result = create_avatar_pack(args.name, attrs, force=args.force)
    _report(result, "replaced" if result.replaced else "wrote")
    if seed is not None:
        print(f"random avatar {seed}: vcam-emoji avatar create {args.name} --seed {seed} draws it again")
    return EXIT_OK


def run_edit(args: argparse.Namespace) -> int:
    from .pack import edit_avatar_pack

    result = edit_avatar_pack(args.name, _given(args))
    _report(result, "redrew")
    return EXIT_OK


def _report(result, verb: str) -> None:
    pack = result.pack
    size = next(iter(pack.images.values())).shape[0]
    print(f"{verb} avatar pack {pack.name!r} in {result.folder}: 7 pictures {size}x{size}, preview.png; "
          f"{_describe(result.attributes)}")
    print(f"use it: vcam-emoji run --pack {pack.name} (or pack.name = \"{pack.name}\" in the settings, or the tray's "
          "Emoji pack menu); a running Emoji Cam picks it up by itself")


def run_options(args: argparse.Namespace) -> int:
    rows = options_table()
    width = max(len(flag) for _, flag, _, _ in rows)
    print("Attributes for vcam-emoji avatar create / edit (values are case-insensitive):")
    for name, flag, default, allowed in rows:
        print(f"\n{flag:<{width}}  {OPTIONS[name].help}; default {default}")
        print(textwrap.fill(allowed, 118, initial_indent=" " * (width + 2), subsequent_indent=" " * (width + 2)))
    print("\nA hat replaces the hair; the graphic shows only on --clothing graphic_shirt.")
    return EXIT_OK
