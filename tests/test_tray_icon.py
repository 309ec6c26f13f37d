"""Tray icon pictures (tray/icon.py), the plain X11 tray's picture and mask, and the set-up helpers for the GTK tray:
the system's PyGObject made visible to a venv (tray/system_gi.py) and OpenCV's libxkbcommon shared with GTK."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tray import system_gi
from tray.backend import share_opencv_xkbcommon
from tray.icon import ICON_SIZE, KINDS, render_icon, xembed_picture


def emoji() -> np.ndarray:
    bgra = np.zeros((256, 256, 4), np.uint8)
    yy, xx = np.mgrid[:256, :256]
    disc = (yy - 128) ** 2 + (xx - 128) ** 2 < 120 ** 2
    bgra[disc] = (40, 200, 250, 255)
    return bgra


@pytest.mark.parametrize("kind", KINDS)
def test_every_icon_is_square_rgba_with_transparent_corners_and_nothing_on_its_edges(kind):
    icon = render_icon(kind, emoji())
    alpha = np.asarray(icon.getchannel("A"))
    assert icon.mode == "RGBA" and icon.size == (ICON_SIZE, ICON_SIZE)
    assert alpha[0, 0] == alpha[0, -1] == alpha[-1, 0] == alpha[-1, -1] == 0
    # a tray that crops or rounds its icons must not cut the badge (it touched the right and bottom edges)
    assert alpha[:, -1].max() == alpha[-1, :].max() == 0


@pytest.mark.parametrize("size_wh", [(24, 24), (24, 30), (40, 22)])
def test_the_x11_picture_is_the_icon_fitted_square_and_centred_with_a_mask_for_the_transparent_pixels(size_wh):
    w, h = size_wh
    picture, mask = xembed_picture(render_icon("running", emoji()), size_wh)
    assert picture.mode == "RGB" and mask.mode == "1" and picture.size == mask.size == size_wh
    drawn = np.asarray(mask.convert("L")) > 0
    assert not drawn[0, 0] and not drawn[-1, -1] and drawn[h // 2, w // 2]  # corners left to the tray
    rows, cols = np.flatnonzero(drawn.any(axis=1)), np.flatnonzero(drawn.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    assert abs(width - height) <= 1  # a disc stays round in a window that is not square
    assert abs((cols[0] + cols[-1]) / 2 - (w - 1) / 2) <= 1 and abs((rows[0] + rows[-1]) / 2 - (h - 1) / 2) <= 1
    assert picture.getpixel((w // 2, h // 2)) == (250, 200, 40)  # the emoji's colour, not darkened by black


def test_the_x11_picture_refuses_an_empty_window():
    with pytest.raises(ValueError, match="size_wh"):
        xembed_picture(Image.new("RGBA", (8, 8)), (0, 24))


# ------------------------------------------------------------------------------------------------ system PyGObject
def fake_system_python(tmp_path: Path, version: tuple[int, int], packages: dict[str, Path]) -> str:
    script = tmp_path / "python3"
    answer = json.dumps({"version": list(version), "packages": {k: str(v) for k, v in packages.items()}})
    script.write_text(f"#!/bin/sh\necho '{answer}'\n")
    script.chmod(0o755)
    return str(script)


def fake_package(root: Path, name: str) -> Path:
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"WHERE = {str(package)!r}\n")
    return package


def test_link_makes_exactly_the_system_packages_importable_and_unlink_removes_them(tmp_path: Path):
    system = tmp_path / "dist-packages"
    packages = {name: fake_package(system, name) for name in ("gi", "cairo")}
    fake_package(system, "numpy")  # the system's other packages do not come along
    site = tmp_path / "site"
    site.mkdir()
    folder = system_gi.link(system_gi.SystemGi("python3", sys.version_info[:2], packages), site)
    assert sorted(p.name for p in folder.iterdir()) == ["cairo", "gi"]
    assert (site / system_gi.PTH_FILE).read_text().strip() == str(folder)
    code = (f"import site; site.addsitedir({str(site)!r}); import gi, cairo; print(gi.WHERE); "
            "import importlib.util; print(importlib.util.find_spec('numpy') is None)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,  # -S: no venv
                         check=True).stdout.split()
    assert out == [str(packages["gi"]), "True"]
    system_gi.link(system_gi.SystemGi("python3", sys.version_info[:2], packages), site)  # again: replaced
    system_gi.unlink(site)
    assert list(site.iterdir()) == []


def test_a_system_pygobject_for_another_python_version_is_not_linked_and_the_message_says_what_to_do(tmp_path,
                                                                                                  monkeypatch):
    monkeypatch.setattr(system_gi, "gtk_importable", lambda site_dir=None: False)
    other = (3, sys.version_info[1] + 1)
    python = fake_system_python(tmp_path, other, {"gi": tmp_path / "gi"})
    ok, message = system_gi.ensure(site_dir=tmp_path, pythons=[python])
    assert not ok and f"built for Python 3.{other[1]}" in message and f"PYTHON={python} scripts/setup.sh" in message
    assert not (tmp_path / system_gi.PTH_FILE).exists()


def test_without_any_system_pygobject_the_message_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(system_gi, "gtk_importable", lambda site_dir=None: False)
    ok, message = system_gi.ensure(site_dir=tmp_path, pythons=[str(tmp_path / "no-such-python")])
    assert not ok and "python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1" in message


def test_a_link_that_does_not_import_is_taken_back(tmp_path, monkeypatch):
    monkeypatch.setattr(system_gi, "gtk_importable", lambda site_dir=None: False)
    python = fake_system_python(tmp_path, sys.version_info[:2], {"gi": fake_package(tmp_path / "sys", "gi")})
    site = tmp_path / "site"
    site.mkdir()
    ok, message = system_gi.ensure(site_dir=site, pythons=[python], in_venv=True)
    assert not ok and "does not import here" in message
    assert list(site.iterdir()) == []


def test_the_real_system_pygobject_links_into_a_fresh_site_folder(tmp_path: Path):
    system = system_gi.find_system_gi()
    if system is None or system.version != tuple(sys.version_info[:2]):
        pytest.skip("no system PyGObject for this Python version (Debian: apt-get install python3-gi gir1.2-gtk-3.0)")
    folder = system_gi.link(system, tmp_path)
    code = f"import sys; sys.path.insert(0, {str(folder)!r}); {system_gi._GTK_CHECK}; import gi; print(gi.__file__)"
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().startswith(str(folder))


# ------------------------------------------------------------------------------------------------------- xkbcommon
def test_opencvs_libxkbcommon_is_shared_only_on_linux_and_only_when_bundled():
    assert share_opencv_xkbcommon("Windows") is None and share_opencv_xkbcommon("Darwin") is None
    loaded = share_opencv_xkbcommon("Linux") if sys.platform.startswith("linux") else None
    if loaded is not None:
        assert os.path.basename(loaded).startswith("libxkbcommon-") and "opencv_python.libs" in loaded
