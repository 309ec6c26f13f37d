"""Let a virtual environment use the system's PyGObject, for the tray menu on Linux.

pystray's AppIndicator and GTK backends (the ones with a menu) need PyGObject (``gi``). Linux distributions ship it
for their own Python (python3-gi, python3-gobject); pip can only build it from source, which needs a C compiler and
development packages. A virtual environment does not see the system's packages, so this links exactly PyGObject
(``gi``, and ``cairo`` where the system has it) from the system Python's site-packages into a folder of the venv that
a ``.pth`` file names: nothing else of the system's packages comes along, unlike ``--system-site-packages``. The
compiled part of ``gi`` is built for one Python version, so the system Python must have this Python's major.minor.

    python -m tray.system_gi           link it where needed and possible; say what was done, or how to get it
    python -m tray.system_gi --check   only say (exit 0 when PyGObject with GTK 3 can be imported here)
    python -m tray.system_gi --quiet   as the first, silent when it was usable already (for scripts/setup.sh)

``scripts/setup.sh`` runs it after installing into ``.venv``. Exit codes: 0 PyGObject works here, 1 it does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LINK_DIR = "emoji-cam-system-gi"
PTH_FILE = "emoji-cam-system-gi.pth"
SYSTEM_PYTHONS = ("/usr/bin/python3",)
PACKAGES = ("gi", "cairo")  # PyGObject, and pycairo (used by GTK's drawing calls)
INSTALL_HINT = ("install it: sudo apt-get install python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1 "
                "(Debian/Ubuntu; Fedora: sudo dnf install python3-gobject gtk3 libayatana-appindicator-gtk3), then "
                "run this again (the repository's setup script does)")

_PROBE = """
import json, os, sys
out = {"version": list(sys.version_info[:2]), "packages": {}}
for name in ("gi", "cairo"):
    try:
        module = __import__(name)
    except Exception:
        continue
    out["packages"][name] = os.path.dirname(os.path.abspath(module.__file__))
print(json.dumps(out))
"""
ALREADY_USABLE = "PyGObject with GTK 3 is usable here: the tray has a menu"
_GTK_CHECK = "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk"


@dataclass(frozen=True)
class SystemGi:
    python: str
    version: tuple[int, int]
    packages: dict[str, Path]  # name -> the package folder, e.g. "gi" -> /usr/lib/python3/dist-packages/gi


def gtk_importable(site_dir: Path | None = None) -> bool:
    """PyGObject with GTK 3 can be imported by this Python (with ``site_dir``'s .pth files too, if given). Checked in
    a child process: a failed import of a compiled module cannot be undone in this one."""
    code = (f"import site; site.addsitedir({str(site_dir)!r}); " if site_dir is not None else "") + _GTK_CHECK
    try:
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def find_system_gi(pythons: Sequence[str] = SYSTEM_PYTHONS) -> SystemGi | None:
    """The first of ``pythons`` that has PyGObject, with where its packages are; None if none has."""
    for python in pythons:
        try:
            result = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=60,
                                    check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode != 0:
            continue
        data = json.loads(result.stdout.strip().splitlines()[-1])
        if "gi" in data["packages"]:
            return SystemGi(python, tuple(data["version"]), {k: Path(v) for k, v in data["packages"].items()})
    return None


def link(system: SystemGi, site_dir: Path) -> Path:
    """Make ``system``'s packages importable from ``site_dir`` (this venv's site-packages): symlinks in a folder of
    their own, named by a .pth file. Replaces an earlier link. Returns the folder."""
    folder = site_dir / LINK_DIR
    folder.mkdir(exist_ok=True)
    for entry in folder.iterdir():
        if entry.is_symlink():
            entry.unlink()
    for name, path in system.packages.items():
        if name in PACKAGES:
            (folder / name).symlink_to(path, target_is_directory=True)
    (site_dir / PTH_FILE).write_text(f"{folder}\n", encoding="utf-8")
    return folder


def unlink(site_dir: Path) -> None:
    """Undo :func:`link`."""
    (site_dir / PTH_FILE).unlink(missing_ok=True)
    folder = site_dir / LINK_DIR
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_symlink():
                entry.unlink()
        folder.rmdir()


def ensure(*, check_only: bool = False, site_dir: Path | None = None, pythons: Sequence[str] = SYSTEM_PYTHONS,
           in_venv: bool | None = None) -> tuple[bool, str]:
    """Make PyGObject importable by this Python if it is not and can be: (it works now, what was done or how to get
    it). ``site_dir``: where to link (default this venv's site-packages)."""
    if gtk_importable(site_dir):
        return True, ALREADY_USABLE
    system = find_system_gi(pythons)
    if system is None:
        return False, f"no PyGObject on this system for the tray menu; {INSTALL_HINT}"
    here = tuple(sys.version_info[:2])
    if system.version != here:
        return False, (f"the system's PyGObject ({system.packages['gi']}) is built for Python "
                       f"{system.version[0]}.{system.version[1]}, this is {here[0]}.{here[1]}: create the venv with "
                       f"{system.python} (in this repository: remove .venv, then PYTHON={system.python} "
                       "scripts/setup.sh), or pip install PyGObject (needs libgirepository1.0-dev, libcairo2-dev and "
                       "a C compiler)")
    if not ((sys.prefix != sys.base_prefix) if in_venv is None else in_venv):
        return False, (f"{sys.executable} is not a virtual environment and cannot import PyGObject; install "
                       "PyGObject for it, or run Emoji Cam from a venv")
    if check_only:
        return False, (f"the system's PyGObject ({system.packages['gi']}) is not visible to this venv; run "
                       "`python -m tray.system_gi` to let it use it")
    target = site_dir or Path(sysconfig.get_paths()["purelib"])
    folder = link(system, target)
    if gtk_importable(site_dir):
        return True, f"linked the system's PyGObject into {folder}: the tray has a menu"
    unlink(target)
    return False, (f"the system's PyGObject ({system.packages['gi']}) does not import here (is GTK 3's "
                   f"gir1.2-gtk-3.0 missing?); {INSTALL_HINT}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tray.system_gi", description="Let this venv use the system's "
                                     "PyGObject (for the tray menu on Linux).")
    parser.add_argument("--check", action="store_true", help="only say whether PyGObject is usable here")
    parser.add_argument("--quiet", action="store_true", help="say nothing when PyGObject was usable already")
    args = parser.parse_args(argv)
    ok, message = ensure(check_only=args.check)
    if not (args.quiet and message == ALREADY_USABLE):
        print(f"tray menu: {message}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
