"""The tray as a user meets it on a Linux desktop, under Xvfb with a system tray host (trayer), by mouse and keyboard
(xdotool): the menu of the GTK backend opens and switches the pack; a click on the plain X11 icon pauses and
resumes, and that icon has no black corners; Quit with a preview window open ends cleanly, without warnings (how
fast: benchmarks/bench_tray_quit.py).

Each test skips with the reason where the Debian packages it needs are missing (tests/tray_desktop.py).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.tray_desktop import PACKAGES_HINT, desktop, poll
from tray.system_gi import gtk_importable
from vcam_emoji.config import ensure_config_file, load_config

pytestmark = pytest.mark.needs_display

NOT_IN_A_CLEAN_QUIT = ("did not stop within", "Traceback", "Current thread", "Timers cannot", "QObject::",
                       "QBasicTimer", "Gtk-WARNING", "Gtk-CRITICAL", "GLib-CRITICAL")


def needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed ({PACKAGES_HINT})")


@pytest.fixture
def on_desktop(tmp_path: Path):
    needs("Xvfb", "trayer", "xdotool", "dbus-run-session")
    with desktop(tmp_path) as d:
        yield d


def screen(env: dict):
    from PIL import ImageGrab

    return ImageGrab.grab(xdisplay=env["DISPLAY"]).convert("RGB")


def start(on_desktop, tmp_path: Path, *args: str, backend: str | None = None):
    config = ensure_config_file(tmp_path / "config.toml")
    tray = on_desktop.tray("--source", "demo", "--config", str(config), *args, backend=backend)
    tray.wait_for("the first frame", lambda s: s["state"] == "running")
    assert poll(on_desktop.icon_window), f"no tray icon window; stderr:\n{tray.stderr}"
    return tray, config


def test_the_gtk_menu_opens_from_the_icon_and_switches_the_pack(on_desktop, tmp_path: Path):
    if not gtk_importable():
        pytest.skip("PyGObject with GTK 3 is not importable here (apt-get install python3-gi gir1.2-gtk-3.0; "
                    "scripts/setup.sh then lets .venv use it)")
    tray, config = start(on_desktop, tmp_path, "--sink", "none")
    try:
        assert tray.ask("status")["backend"] == "gtk", tray.stderr
        menu = tray.ask("menu")
        top = [i["key"] for i in menu if i["enabled"]]
        packs = [i["key"] for i in next(i for i in menu if i["key"] == "pack")["submenu"] if i["enabled"]]
        x, y = on_desktop.icon_centre()
        before = screen(on_desktop.env)
        on_desktop.xdotool("mousemove", str(x), str(y), "click", "3")
        assert poll(lambda: screen(on_desktop.env).crop((0, 60, 800, 600)).getbbox() is not None, timeout=20), \
            "no menu appeared below the tray after a right click"
        assert before.crop((0, 60, 800, 600)).getbbox() is None  # nothing was there before the click
        # GTK's first Down selects the first item that can be chosen; Right opens a submenu on its first item
        on_desktop.xdotool("key", *["Down"] * (top.index("pack") + 1), "Right")
        time.sleep(0.5)
        on_desktop.xdotool("key", *["Down"] * packs.index("pack:classic"), "Return")
        tray.wait_for("pack classic", lambda s: s["pack"] == "classic")
        assert load_config(config).pack.name == "classic"
        assert tray.ask("click quit") == {"clicked": "quit"}
        assert tray.wait_exit() == 0, tray.stderr
    finally:
        tray.kill()


def test_a_click_on_the_plain_x11_icon_pauses_and_resumes_and_its_corners_are_not_black(on_desktop, tmp_path):
    tray, _ = start(on_desktop, tmp_path, "--sink", "none", backend="xorg")
    try:
        assert tray.ask("status")["backend"] == "xorg", tray.stderr
        def look():
            """(screenshot, icon box, tray colour beside it, the box's corner pixels), the window's place read anew:
            the tray may still move or resize the icon while it takes it in."""
            window = dict(line.split("=", 1) for line in on_desktop.xdotool(
                "getwindowgeometry", "--shell", on_desktop.icon_window()).split())
            left, top = int(window["X"]), int(window["Y"])
            box = (left, top, left + int(window["WIDTH"]), top + int(window["HEIGHT"]))
            shot = screen(on_desktop.env)
            tray_colour = shot.getpixel((left - 2, (box[1] + box[3]) // 2))  # the tray's background beside the icon
            corners = [shot.getpixel(p) for p in ((box[0], box[1]), (box[2] - 1, box[1]), (box[0], box[3] - 1),
                                                  (box[2] - 1, box[3] - 1))]
            return shot, box, tray_colour, corners

        def settled_look():
            shot, box, colour, corners = look()
            centre = shot.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2))
            return colour != (0, 0, 0) and centre != (0, 0, 0) and corners == [colour] * 4

        # Until the tray has taken the window in, the icon is drawn on the window's own background: wait for the
        # settled picture (the centre drawn, the corners the tray's colour), then check it.
        poll(settled_look, timeout=30)
        shot, (left, top, right, bottom), tray_colour, corners = look()
        x, y = (left + right) // 2, (top + bottom) // 2
        assert tray_colour != (0, 0, 0) and corners == [tray_colour] * 4, (tray_colour, corners)
        drawn = [(px, py) for px in range(left, right) for py in range(top, bottom)
                 if shot.getpixel((px, py)) != tray_colour]
        width = max(p[0] for p in drawn) - min(p[0] for p in drawn) + 1
        height = max(p[1] for p in drawn) - min(p[1] for p in drawn) + 1
        assert abs(width - height) <= 2, (width, height)  # fitted as a square, not stretched to the window

        # pystray's X11 icon asks the tray to dock it again at every icon change, and the tray then takes the window
        # in anew; a click in that moment goes to the tray. A person clicks the icon they see: click once the picture
        # has stopped changing.
        def settled_icon():
            box = (left, top, right, bottom)
            first = screen(on_desktop.env).crop(box).tobytes()
            time.sleep(0.5)
            return first if screen(on_desktop.env).crop(box).tobytes() == first else None

        running_icon = settled_icon() or (poll(settled_icon, timeout=20) and settled_icon())
        on_desktop.xdotool("mousemove", str(x), str(y), "click", "1")
        tray.wait_for("paused after a click", lambda s: s["paused"] and s["icon"] == "paused")
        poll(lambda: settled_icon() not in (None, running_icon), timeout=20)  # the paused icon, drawn and still
        on_desktop.xdotool("click", "1")
        tray.wait_for("running again after a second click", lambda s: not s["paused"] and s["state"] != "paused")
        assert tray.ask("click quit") == {"clicked": "quit"}
        assert tray.wait_exit() == 0, tray.stderr
    finally:
        tray.kill()


@pytest.mark.parametrize("sink", ["preview", "tee", "file"])
def test_quit_with_a_preview_window_open_ends_cleanly_without_warnings(on_desktop, tmp_path: Path, sink):
    """preview: the output is the window; tee: the output goes nowhere and "Show preview" is on; file: a video file
    (no window) - every output the tray can have here (no virtual camera)."""
    args = {"preview": ["--sink", "preview"], "tee": ["--sink", "none"],
            "file": ["--sink", str(tmp_path / "out.mp4")]}[sink]
    tray, _ = start(on_desktop, tmp_path, *args)
    try:
        if sink == "tee":
            assert tray.ask("click preview") == {"clicked": "preview"}
        if sink != "file":
            assert poll(lambda: on_desktop.xdotool("search", "--name", "^Emoji Cam preview$")), \
                f"no preview window; stderr:\n{tray.stderr}"
        time.sleep(1.0)  # frames flowing into the window
        tray.send("click quit")
        code = tray.wait_exit()
    finally:
        tray.kill()
    assert code == 0, tray.stderr
    assert "camera and output released" in tray.stderr
    # A Quit that hangs is caught by the app itself: after 10 s it says "did not stop within" and dumps every
    # thread's stack (both in NOT_IN_A_CLEAN_QUIT). How long a clean Quit takes is a figure, not a test:
    # benchmarks/bench_tray_quit.py prints it.
    assert not [w for w in NOT_IN_A_CLEAN_QUIT if w in tray.stderr], tray.stderr
