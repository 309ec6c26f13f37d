"""Smoke test: the real tray process (`python -m tray`) under Xvfb, with a system tray host (trayer) where Debian's
package is installed, driven through the documented test control (EMOJI_CAM_TEST_CONTROL=stdin, see tray/app.py):
switch the pack, edit the config file by hand (bad, then good), try a second launch, then Quit.

Skipped with a reason where Xvfb is missing (install: apt-get install -y xvfb xdotool trayer dbus-daemon).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.tray_desktop import REPO, WAIT_S, desktop, poll
from tray.single_instance import InstanceLock
from vcam_emoji.config import ensure_config_file, load_config

pytestmark = pytest.mark.needs_display


@pytest.fixture
def on_desktop(tmp_path: Path):
    with desktop(tmp_path) as d:
        yield d


def test_real_tray_switches_pack_reloads_config_refuses_a_second_launch_and_quits(on_desktop, tmp_path: Path):
    env, runtime, has_tray_host = on_desktop.env, on_desktop.runtime, on_desktop.has_tray_host
    config = ensure_config_file(tmp_path / "config.toml")
    args = ["-m", "tray", "--source", "demo", "--sink", "none", "--config", str(config)]
    tray = on_desktop.tray(*args[2:])
    try:
        status = tray.wait_for("the first frame", lambda s: s["state"] == "running")
        assert status["demo"] and status["icon"] == "demo" and status["pack"] == "twemoji"
        if has_tray_host:
            assert status["backend"] in ("gtk", "xorg"), tray.stderr
            if shutil.which("xdotool"):  # the icon is shown from the tray's own loop: it may come a moment later
                assert poll(on_desktop.icon_window), f"no tray icon window found; stderr:\n{tray.stderr}"
        else:
            assert status["backend"] == "headless" and "no StatusNotifier tray" in status["headless_reason"]

        # switch the pack through the menu: saved in the config file, shown in the menu
        assert tray.ask("click pack:classic") == {"clicked": "pack:classic"}
        tray.wait_for("pack classic", lambda s: s["pack"] == "classic")
        assert load_config(config).pack.name == "classic"
        packs = next(i for i in tray.ask("menu") if i["key"] == "pack")["submenu"]
        assert [p["text"] for p in packs if p["checked"]] == ["classic"]

        # a bad hand edit is reported naming the problem, and the last good settings stay
        good = config.read_text()
        config.write_text(good.replace('name = "classic"', 'name = ""'))
        status = tray.wait_for("the bad edit to be reported", lambda s: any(str(config) in n and "pack.name" in n
                                                                           for n in s["notifications"]))
        assert status["pack"] == "classic"
        # a good hand edit applies live and the menu follows
        config.write_text(good.replace('name = "classic"', 'name = "openmoji"'))
        tray.wait_for("pack openmoji", lambda s: s["pack"] == "openmoji")

        # one instance at a time
        second = subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=WAIT_S,
                                cwd=REPO, stdin=subprocess.DEVNULL, check=False)
        assert second.returncode == 1
        assert "Emoji Cam is already running" in second.stderr

        assert tray.ask("click quit") == {"clicked": "quit"}
        assert tray.wait_exit() == 0, tray.stderr
        if "did not stop within" in tray.stderr:  # Quit still worked, through the quit watchdog: show why
            warnings.warn(f"the tray loop needed the quit watchdog:\n{tray.stderr}", stacklevel=1)
    finally:
        tray.kill()
    assert "camera and output released" in tray.stderr
    assert load_config(config).pack.name == "openmoji"  # Quit leaves the config as it was
    with InstanceLock(runtime / "vcam-emoji"):  # the lock was released
        pass
