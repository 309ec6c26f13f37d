"""A virtual desktop for the process tests of the tray: Xvfb, optionally a system tray host (trayer), and the real
`emoji-cam` process driven through its test control (EMOJI_CAM_TEST_CONTROL=stdin, see tray/app.py).

Debian packages: xvfb xdotool trayer dbus-daemon (the tests that need them skip with this list where they are
missing); for the tray menu also python3-gi gir1.2-gtk-3.0, visible to the venv (scripts/setup.sh links them).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tray.app import CONTROL_PREFIX

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 90.0  # a guard against hanging, not a speed requirement
PACKAGES_HINT = "Debian: apt-get install -y xvfb xdotool trayer dbus-daemon"


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

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str) -> object:
        self.send(command)
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

    def wait_for(self, what: str, check: Callable[[dict], bool]) -> dict:
        deadline = time.monotonic() + WAIT_S
        while True:
            status = self.ask("status")
            if check(status):
                return status
            if time.monotonic() > deadline:
                pytest.fail(f"gave up waiting for {what}; last status {status}; stderr:\n{self.stderr}")
            time.sleep(0.5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def poll(check: Callable[[], object], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@dataclass
class Desktop:
    env: dict[str, str]
    runtime: Path
    has_tray_host: bool

    def xdotool(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=30,
                              check=False).stdout.strip()

    def icon_window(self) -> str:
        """The id of the tray icon's window (its title starts with "Emoji Cam"), or "" while there is none."""
        found = self.xdotool("search", "--name", "^Emoji Cam:")
        return found.splitlines()[0] if found else ""

    def icon_centre(self) -> tuple[int, int]:
        window = self.icon_window()
        geometry = dict(line.split("=", 1) for line in self.xdotool("getwindowgeometry", "--shell", window).split())
        return (int(geometry["X"]) + int(geometry["WIDTH"]) // 2, int(geometry["Y"]) + int(geometry["HEIGHT"]) // 2)

    def tray(self, *args: str, backend: str | None = None) -> TrayProcess:
        """`python -m tray ARGS` on this desktop, in its own D-Bus session where dbus-run-session exists."""
        env = dict(self.env)
        if backend is not None:
            env["PYSTRAY_BACKEND"] = backend
        wrapper = ["dbus-run-session", "--"] if shutil.which("dbus-run-session") else []
        return TrayProcess([*wrapper, sys.executable, "-m", "tray", *args], env)


@contextlib.contextmanager
def desktop(tmp_path: Path, *, tray_host: bool = True) -> Iterator[Desktop]:
    """Xvfb (skip without it), with trayer as the system tray when ``tray_host`` and it is installed."""
    if shutil.which("Xvfb") is None:
        pytest.skip(f"Xvfb is not installed ({PACKAGES_HINT})")
    xvfb = Xvfb()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSTRAY_BACKEND", "DBUS_SESSION_BUS_ADDRESS",
                                                            "WAYLAND_DISPLAY")}
    env.update(DISPLAY=xvfb.display, XDG_RUNTIME_DIR=str(runtime), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO), PYTHONFAULTHANDLER="1", EMOJI_CAM_TEST_CONTROL="stdin",
               NO_AT_BRIDGE="1")  # no AT-SPI bus left behind
    host = None
    if tray_host and shutil.which("trayer"):
        host = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype", "pixel",
                                 "--width", "120", "--height", "32", "--SetDockType", "true", "--transparent",
                                 "false", "--tint", "0xdddddd"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # let trayer take the tray selection before the app looks for it
    try:
        yield Desktop(env, runtime, host is not None)
    finally:
        if host is not None:
            host.terminate()
            host.wait(timeout=10)
        xvfb.close()
