"""The tray with pystray's dummy backend (PYSTRAY_BACKEND=dummy): the real pystray menu objects built from the menu
model, clicks reaching the engine and the config file, icons per state, the backend choice, the preview tee."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tray import menu
from tray.app import PackCatalog, Setup, TrayApp
from tray.autostart import Autostart
from tray.backend import HeadlessBackend, HostProbes, choose_backend, describe_tray_backend, open_backend
from tray.preview import TeeSink
from vcam_emoji.config import Config, ensure_config_file, load_config
from vcam_emoji.engine import EngineStatus
from vcam_emoji.errors import DeviceError
from vcam_emoji.packs import discover_packs
from vcam_emoji.resources import packs_dir
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.types import Expression


@pytest.fixture(scope="module")
def pystray():
    """pystray with its dummy backend. pystray picks its backend once, on first import."""
    previous = os.environ.get("PYSTRAY_BACKEND")
    os.environ["PYSTRAY_BACKEND"] = "dummy"
    try:
        import pystray
    finally:
        if previous is None:
            del os.environ["PYSTRAY_BACKEND"]
        else:
            os.environ["PYSTRAY_BACKEND"] = previous
    if pystray.Icon.__module__ != "pystray._base":
        pytest.skip(f"pystray was already imported with another backend ({pystray.Icon.__module__})")
    return pystray


class FakeEngine:
    def __init__(self) -> None:
        self.config = Config()
        self.status_value = EngineStatus(state="running", source="demo clip", sink="memory", demo=False,
                                          pack="twemoji", mirror=False, fps=30.0, latency_ms_p50=5.0,
                                          latency_ms_p99=9.0, faces=1, main_emotion=Expression.HAPPY, frames=10,
                                          problem="")
        self.calls: list[tuple] = []

    def status(self) -> EngineStatus:
        return self.status_value

    def pause(self) -> None:
        self.calls.append(("pause",))

    def resume(self) -> None:
        self.calls.append(("resume",))

    def apply_config(self, config: Config) -> None:
        self.calls.append(("apply_config", config))
        self.config = config
        self.status_value = dataclasses.replace(self.status_value, pack=config.pack.name,
                                                mirror=config.camera.mirror)


@pytest.fixture
def app(pystray, tmp_path: Path, monkeypatch) -> TrayApp:
    from tray.backend import PystrayBackend

    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    monkeypatch.setattr("vcam_emoji.packs.user_packs_dir", lambda: tmp_path / "user-packs")
    config_path = ensure_config_file(tmp_path / "config.toml")
    opened: list[Path] = []
    setup = Setup(FakeEngine(), TeeSink(MemorySink(max_frames=1), lambda: MemorySink(max_frames=1)), config_path,
                  preview_available=True)
    tray_app = TrayApp(setup, packs=PackCatalog(roots=lambda: [packs_dir()]),
                       autostart=Autostart(system="Linux", environ={}, home=tmp_path / "home", command=["emoji-cam"]),
                       find_cameras=lambda: (menu.CameraChoice(0, "Webcam (/dev/video0)", ("/dev/video0",)),),
                       open_path=opened.append,
                       backend_factory=lambda on_action, image, title: PystrayBackend(on_action, image, title))
    tray_app.opened = opened
    tray_app.cameras = tray_app._find_cameras()
    tray_app.refresh()
    return tray_app


def pystray_item(backend, *texts):
    """The pystray MenuItem reached by clicking through ``texts`` (submenu names, then the item)."""
    items = list(backend.pystray_menu().items)
    for text in texts[:-1]:
        items = list(next(i for i in items if i.text == text).submenu.items)
    return next(i for i in items if i.text == texts[-1])


# ------------------------------------------------------------------------------------------------- pystray menu
def test_dummy_backend_has_every_capability(app):
    caps = app.backend.capabilities
    assert app.backend.name == "dummy"
    assert (caps.has_menu, caps.has_menu_radio, caps.has_notification) == (True, True, True)


def test_pystray_menu_mirrors_the_model(app):
    top = [i.text for i in app.backend.pystray_menu().items if i.text != "- - - -"]
    assert top == ["Running, pack twemoji", "Enabled", "Paused (camera released)", "Hide me when no face is found",
                   "Emoji pack", "Mirror",
                   "Show preview", "Smoothing", "Camera", "Open Studio", "Save current emoji as sticker",
                   "Open config file",
                   "Open packs folder", "Diagnostics",
                   "Start at login", "Quit"]
    twemoji = pystray_item(app.backend, "Emoji pack", "twemoji")
    assert twemoji.checked is True and twemoji.radio is True
    assert pystray_item(app.backend, "Emoji pack", "classic").checked is False
    assert pystray_item(app.backend, "Smoothing", "Balanced").checked is True
    assert pystray_item(app.backend, "Camera", "Webcam (/dev/video0)").checked is True
    assert not pystray_item(app.backend, "Running, pack twemoji").enabled


def test_radio_items_become_check_items_where_the_backend_has_none(app):
    app.backend.capabilities = dataclasses.replace(app.backend.capabilities, has_menu_radio=False)
    item = pystray_item(app.backend, "Emoji pack", "twemoji")
    assert item.checked is True and item.radio is False


def test_clicking_a_pack_writes_the_config_and_updates_the_menu(app):
    pystray_item(app.backend, "Emoji pack", "classic")(app.backend.icon)
    assert load_config(app.config_path).pack.name == "classic"
    assert app.engine.calls[-1][0] == "apply_config"
    assert pystray_item(app.backend, "Emoji pack", "classic").checked is True
    assert pystray_item(app.backend, "Emoji pack", "twemoji").checked is False


def test_clicking_paused_pauses_the_engine_and_shows_the_paused_icon(app):
    running_icon = app.backend.icon.icon
    pystray_item(app.backend, "Paused (camera released)")(app.backend.icon)
    assert app.engine.calls == [("pause",)]
    assert pystray_item(app.backend, "Paused (camera released)").checked is True
    assert app.backend.icon.icon is not running_icon
    assert app.backend.icon.title == "Emoji Cam: paused - the camera is released"


def test_smoothing_and_mirror_clicks_write_the_config(app):
    pystray_item(app.backend, "Smoothing", "Steady")(app.backend.icon)
    pystray_item(app.backend, "Mirror")(app.backend.icon)
    config = load_config(app.config_path)
    assert (config.smoothing.time_constant_ms, config.camera.mirror) == (600.0, True)
    assert pystray_item(app.backend, "Smoothing", "Steady").checked is True
    assert pystray_item(app.backend, "Mirror").checked is True


def test_open_items_and_diagnostics_open_files(app, tmp_path, monkeypatch):
    monkeypatch.setattr("tray.app.platformdirs.user_cache_dir", lambda *a, **k: str(tmp_path / "cache"))
    pystray_item(app.backend, "Open config file")(app.backend.icon)
    pystray_item(app.backend, "Open packs folder")(app.backend.icon)
    pystray_item(app.backend, "Diagnostics")(app.backend.icon)
    assert app.opened[:2] == [app.config_path, tmp_path / "user-packs"]
    report = app.opened[2].read_text()
    assert "state: running" in report and "models: detector" in report and str(app.config_path) in report


def test_start_at_login_writes_the_desktop_entry(app, tmp_path):
    pystray_item(app.backend, "Start at login")(app.backend.icon)
    assert (tmp_path / "home" / ".config" / "autostart" / "emoji-cam.desktop").is_file()
    assert pystray_item(app.backend, "Start at login").checked is True
    assert "start at login" in app.backend.notifications[-1]


def test_icon_follows_the_emotion_demo_and_error(app):
    happy = app.backend.icon.icon
    app.engine.status_value = dataclasses.replace(app.engine.status_value, main_emotion=Expression.SURPRISE)
    app.refresh()
    surprise = app.backend.icon.icon
    app.engine.status_value = dataclasses.replace(app.engine.status_value, demo=True)
    app.refresh()
    demo = app.backend.icon.icon
    app.engine.status_value = dataclasses.replace(app.engine.status_value, state="error", problem="output failed")
    app.refresh()
    icons = [np.asarray(i) for i in (happy, surprise, demo, app.backend.icon.icon)]
    assert all(not np.array_equal(a, b) for n, a in enumerate(icons) for b in icons[n + 1:])
    assert app.backend.icon.title == "Emoji Cam: output failed"


def test_a_user_pack_added_while_running_appears_in_the_menu(app, tmp_path):
    user = tmp_path / "user-packs"
    app.packs = PackCatalog(roots=lambda: [packs_dir(), user], discover=lambda: discover_packs([packs_dir(), user]))
    app.packs.poll()
    shutil.copytree(packs_dir() / "classic", user / "mine")
    pack_json = user / "mine" / "pack.json"
    pack_json.write_text(pack_json.read_text().replace('"classic"', '"mine"'))
    assert app.packs.poll() is True
    app.refresh()
    assert pystray_item(app.backend, "Emoji pack", "mine").checked is False
    assert app.packs.poll() is False  # nothing changed since


def test_quit_stops_the_backend(app):
    pystray_item(app.backend, "Quit")(app.backend.icon)
    assert app.quitting.is_set() and app.backend._stopped.is_set()


# ---------------------------------------------------------------------------------------------- backend choice
def probes(sni=False, xembed=False, gtk=False, appindicator=False) -> HostProbes:
    return HostProbes(lambda: sni, lambda: xembed, lambda: gtk, lambda: appindicator)


@pytest.mark.parametrize("environ, system, found, name, reason_part", [
    ({"PYSTRAY_BACKEND": "dummy"}, "Linux", probes(), "dummy", "PYSTRAY_BACKEND=dummy"),
    ({"PYSTRAY_BACKEND": "nope"}, "Linux", probes(), None, "is not a pystray backend"),
    ({"PYSTRAY_BACKEND": "xorg", "DISPLAY": ":1"}, "Linux", probes(), None, "this X display has none"),
    ({}, "Windows", probes(), "win32", "notification area"),
    ({}, "Darwin", probes(), "darwin", "menu bar"),
    ({}, "Linux", probes(sni=True, xembed=True, gtk=True, appindicator=True), None, "no display"),
    ({"DISPLAY": ":0"}, "Linux", probes(sni=True, appindicator=True), "appindicator", "StatusNotifier host"),
    ({"DISPLAY": ":0"}, "Linux", probes(xembed=True, gtk=True), "gtk", "XEmbed"),
    ({"DISPLAY": ":0"}, "Linux", probes(xembed=True), "xorg", "no menu"),
    ({"DISPLAY": ":0"}, "Linux", probes(), None, "gnome-shell-extension-appindicator"),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "Linux", probes(xembed=True, gtk=True), None, "on Wayland only"),
])
def test_choose_backend(environ, system, found, name, reason_part):
    choice = choose_backend(environ, system, found)
    assert choice.name == name and reason_part in choice.reason


@pytest.mark.parametrize("environ, system, found, backend, has_menu, fix_part", [
    ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, "Linux",
     probes(sni=True, appindicator=True), "appindicator", True, ""),
    ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, "Linux", probes(xembed=True, gtk=True), "gtk",
     True, ""),
    ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, "Linux", probes(xembed=True), "xorg", False,
     "gir1.2-ayatanaappindicator3-0.1"),
    ({"DISPLAY": ":0", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x", "PYSTRAY_BACKEND": "xorg"}, "Linux",
     probes(xembed=True, gtk=True), "xorg", False, "unset PYSTRAY_BACKEND"),
    ({}, "Linux", probes(), "headless", False, "start emoji-cam in a desktop session"),
    ({}, "Windows", probes(), "win32", True, ""),
])
def test_describe_tray_backend_says_which_tray_and_how_to_get_the_menu(environ, system, found, backend, has_menu,
                                                                        fix_part):
    report = describe_tray_backend(environ, system, found)
    assert (report.backend, report.has_menu) == (backend, has_menu)
    assert (fix_part in report.fix) if fix_part else report.fix == ""
    assert report.reason in report.text()


def test_describe_tray_backend_without_a_session_bus_says_so(monkeypatch):
    monkeypatch.setattr("tray.backend.shutil.which", lambda name: None)  # no dbus-launch either
    report = describe_tray_backend({"DISPLAY": ":0"}, "Linux", probes(xembed=True))
    assert report.backend == "xorg" and "D-Bus session bus" in report.fix


def test_no_display_runs_headless_and_says_why(caplog):
    caplog.set_level("INFO")
    backend = open_backend(lambda action: None, None, "t", environ={}, system="Linux", probes=probes())
    assert isinstance(backend, HeadlessBackend)
    assert "no display" in backend.headless_reason
    assert "no tray icon: no display" in caplog.text  # the app prints it for the user, with what to do
    backend.notify("settings file is broken")
    assert list(backend.notifications) == ["settings file is broken"]
    stopped = []
    backend.stop()
    backend.run(lambda: stopped.append("ready"))  # returns at once: already stopped
    assert stopped == ["ready"]


def test_pystray_is_not_imported_by_the_engine_side():
    code = ("import sys, tray.menu, tray.icon, tray.app, vcam_emoji.engine, vcam_emoji.cli; "
            "print('pystray' in sys.modules)")
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------------------------------- preview tee
class BrokenPreview:
    def __init__(self) -> None:
        raise DeviceError("no display for the preview window")


class ClosingPreview(MemorySink):
    closed_by_user = True


def frame() -> np.ndarray:
    return np.zeros((4, 4, 3), np.uint8)


def test_tee_sends_to_the_main_sink_and_to_the_preview_only_while_shown():
    main, previews = MemorySink(), []
    tee = TeeSink(main, lambda: previews.append(MemorySink()) or previews[-1])
    tee.send(frame())
    tee.set_shown(True)
    tee.send(frame())
    tee.send(frame())
    tee.set_shown(False)
    tee.send(frame())
    assert main.count == 4
    assert [p.count for p in previews] == [2] and previews[0].closed
    tee.close()
    assert main.closed


def test_tee_turns_the_preview_off_when_it_cannot_be_shown():
    problems = []
    tee = TeeSink(MemorySink(), BrokenPreview, on_problem=problems.append)
    tee.set_shown(True)
    tee.send(frame())
    assert not tee.shown
    assert problems == ["cannot show the preview: no display for the preview window"]


def test_tee_turns_the_preview_off_when_the_user_closes_the_window():
    tee = TeeSink(MemorySink(), ClosingPreview)
    tee.set_shown(True)
    tee.send(frame())
    assert not tee.shown


def test_save_current_emoji_as_sticker_writes_the_pictures_folder_and_says_where(app, tmp_path, monkeypatch):
    from PIL import Image

    from vcam_emoji.sticker import sticker_image

    monkeypatch.setattr("tray.app.platformdirs.user_pictures_dir", lambda: str(tmp_path / "Pictures"))
    app.engine.status_value = dataclasses.replace(app.engine.status_value, main_emotion=Expression.SURPRISE)
    pystray_item(app.backend, "Save current emoji as sticker")(app.backend.icon)
    pystray_item(app.backend, "Save current emoji as sticker")(app.backend.icon)
    saved = sorted((tmp_path / "Pictures").iterdir())
    assert [p.name.startswith("emoji-cam-twemoji-surprise-") for p in saved] == [True, True]  # never overwritten
    assert saved[0].suffix == saved[1].suffix == ".png"  # the second one -2 (or a second later)
    with Image.open(saved[0]) as img:
        assert img.size == (512, 512) and img.mode == "RGBA"
        assert np.array_equal(np.asarray(img), sticker_image(app.packs.packs["twemoji"], Expression.SURPRISE))
    said = list(app.backend.notifications)[-2:]
    assert sorted(p for p in saved if any(str(p) in n for n in said)) == saved and "surprise" in said[-1]


def test_saving_a_sticker_without_a_face_saves_the_neutral_one_and_says_so(app, tmp_path, monkeypatch):
    monkeypatch.setattr("tray.app.platformdirs.user_pictures_dir", lambda: str(tmp_path / "Pictures"))
    app.engine.status_value = dataclasses.replace(app.engine.status_value, main_emotion=None)
    pystray_item(app.backend, "Save current emoji as sticker")(app.backend.icon)
    (saved,) = (tmp_path / "Pictures").iterdir()
    assert "-neutral-" in saved.name and "no face" in app.backend.notifications[-1]


def test_saving_a_sticker_where_it_cannot_be_written_is_a_notification(app, tmp_path, monkeypatch):
    (tmp_path / "Pictures").write_text("a file, not a folder")
    monkeypatch.setattr("tray.app.platformdirs.user_pictures_dir", lambda: str(tmp_path / "Pictures"))
    pystray_item(app.backend, "Save current emoji as sticker")(app.backend.icon)
    assert "Pictures" in app.backend.notifications[-1] and not app.quitting.is_set()


def test_a_pack_redrawn_while_running_shows_its_new_pictures_in_the_icon(app, tmp_path):
    from PIL import Image

    user = tmp_path / "user-packs"
    shutil.copytree(packs_dir() / "classic", user / "mine")
    pack_json = user / "mine" / "pack.json"
    pack_json.write_text(pack_json.read_text().replace('"classic"', '"mine"'))
    app.packs = PackCatalog(roots=lambda: [packs_dir(), user], discover=lambda: discover_packs([packs_dir(), user]))
    app.packs.poll()
    app.engine.status_value = dataclasses.replace(app.engine.status_value, pack="mine",
                                                  main_emotion=Expression.HAPPY)
    app.refresh()
    before = np.asarray(app.backend.icon.icon)
    Image.new("RGBA", (512, 512), (0, 200, 0, 255)).save(user / "mine" / "happy.png")  # redrawn: all green
    assert app.packs.poll() is True
    app.refresh()
    assert not np.array_equal(np.asarray(app.backend.icon.icon), before)
