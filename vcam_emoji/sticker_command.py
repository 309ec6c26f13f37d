"""``vcam-emoji sticker``: one expression of a pack as a sticker, or the pack's sheet. cli.py registers it."""

from __future__ import annotations

import argparse

from .types import EXPRESSION_LABELS, Expression

EXIT_OK = 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sticker", help="write one expression of a pack as a sticker (512x512, transparent, .png or .webp)",
        description="Write one expression of an emoji pack as a sticker for messaging apps: 512x512 with a "
        "transparent background, as .png or .webp (WebP kept under 100 KB). With --sheet: all seven expressions in "
        "a row, named (the pack's preview).")
    p.add_argument("output", metavar="OUT.png|OUT.webp", help="the file to write")
    p.add_argument("--pack", metavar="NAME", help="emoji pack (default: the config's pack.name)")
    p.add_argument("--expression", default="happy", choices=EXPRESSION_LABELS, help="which one (default happy)")
    p.add_argument("--sheet", action="store_true", help="all seven expressions in one picture instead")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--config", metavar="PATH", help="settings file (for the default pack)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .packs import discover_packs, select_pack
    from .sticker import format_for, save_sheet, save_sticker

    format_for(Path(args.output))  # a wrong extension is said before any pack is loaded
    name = args.pack
    if name is None:
        from .cli import load_settings

        name = load_settings(args.config)[0].pack.name
    packs, _ = discover_packs()
    pack = select_pack(packs, name)
    if args.sheet:
        path = save_sheet(pack, args.output, force=args.force)
        print(f"wrote {path}: the seven expressions of pack {pack.name!r}")
    else:
        path = save_sticker(pack, Expression.from_label(args.expression), args.output, force=args.force)
        print(f"wrote {path}: {args.expression} of pack {pack.name!r}, 512x512, {path.stat().st_size // 1024 + 1} KB")
    return EXIT_OK
