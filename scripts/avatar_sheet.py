#!/usr/bin/env python3
"""Draw docs/avatars.png: three different avatars (rows) x the seven expressions (columns), as avatar packs show them.

Usage: .venv/bin/python scripts/avatar_sheet.py [OUT.png]   (default docs/avatars.png; about 5 s)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vcam_emoji.avatar import AvatarAttributes, AvatarRenderer
from vcam_emoji.types import Expression

AVATARS = {
    "default": AvatarAttributes(),
    "fro, beard, glasses": AvatarAttributes(skin="dark_brown", hair="fro", hair_color="black",
                                            facial_hair="beard_medium", accessory="prescription_2",
                                            clothing="graphic_shirt", clothing_color="pastel_green", graphic="bear"),
    "bun, classic brows": AvatarAttributes(skin="pale", hair="bun", hair_color="auburn", eyebrows="classic",
                                           clothing="collar_sweater", clothing_color="red", nose="small"),
}
TILE = 256
HEAD_H, LABEL_W = 40, 40


def sheet() -> Image.Image:
    renderer = AvatarRenderer(TILE)
    width, height = LABEL_W + TILE * len(Expression), HEAD_H + TILE * len(AVATARS)
    img = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    small = ImageFont.load_default(size=18)
    for col, expression in enumerate(Expression):
        draw.text((LABEL_W + col * TILE + TILE / 2, HEAD_H / 2), expression.label, fill=(40, 40, 40, 255), font=font,
                  anchor="mm")
    for row, (label, attrs) in enumerate(AVATARS.items()):
        y = HEAD_H + row * TILE
        for col, expression in enumerate(Expression):
            x = LABEL_W + col * TILE
            draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], fill=(242, 244, 247, 255), outline=(225, 228, 232, 255))
            tile = Image.fromarray(np.ascontiguousarray(renderer.render(attrs, expression)), "RGBA")
            img.alpha_composite(tile, (x, y))
        text = Image.new("RGBA", (TILE, LABEL_W), (0, 0, 0, 0))
        ImageDraw.Draw(text).text((TILE / 2, LABEL_W / 2), label, fill=(90, 90, 90, 255), font=small, anchor="mm")
        img.alpha_composite(text.rotate(90, expand=True), (0, y))
    return img


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parents[1] / "docs" / "avatars.png"
    sheet().convert("RGB").save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
