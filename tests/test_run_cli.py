"""`vcam-emoji run` as a process, the way a user starts and stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import cv2
import pytest

from vcam_emoji.config import ensure_config_file


@pytest.fixture
def env(tmp_path):
    environ = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    environ.pop("DISPLAY", None)
    environ.pop("WAYLAND_DISPLAY", None)
    config = ensure_config_file(tmp_path / "config.toml")
    return environ, str(config)


def start(environ, *args, cwd):
    return subprocess.Popen([sys.executable, "-m", "vcam_emoji", "run", *args], env=environ, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_demo_to_file_then_ctrl_c_stops_cleanly(env, tmp_path):
    environ, config = env
    out = tmp_path / "live.avi"
    proc = start(environ, "--config", config, "--source", "demo", "--sink", str(out), "--stats-every", "0.5",
                 cwd=tmp_path)
    # Wait (bounded) until it reports running frames, then press Ctrl-C
    deadline = time.monotonic() + 60
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if line.startswith("running:") and "faces 1" in line:
            break
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert any(l.startswith("running:") for l in lines), "".join(lines) + stderr
    assert "bundled demo clip" in stderr and "camera and output released" in stderr
    assert "Traceback" not in stderr
    cap = cv2.VideoCapture(str(out))
    ok, frame = cap.read()
    assert ok and frame.shape == (720, 1280, 3)  # the file was finished properly


def test_no_camera_no_vcam_no_display_falls_back_and_says_so(env, tmp_path):
    environ, config = env
    proc = subprocess.run([sys.executable, "-m", "vcam_emoji", "run", "--config", config, "--seconds", "2",
                           "--stats-every", "0", "--source", "auto"], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    if "source: camera" in proc.stderr:
        pytest.skip("a real camera is attached here; this test is about machines without one")
    assert proc.returncode == 0, proc.stderr
    assert "showing the bundled demo clip instead" in proc.stderr
    if "no virtual camera" not in proc.stderr:
        pytest.skip("a virtual camera is present here; this test is about machines without one")
    assert "recording to emoji-cam-output.mp4 (H.264; a new file; stops at 500 MB)" in proc.stderr
    assert (tmp_path / "emoji-cam-output.mp4").stat().st_size > 0


def test_missing_source_file_is_a_clear_error(env, tmp_path):
    environ, config = env
    proc = subprocess.run([sys.executable, "-m", "vcam_emoji", "run", "--config", config, "--source",
                           str(tmp_path / "nope.mp4"), "--sink", "none"], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "nope.mp4: no such file" in proc.stderr and "Traceback" not in proc.stderr
