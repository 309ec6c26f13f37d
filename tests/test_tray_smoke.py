"""Smoke test: the real tray process (`python -m tray`) under Xvfb, with a system tray host (trayer) where Debian's
package is installed, driven through the documented test control (EMOJI_CAM_TEST_CONTROL=stdin, see tray/app.py):
switch the pack, edit the config file by hand (bad, then good), try a second launch, then Quit.

Skipped with a reason where Xvfb is missing (install: apt-get install -y xvfb xdotool trayer dbus-daemon).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

from tray.app import CONTROL_PREFIX
from tray.single_instance import InstanceLock
from vcam_emoji.config import ensure_config_file, load_config

pytestmark = pytest.mark.needs_display

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 90.0  # a guard against hanging, not a speed requirement


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)
    sink.put(None)


class Xvfb:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        number = self.proc.stdout.readline().strip()
        if not number.isdigit():
            self.proc.kill()
            pytest.fail(f"Xvfb did not report a display number (got {number!r})")
        self.display = f":{number}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class TrayProcess:
    def __init__(self, command: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env, cwd=REPO)
        self.out: queue.Queue = queue.Queue()
        self.err_lines: list[str] = []
        threading.Thread(target=_lines, args=(self.proc.stdout, self.out), daemon=True).start()
        threading.Thread(target=lambda: self.err_lines.extend(self.proc.stderr), daemon=True).start()

    @property
    def stderr(self) -> str:
        return "".join(self.err_lines)

    def ask(self, command: str) -> object:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.out.get(timeout=WAIT_S)
            assert line is not None, f"the tray exited; stderr:\n{self.stderr}"
            if line.startswith(CONTROL_PREFIX):
                return json.loads(line[len(CONTROL_PREFIX):])

    def wait_exit(self) -> int:
        """The exit code; on a hang, fail with every thread's stack (faulthandler, PYTHONFAULTHANDLER=1)."""
        try:
            return self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            children = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True,
                                      check=False).stdout.split()
            for pid in [self.proc.pid, *map(int, children)]:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGABRT)
            time.sleep(3.0)
            pytest.fail(f"the tray did not exit {WAIT_S:.0f} s after Quit; stderr (with thread stacks):\n{self.stderr}")

    def wait_for(self, what: str, check) -> dict:
        deadline = time.monotonic() + WAIT_S
        while True:
            status = self.ask("status")
            if check(status):
                return status
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; last status {status}; stderr:\n{self.stderr}")
            time.sleep(0.5)


def _poll(check, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.fixture
def desktop(tmp_path: Path):
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install -y xvfb xdotool trayer dbus-daemon)")
    xvfb = Xvfb()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSTRAY_BACKEND", "DBUS_SESSION_BUS_ADDRESS",
                                                            "WAYLAND_DISPLAY")}
    env.update(DISPLAY=xvfb.display, XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO), PYTHONFAULTHANDLER="1", EMOJI_CAM_TEST_CONTROL="stdin", NO_AT_BRIDGE="1")  # no AT-SPI bus left behind
    tray_host = None
    if shutil.which("trayer"):
        tray_host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
                                      "--width", "120", "--height", "32", "--SetDockType", "true"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let trayer take the tray selection before the app looks for it
    try:
        yield env, runtime, tray_host is not None
    finally:
        if tray_host is not None:
            tray_host.terminate()
            tray_host.wait(timeout=10)
        xvfb.close()


def test_real_tray_switches_pack_reloads_config_refuses_a_second_launch_and_quits(desktop, tmp_path: Path):
    env, runtime, has_tray_host = desktop
    config = ensure_config_file(tmp_path / "config.toml")
    args = ["-m", "tray", "--source", "demo", "--sink", "none", "--config", str(config)]
    wrapper = ["dbus-run-session", "--"] if shutil.which("dbus-run-session") else []
    tray = TrayProcess([*wrapper, sys.executable, *args], env)
    try:
        status = tray.wait_for("the first frame", lambda s: s["state"] == "running")
        assert status["demo"] and status["icon"] == "demo" and status["pack"] == "twemoji"
        if has_tray_host:
            assert status["backend"] in ("gtk", "xorg"), tray.stderr
            if shutil.which("xdotool"):  # the icon is shown from the tray's own loop: it may come a moment later
                assert _poll(lambda: subprocess.run(["xdotool", "search", "--name", "^Emoji Cam"], env=env,
                                                    capture_output=True, text=True, check=False).stdout.strip()), \
                    f"no tray icon window found; stderr:\n{tray.stderr}"
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
        if tray.proc.poll() is None:
            tray.proc.kill()
            tray.proc.wait()
    assert "camera and output released" in tray.stderr
    assert load_config(config).pack.name == "openmoji"  # Quit leaves the config as it was
    with InstanceLock(runtime / "vcam-emoji"):  # the lock was released
        pass
