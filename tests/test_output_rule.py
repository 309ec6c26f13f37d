"""Never lose a user's file (issue 20): every case where `render` or `run` used to write over an input, an existing
file or another output, or left temporary files behind. Each asserts the exit code, one clear message without a
traceback, the input's bytes unchanged and no stray files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES
from media import make_clip, probe
from vcam_emoji.config import ensure_config_file


@pytest.fixture
def env(tmp_path):
    environ = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    environ.pop("DISPLAY", None)
    environ.pop("WAYLAND_DISPLAY", None)
    config = ensure_config_file(tmp_path / "cfg-file" / "config.toml")
    work = tmp_path / "work"
    work.mkdir()
    return environ, str(config), work


@pytest.fixture
def clip(env):
    """A 3 s clip with a sound track in the work folder."""
    face = cv2.resize(cv2.imread(str(FIXTURES / "astronaut_256.jpg")), (320, 240))
    return make_clip(env[2] / "v.mp4", [np.roll(face, i, axis=1) for i in range(30)], fps=10)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def cli(environ, work, *args, timeout=180):
    return subprocess.run([sys.executable, "-m", "vcam_emoji", *map(str, args)], env=environ, cwd=work,
                          capture_output=True, text=True, timeout=timeout)


def assert_refused(proc, *expected):
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr
    for text in expected:
        assert text in errors[0], proc.stderr


# --- render ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,expected",
    [
        (["v.mp4", "out.mp4", "--timeline", "v.mp4"], ["v.mp4: this is also an input of this run", "timeline"]),
        (["v.mp4", "out.mp4", "--timeline", "out.mp4"], ["out.mp4: two outputs of this run", "timeline"]),
        (["v.mp4", "v.mp4"], ["v.mp4: this is also an input of this run"]),
        (["v.mp4", "link.mp4"], ["link.mp4: this is also an input of this run"]),
        (["v.mp4", "v.mp4", "--force"], ["v.mp4: this is also an input of this run"]),
        (["v.mp4", "old.mp4"], ["old.mp4: already exists; add --force to replace it"]),
        (["v.mp4", "out.mp4", "--timeline", "old.jsonl"], ["old.jsonl: already exists; add --force"]),
        (["v.mp4", "folder"], ["folder: is a folder; give the output a file name"]),
        (["v.mp4", "out.mp4", "--timeline", "folder"], ["folder: is a folder; give the timeline a file name"]),
    ],
    ids=["timeline-is-input", "timeline-is-output", "output-is-input", "output-links-to-input", "force-no-help",
         "existing-output", "existing-timeline", "output-is-folder", "timeline-is-folder"],
)
def test_render_refuses_to_write_over_what_it_must_not(env, clip, args, expected):
    environ, config, work = env
    (work / "link.mp4").symlink_to(clip)
    (work / "old.mp4").write_bytes(b"an older render")
    (work / "old.jsonl").write_text('{"frame":0,"faces":[]}\n')
    (work / "folder").mkdir()
    before = {name: digest(work / name) for name in ("v.mp4", "old.mp4", "old.jsonl")}
    names = listing(work)
    proc = cli(environ, work, "render", "--config", config, "-q", *args)
    assert_refused(proc, *expected)
    assert {name: digest(work / name) for name in before} == before
    assert listing(work) == names and listing(work / "folder") == []


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT"])
def test_render_stopped_by_a_signal_leaves_no_partial_files(env, how):
    environ, config, work = env
    face = cv2.resize(cv2.imread(str(FIXTURES / "astronaut_256.jpg")), (640, 480))
    src = make_clip(work / "long.mp4", [np.roll(face, 3 * i, axis=1) for i in range(400)], fps=25)
    before = digest(src)
    proc = subprocess.Popen([sys.executable, "-m", "vcam_emoji", "render", "--config", config, "-q", str(src),
                             "out.mp4", "--timeline", "t.jsonl"], env=environ, cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(".partial-" in name for name in listing(work)) == 2:  # both outputs are being written
            break
        time.sleep(0.05)
    assert proc.poll() is None, "render ended before it could be interrupted"
    time.sleep(0.5)
    proc.send_signal(getattr(signal, how))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (128 + signal.SIGTERM if how == "SIGTERM" else 130), stderr
    assert "Traceback" not in stderr
    assert ("stopped by SIGTERM" if how == "SIGTERM" else "interrupted") in stderr
    assert listing(work) == ["long.mp4"] and digest(src) == before


# --- run ------------------------------------------------------------------------------------------------------------
def run(environ, config, work, *args, seconds=2):
    return cli(environ, work, "run", "--config", config, "--stats-every", "0", "--seconds", seconds, *args)


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--source", "v.mp4", "--sink", "v.mp4"], ["v.mp4: this is also an input of this run", "recording"]),
        (["--source", "v.mp4", "--sink", "none", "--timeline", "v.mp4"],
         ["v.mp4: this is also an input of this run", "timeline"]),
        (["--source", "demo", "--sink", "old.mp4"], ["old.mp4: already exists; add --force to replace it"]),
        (["--source", "demo", "--sink", "out.mp4", "--timeline", "out.mp4"], ["out.mp4: two outputs of this run"]),
        (["--source", "demo", "--sink", "none", "--timeline", "notes.txt"],
         ["notes.txt: exists and is not an emotion timeline"]),
        (["--source", "demo", "--sink", "folder"], ["folder: is a folder; give the recording a file name"]),
        (["--source", "demo", "--sink", "none", "--timeline", "folder"], ["folder: is a folder"]),
    ],
    ids=["sink-is-source", "timeline-is-source", "existing-sink", "sink-is-timeline", "timeline-not-a-timeline",
         "sink-is-folder", "timeline-is-folder"],
)
def test_run_refuses_to_write_over_what_it_must_not(env, clip, args, expected):
    environ, config, work = env
    (work / "old.mp4").write_bytes(b"last week's meeting")
    (work / "notes.txt").write_text("my notes\n")
    (work / "folder").mkdir()
    before = {name: digest(work / name) for name in ("v.mp4", "old.mp4", "notes.txt")}
    names = listing(work)
    proc = run(environ, config, work, *args)
    assert_refused(proc, *expected)
    assert {name: digest(work / name) for name in before} == before
    assert listing(work) == names and listing(work / "folder") == []


def test_run_force_replaces_an_existing_recording_at_the_end(env):
    environ, config, work = env
    (work / "old.mp4").write_bytes(b"last week's meeting")
    proc = run(environ, config, work, "--source", "demo", "--sink", "old.mp4", "--force")
    assert proc.returncode == 0, proc.stderr
    found = probe(work / "old.mp4")
    assert found.video_codec == "h264" and found.frames > 0 and found.size_wh == (1280, 720)
    assert listing(work) == ["old.mp4"]


def test_run_appends_to_an_earlier_timeline_without_changing_its_lines(env):
    environ, config, work = env
    earlier = '{"frame":0,"t":0.0,"faces":[]}\n{"frame":1,"t":0.1,"fa'  # a session cut mid-line
    (work / "t.jsonl").write_text(earlier)
    proc = run(environ, config, work, "--source", "demo", "--sink", "none", "--timeline", "t.jsonl")
    assert proc.returncode == 0, proc.stderr
    text = (work / "t.jsonl").read_text()
    assert text.startswith(earlier + "\n")
    added = [json.loads(line) for line in text[len(earlier) + 1:].splitlines()]
    assert added and all({"frame", "t", "faces"} <= set(r) for r in added)


def test_a_killed_recording_plays_up_to_the_kill(env):
    environ, config, work = env
    proc = subprocess.Popen([sys.executable, "-m", "vcam_emoji", "run", "--config", config, "--source", "demo",
                             "--sink", "rec.mp4", "--stats-every", "0.5"], env=environ, cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    frames = 0
    while time.monotonic() < deadline and frames < 150:  # 5 s at 30 fps: two whole fragments
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("running:"):
            frames += round(0.5 * float(line.split()[1]))
    proc.kill()
    proc.communicate(timeout=30)
    (partial,) = [p for p in work.iterdir()]
    assert partial.name.startswith("rec.partial-") and partial.suffix == ".mp4"
    cap = cv2.VideoCapture(str(partial))
    played = 0
    while cap.read()[0]:
        played += 1
    assert played >= 60, f"only {played} frames of about {frames} play after the kill"


def test_sigterm_during_run_finishes_the_recording(env):
    environ, config, work = env
    proc = subprocess.Popen([sys.executable, "-m", "vcam_emoji", "run", "--config", config, "--source", "demo",
                             "--sink", "rec.mkv", "--stats-every", "0.5"], env=environ, cwd=work,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith("running:"):
            break
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert listing(work) == ["rec.mkv"]
    assert probe(work / "rec.mkv").frames > 0 and "Traceback" not in stderr


def test_the_headless_fallback_never_replaces_a_file_and_states_its_cap(env):
    environ, config, work = env
    (work / "emoji-cam-output.mp4").write_bytes(b"yesterday's recording")
    proc = run(environ, config, work, "--source", "demo", "--sink", "file")
    assert proc.returncode == 0, proc.stderr
    assert "recording to emoji-cam-output-2.mp4 (H.264; a new file; stops at 500 MB)" in proc.stderr
    assert (work / "emoji-cam-output.mp4").read_bytes() == b"yesterday's recording"
    assert probe(work / "emoji-cam-output-2.mp4").frames > 0
    assert listing(work) == ["emoji-cam-output-2.mp4", "emoji-cam-output.mp4"]
