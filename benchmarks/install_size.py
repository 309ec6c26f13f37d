#!/usr/bin/env python3
"""Install size: the vcam-emoji wheel, and what `pip install` of it puts on the disk, per platform.

    python benchmarks/install_size.py                        # this machine: build the wheel, fresh venv, install
    python benchmarks/install_size.py --extras cuda          # the same with an extra
    python benchmarks/install_size.py --platform win_amd64   # another platform (needs uv): its wheels' sizes
    python benchmarks/install_size.py --wheel dist/x.whl     # an already built wheel

For this machine it builds the wheel (``pip wheel --no-deps .``), creates a fresh venv in a temporary folder,
``pip install``s the wheel there and prints the wheel's size, the whole venv's size (``du``) and the largest
installed distributions (the files their RECORD lists). For another platform (``--platform``, one of PLATFORMS) it
cannot install: ``uv pip compile --python-platform`` resolves the dependencies with that platform's environment
markers (pip evaluates them for the machine it runs on, even with ``--platform``), ``pip download --no-deps
--only-binary=:all:`` fetches those wheels, and it prints their download size and their unpacked size (what
site-packages would hold, less the .pyc files Python writes later). ``uv`` must be on PATH for that
(``pip install uv`` in any venv). Nothing is asserted: the figures go into README.md. Needs the network (pip's
index) or a pip cache; it is a measurement, not part of the product.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1e6
# pip platform tag -> uv's name for the platform
PLATFORMS = {
    "win_amd64": "x86_64-pc-windows-msvc",
    "macosx_15_0_arm64": "aarch64-apple-darwin",  # uv: with MACOSX_DEPLOYMENT_TARGET=15.0
    "manylinux_2_28_x86_64": "x86_64-manylinux_2_28",
    "manylinux_2_28_aarch64": "aarch64-manylinux_2_28",
}


def _run(cmd: list[str], **kw) -> None:
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kw)


def build_wheel(out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)])
    (wheel,) = out.glob("vcam_emoji-*.whl")
    return wheel


def _du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            p = Path(root, name)
            if not p.is_symlink():
                total += p.stat().st_size
    return total


def _installed_sizes(site: Path) -> dict[str, int]:
    sizes = {}
    for record in site.glob("*.dist-info/RECORD"):
        name = record.parent.name.rsplit("-", 1)[0]
        total = 0
        with open(record, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                p = site / row[0]
                if row and p.is_file():
                    total += p.stat().st_size
        sizes[name] = total
    return sizes


def measure_here(wheel: Path, extras: str, top: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vcam-size-") as tmp:
        env_dir = Path(tmp) / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        empty = _du(env_dir)
        target = f"{wheel}[{extras}]" if extras else str(wheel)
        _run([str(python), "-m", "pip", "install", "--quiet", target])
        total = _du(env_dir)
        (site,) = env_dir.glob("lib/python3*/site-packages") if os.name != "nt" else [env_dir / "Lib/site-packages"]
        sizes = _installed_sizes(site)
    print(f"wheel {wheel.name}: {wheel.stat().st_size / MB:.1f} MB")
    print(f"fresh venv after `pip install {wheel.name}{f'[{extras}]' if extras else ''}`: {total / MB:.0f} MB "
          f"({(total - empty) / MB:.0f} MB more than the empty venv with pip, {empty / MB:.0f} MB)")
    print(f"{len(sizes)} distributions; the largest (installed files):")
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1])[:top]:
        print(f"  {name:<32} {size / MB:8.1f} MB")


def measure_platform(wheel: Path, extras: str, platform_tag: str, python_version: str, top: int) -> None:
    uv = shutil.which("uv")
    if uv is None:
        raise SystemExit("--platform needs uv on PATH (pip install uv), to resolve that platform's markers")
    with tempfile.TemporaryDirectory(prefix="vcam-size-") as tmp:
        requirement = Path(tmp, "in.txt")
        requirement.write_text((f"{wheel}[{extras}]" if extras else str(wheel)) + "\n")
        pinned = Path(tmp, "pinned.txt")
        _run([uv, "pip", "compile", "--quiet", "--no-header", "--no-annotate", "--python-platform",
              PLATFORMS[platform_tag], "--python-version", python_version, "-o", str(pinned), str(requirement)],
             env={**os.environ, "MACOSX_DEPLOYMENT_TARGET": "15.0"})
        print(f"resolved for {platform_tag}: " + ", ".join(line for line in pinned.read_text().split() if "==" in line))
        wheels = Path(tmp, "wheels")
        _run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--platform",
              platform_tag, "--python-version", python_version, "-d", str(wheels), "-r", str(pinned)])
        rows = []
        for path in wheels.glob("*.whl"):
            with zipfile.ZipFile(path) as zf:
                unpacked = sum(info.file_size for info in zf.infolist())
            rows.append((path.name.split("-")[0], path.stat().st_size, unpacked))
    print(f"platform {platform_tag}, Python {python_version}: {len(rows)} wheels, "
          f"download {sum(r[1] for r in rows) / MB:.0f} MB, unpacked {sum(r[2] for r in rows) / MB:.0f} MB")
    print("the largest (unpacked):")
    for name, size, unpacked in sorted(rows, key=lambda r: -r[2])[:top]:
        print(f"  {name:<32} {unpacked / MB:8.1f} MB  (download {size / MB:.1f} MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help="measure this wheel (default: build one from this checkout)")
    parser.add_argument("--extras", default="", help="extras to install with it, e.g. cuda")
    parser.add_argument("--platform", choices=sorted(PLATFORMS), help="measure another platform's wheels (needs uv) "
                        "instead of installing here")
    parser.add_argument("--python-version", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vcam-wheel-") as out:
        wheel = args.wheel or build_wheel(Path(out))
        if args.platform:
            print(f"wheel {wheel.name}: {wheel.stat().st_size / MB:.1f} MB")
            measure_platform(wheel, args.extras, args.platform, args.python_version, args.top)
        else:
            measure_here(wheel, args.extras, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
