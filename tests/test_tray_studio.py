"""The tray's "Open Studio": the Studio server started once for the tray's engine, the same address opened in the
browser on every click, the item disabled (saying why) where the Studio packages are missing, and Quit closing the
server. In process (a headless tray app and a recording "browser"), and as the real `emoji-cam` process (headless: no
display needed), whose browser is a script named by $BROWSER, as Python's webbrowser module allows.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from studio_fakes import FakeEngine
from tray import menu
from tray.app import PackCatalog, Setup, TrayApp, diagnostics_text
from tray.autostart import Autostart
from tray.backend import HeadlessBackend
from tray.preview import TeeSink
from tray.studio import StudioLauncher, StudioUnavailable
from tray_desktop import REPO, TrayProcess
from vcam_emoji.config import ensure_config_file, load_config
from vcam_emoji.resources import packs_dir
from vcam_emoji.sink.memory import MemorySink

WAIT_S = 60.0  # a guard against hanging, not a speed requirement


def wait_until(check, what: str):
    deadline = time.monotonic() + WAIT_S
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)
    return value


def get_json(url: str, token: str | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def split(url: str) -> tuple[str, str]:
    """(http://127.0.0.1:PORT, token) from the address the Studio opens."""
    base, _, query = url.partition("/?token=")
    return base, query


def port_is_closed(base: str) -> bool:
    port = int(base.rsplit(":", 1)[1])
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# ------------------------------------------------------------------------------------------------------- launcher
@pytest.fixture
def config_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return ensure_config_file(tmp_path / "config.toml")


def test_the_studio_starts_once_and_every_open_gives_the_same_address(config_path):
    engine = FakeEngine(load_config(config_path))
    opened: list[str] = []
    launcher = StudioLauncher(engine, config_path, open_browser=lambda url: opened.append(url) or True, port=0)
    try:
        assert launcher.problem() == "" and launcher.url is None
        url, browser = launcher.open()
        assert browser and opened == [url] and launcher.url == url
        base, token = split(url)
        assert base.startswith("http://127.0.0.1:") and len(token) >= 40
        status, data = get_json(f"{base}/api/v1/status", token)
        assert status == 200 and data["pack"] == "twemoji" and data["state"] == "running"
        assert get_json(f"{base}/api/v1/status")[0] == 401  # the token is still needed
        again, _ = launcher.open()
        assert again == url and opened == [url, url]  # the same server, the same token
    finally:
        launcher.stop()
    assert port_is_closed(base)
    with pytest.raises(StudioUnavailable, match="Emoji Cam is quitting"):
        launcher.open()
    assert opened == [url, url]
    launcher.stop()  # idempotent


def test_a_browser_that_cannot_be_opened_still_leaves_the_studio_running(config_path):
    engine = FakeEngine(load_config(config_path))
    launcher = StudioLauncher(engine, config_path, open_browser=lambda url: False, port=0)
    try:
        url, browser = launcher.open()
        assert not browser
        assert get_json(f"{split(url)[0]}/api/v1/status", split(url)[1])[0] == 200
    finally:
        launcher.stop()


def test_missing_studio_packages_are_named_without_importing_anything(config_path):
    launcher = StudioLauncher(FakeEngine(), config_path, open_browser=lambda url: pytest.fail("opened"),
                              modules=("studio", "no_such_package_for_this_test", "nor_this_one"))
    problem = launcher.problem()
    assert problem.startswith("the Python packages no_such_package_for_this_test, nor_this_one are missing")
    assert "pip install vcam-emoji" in problem
    with pytest.raises(StudioUnavailable, match="Studio cannot be opened: the Python packages"):
        launcher.open()
    assert launcher.url is None


# -------------------------------------------------------------------------------------------------------- tray app
def tray_app(config_path: Path, launcher: StudioLauncher) -> TrayApp:
    setup = Setup(launcher.engine, TeeSink(MemorySink(max_frames=1), lambda: MemorySink(max_frames=1)), config_path,
                  preview_available=True)
    return TrayApp(setup, packs=PackCatalog(roots=lambda: [packs_dir()]),
                   autostart=Autostart(system="Linux", environ={}, home=config_path.parent / "home",
                                       command=["emoji-cam"]),
                   find_cameras=lambda: (), open_path=lambda path: None,
                   backend_factory=lambda *_: HeadlessBackend("test: no tray"), studio=launcher)


def test_the_menu_item_opens_the_studio_and_a_second_click_the_same_address(config_path):
    opened: list[str] = []
    launcher = StudioLauncher(FakeEngine(load_config(config_path)), config_path,
                              open_browser=lambda url: opened.append(url) or True, port=0)
    app = tray_app(config_path, launcher)
    try:
        item = menu.find_item(menu.build_menu(app.menu_state()), "studio")
        assert (item.text, item.enabled) == ("Open Studio", True)
        app.controller.perform(item.action)
        wait_until(lambda: opened, "the browser to be opened")
        notice = wait_until(lambda: [n for n in app.backend.notifications if "Studio" in n], "the notification")
        assert notice == [f"Studio is open in your browser: {split(opened[0])[0]}/"]  # no token on the screen
        app.controller.perform(item.action)
        wait_until(lambda: len(opened) == 2, "the second click")
        assert opened[0] == opened[1]
        assert "studio: running at http://127.0.0.1:" in diagnostics_text(app)
    finally:
        launcher.stop()
    assert port_is_closed(split(opened[0])[0])


def test_without_the_studio_packages_the_tray_runs_and_the_item_says_why(config_path):
    launcher = StudioLauncher(FakeEngine(load_config(config_path)), config_path,
                              modules=("studio", "no_such_package_for_this_test"), port=0)
    app = tray_app(config_path, launcher)
    item = menu.find_item(menu.build_menu(app.menu_state()), "studio")
    assert not item.enabled
    assert item.text == ("Open Studio (unavailable: the Python package no_such_package_for_this_test is missing; "
                         "reinstall Emoji Cam (pip install vcam-emoji) to get the Studio back)")
    app.controller.perform(menu.OpenStudio())  # a click that still comes (an old menu): a notification, no crash
    wait_until(lambda: any("Studio cannot be opened" in n for n in app.backend.notifications), "the notification")
    app.controller.perform(menu.SetPack("classic"))  # the rest of the tray works
    assert load_config(config_path).pack.name == "classic"


# --------------------------------------------------------------------------------------------- the real process
BLOCK_STUDIO = textwrap.dedent("""
    import sys

    class Uninstalled:
        '''The Studio's web stack as if it were not installed: importing it fails like a missing package.'''
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("starlette", "uvicorn"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Uninstalled())
    sys.argv = ["emoji-cam", *sys.argv[1:]]
    import tray.app
    tray.app.entry()
""")


def _tray_process(tmp_path: Path, *, block_studio: bool = False) -> tuple[TrayProcess, Path, Path]:
    if sys.platform == "win32":
        pytest.skip("the recording browser is a shell script")
    config = ensure_config_file(tmp_path / "config.toml")
    record = tmp_path / "browser.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")}
    env.update(XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO),
               PYTHONFAULTHANDLER="1", EMOJI_CAM_TEST_CONTROL="stdin", BROWSER=f"{browser} %s")
    args = ["--source", "demo", "--sink", "none", "--config", str(config)]
    command = [sys.executable, "-c", BLOCK_STUDIO, *args] if block_studio else [sys.executable, "-m", "tray", *args]
    return TrayProcess(command, env), record, config


def test_the_real_tray_opens_the_studio_in_the_browser_and_quit_stops_it(tmp_path: Path):
    tray, record, config = _tray_process(tmp_path)
    try:
        tray.wait_for("the first frame", lambda s: s["state"] == "running")
        assert tray.ask("click studio") == {"clicked": "studio"}
        (url,) = wait_until(lambda: record.exists() and record.read_text().split(), "the browser to be started")
        base, token = split(url)
        status, data = get_json(f"{base}/api/v1/status", token)
        assert status == 200 and data["state"] == "running" and data["demo"] is True  # the tray's own engine
        # the Studio drives the same engine the tray shows: a pack picked there is in the tray's menu
        request = urllib.request.Request(f"{base}/api/v1/commands", data=b'{"command": "pack", "name": "classic"}',
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        tray.wait_for("pack classic in the tray", lambda s: s["pack"] == "classic")
        assert tray.ask("click studio") == {"clicked": "studio"}
        urls = wait_until(lambda: len(record.read_text().split()) == 2 and record.read_text().split(), "a 2nd open")
        assert urls == [url, url]
        assert tray.ask("click quit") == {"clicked": "quit"}
        assert tray.wait_exit() == 0, tray.stderr
    finally:
        tray.kill()
    assert port_is_closed(base)
    assert "camera and output released" in tray.stderr
    assert "Traceback" not in tray.stderr and "did not stop" not in tray.stderr, tray.stderr
    assert load_config(config).pack.name == "classic"


def test_the_real_tray_starts_without_the_studio_packages_and_says_why(tmp_path: Path):
    tray, record, _ = _tray_process(tmp_path, block_studio=True)
    try:
        tray.wait_for("the first frame", lambda s: s["state"] == "running")
        (item,) = [i for i in tray.ask("menu") if i["key"] == "studio"]
        assert not item["enabled"]
        assert item["text"].startswith("Open Studio (unavailable: the Python packages starlette, uvicorn are missing")
        assert tray.ask("click studio") == {"error": "no enabled menu item 'studio'"}
        assert tray.ask("click pack:openmoji") == {"clicked": "pack:openmoji"}
        tray.wait_for("pack openmoji", lambda s: s["pack"] == "openmoji")
        assert tray.ask("click quit") == {"clicked": "quit"}
        assert tray.wait_exit() == 0, tray.stderr
    finally:
        tray.kill()
    assert not record.exists()
    assert "Traceback" not in tray.stderr, tray.stderr


def test_the_launcher_is_safe_to_use_from_two_threads(config_path):
    opened: list[str] = []
    launcher = StudioLauncher(FakeEngine(load_config(config_path)), config_path,
                              open_browser=lambda url: opened.append(url) or True, port=0)
    try:
        threads = [threading.Thread(target=launcher.open) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        assert len(opened) == 3 and len(set(opened)) == 1  # one server, whoever clicked first
    finally:
        launcher.stop()
