"""Quit must quit: the `emoji-cam` program as a process, headless (no display needed), stopped by SIGTERM (what the
menu's Quit does), with a tray loop that ends when asked and with one that does not (the quit watchdog's case)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vcam_emoji.config import ensure_config_file

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 60.0  # a guard against hanging, not a speed requirement

PROGRAM = textwrap.dedent("""
    import sys
    import tray.app as app
    from tray.backend import HeadlessBackend

    class StuckBackend(HeadlessBackend):
        '''A tray loop that does not end when asked to.'''
        def stop(self):
            pass

    if sys.argv[1] == "stuck":
        app.QUIT_GRACE_S = 1.0
        make = app.TrayApp.__init__
        def init(self, setup, **kwargs):
            make(self, setup, **kwargs, backend_factory=lambda *_: StuckBackend("test: a loop that never ends"))
        app.TrayApp.__init__ = init
    sys.argv = ["emoji-cam", "--source", "demo", "--sink", "none", "--config", sys.argv[2]]
    app.entry()
""")


def _run_and_quit(tmp_path: Path, mode: str) -> tuple[int, str]:
    if sys.platform == "win32":
        pytest.skip("SIGTERM to a child process is POSIX only")
    config = ensure_config_file(tmp_path / "config.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")}
    env.update(XDG_RUNTIME_DIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-c", PROGRAM, mode, str(config)], cwd=REPO, env=env, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines: list[str] = []
    deadline = time.monotonic() + WAIT_S
    for line in proc.stderr:  # wait until the tray is up
        lines.append(line)
        if "emoji-cam: ready" in line or time.monotonic() > deadline:
            break
    assert any("emoji-cam: ready" in line for line in lines), "".join(lines)
    proc.send_signal(signal.SIGTERM)
    try:
        rest = proc.communicate(timeout=WAIT_S)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        rest = proc.communicate()[1]
        pytest.fail("the process did not exit after SIGTERM:\n" + "".join(lines) + rest)
    return proc.returncode, "".join(lines) + rest


def test_quit_releases_everything_and_exits_0(tmp_path: Path):
    code, stderr = _run_and_quit(tmp_path, "normal")
    assert code == 0, stderr
    assert "camera and output released" in stderr
    assert "did not stop" not in stderr


def test_quit_still_exits_when_the_tray_loop_does_not_end(tmp_path: Path):
    code, stderr = _run_and_quit(tmp_path, "stuck")
    assert code == 0, stderr
    assert "the headless tray backend did not stop within 1 s of Quit" in stderr
    assert "Current thread" in stderr  # every thread's stack (faulthandler), for a bug report
    assert stderr.count("camera and output released") == 1
