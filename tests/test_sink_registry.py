"""Sink registry and the auto fallback policy (no display, no virtual camera here), plus MemorySink and PreviewSink."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import pyvirtualcam

from vcam_emoji.errors import DeviceError, OutputError
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.sink.preview import PreviewSink, display_available
from vcam_emoji.sink.registry import FALLBACK_MAX_BYTES, SinkEntry, default_registry, open_sink
from vcam_emoji.sink.video_file import VideoFileSink
from vcam_emoji.source.scripted import ManualClock

SIZE = (32, 24)
NO_DISPLAY = {"PATH": "/usr/bin"}


def frame(value: int = 7) -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), value, np.uint8)


@pytest.fixture
def no_vcam(tmp_path):
    """Options that make the virtual camera unavailable: Linux with an empty /sys."""
    return {"system": "Linux", "sys_root": tmp_path / "no-sys"}


def test_auto_without_vcam_or_display_writes_a_file_and_says_why(tmp_path, no_vcam):
    out = tmp_path / "out.mp4"
    sink, reason = open_sink("auto", SIZE, 30, path=out, environ=NO_DISPLAY, **no_vcam)
    try:
        sink.send(frame())
    finally:
        sink.close()
    assert type(sink).__name__ == "VideoFileSink"
    assert out.is_file() and out.stat().st_size > 0
    assert reason.startswith("no virtual camera available")
    assert "vcam-emoji setup-vcam" in reason
    assert reason.endswith(f"; no display: recording to {out} (H.264)")


def test_auto_with_a_display_prefers_the_preview_window(tmp_path, no_vcam):
    registry = default_registry()
    shown = MemorySink(SIZE)
    registry.register(SinkEntry("preview", lambda size, fps, opts: shown, frozenset({"environ", "system"}), "fake"))
    sink, reason = open_sink("auto", SIZE, 30, registry=registry, environ={"DISPLAY": ":0"}, **no_vcam)
    assert sink is shown
    assert reason.startswith("no virtual camera available") and reason.endswith("; showing a preview window")


def test_auto_uses_the_virtual_camera_when_there_is_one(tmp_path):
    opened = []

    class FakeBackend:
        def __init__(self, *, width, height, fps, fourcc, device=None, **kw):  # noqa: ARG002 - pyvirtualcam's API
            opened.append(device)

        def send(self, frame):
            pass

        def close(self):
            pass

        def device(self):
            return "fake0"

        def native_fourcc(self):
            return None

    pyvirtualcam.register_backend("emoji-registry-test", FakeBackend)
    try:
        sink, reason = open_sink("auto", SIZE, 30, backend="emoji-registry-test", environ=NO_DISPLAY)
        sink.close()
    finally:
        pyvirtualcam.camera.BACKENDS.pop("emoji-registry-test", None)
    assert reason == "virtual camera 'Emoji Cam' (emoji-registry-test fake0)"
    assert opened == [None]


def test_auto_reports_the_whole_chain_when_nothing_works(tmp_path, no_vcam):
    with pytest.raises(DeviceError, match=r"no virtual camera available.*; no display; and no video file either:"):
        open_sink("auto", SIZE, 30, path=tmp_path / "out.unknown", environ=NO_DISPLAY, **no_vcam)


def test_explicit_kinds(tmp_path):
    sink, reason = open_sink("memory", SIZE, 30, max_frames=3)
    assert isinstance(sink, MemorySink) and reason == "memory sink"
    sink, reason = open_sink("file", SIZE, 30, path=tmp_path / "a.avi")
    sink.send(frame())
    sink.close()
    assert reason == f"recording to {tmp_path / 'a.avi'} (MJPEG)"
    with pytest.raises(OutputError, match="cannot write .xyz"):
        open_sink("file", SIZE, 30, path=tmp_path / "a.xyz")


def test_unknown_kind_and_option_are_rejected_with_choices():
    with pytest.raises(ValueError, match="unknown sink kind 'ndi'; expected one of: auto, vcam, preview, file, memory"):
        open_sink("ndi", SIZE, 30)
    with pytest.raises(ValueError, match="unknown sink option.*colour"):
        open_sink("memory", SIZE, 30, colour="red")
    with pytest.raises(ValueError, match="reserved"):
        default_registry().register(SinkEntry("auto", lambda *a: MemorySink(), frozenset(), ""))


def test_registries_are_independent():
    one = default_registry()
    one.register(SinkEntry("extra", lambda *a: MemorySink(), frozenset(), ""))
    assert "extra" not in default_registry().names()


# --- video file ----------------------------------------------------------------------------------------------------
def noise(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)


def test_the_fallback_recording_is_numbered_and_capped(tmp_path, no_vcam, monkeypatch):
    # Given a folder where the fallback's name is taken
    monkeypatch.chdir(tmp_path)
    (tmp_path / "emoji-cam-output.mp4").write_bytes(b"keep me")
    # When the auto policy falls back to a file without being given a path
    sink, reason = open_sink("auto", SIZE, 30, environ=NO_DISPLAY, **no_vcam)
    # Then it says where and how big it gets, and records to a new numbered name under a visible partial name
    assert reason.endswith("; no display: recording to emoji-cam-output-2.mp4 (H.264; a new file; stops at 500 MB)")
    assert sink.max_bytes == FALLBACK_MAX_BYTES and sink.partial_path.name.startswith("emoji-cam-output-2.partial-")
    sink.send(noise(0))
    sink.close()
    assert (tmp_path / "emoji-cam-output.mp4").read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emoji-cam-output-2.mp4", "emoji-cam-output.mp4"]


def test_a_recording_stops_at_its_cap_and_keeps_a_whole_file(tmp_path, caplog):
    sink = VideoFileSink(tmp_path / "capped.mp4", SIZE, 30, max_bytes=20_000)
    sent = 0
    while not sink.stopped_at_cap and sent < 2000:
        sink.send(noise(sent))
        sent += 1
    assert sink.stopped_at_cap, "the cap was never reached"
    for i in range(5):
        sink.send(noise(i))  # dropped, not an error: the engine goes on
    sink.close()
    assert sink.frames_dropped == 5 and "reached its size cap of 20 kB" in caplog.text
    cap = cv2.VideoCapture(str(tmp_path / "capped.mp4"))
    played = 0
    while cap.read()[0]:
        played += 1
    assert played == sink.frames_written and sorted(p.name for p in tmp_path.iterdir()) == ["capped.mp4"]


def test_a_recording_never_replaces_a_file_unless_asked(tmp_path):
    old = tmp_path / "old.mp4"
    old.write_bytes(b"precious")
    with pytest.raises(OutputError, match="old.mp4: already exists; add --force"):
        open_sink("file", SIZE, 30, path=old)
    sink, _ = open_sink("file", SIZE, 30, path=old, replace=True)
    assert old.read_bytes() == b"precious"  # until the new recording is complete
    sink.send(noise(1))
    sink.close()
    assert old.read_bytes() != b"precious" and sorted(p.name for p in tmp_path.iterdir()) == ["old.mp4"]


def test_a_recording_closed_before_its_first_frame_leaves_nothing(tmp_path):
    sink, _ = open_sink("file", SIZE, 30, path=tmp_path / "empty.mp4")
    sink.close()
    sink.close()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError, match="already closed"):
        sink.send(noise(0))


# --- preview -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environ", "system", "expected"),
    [
        ({}, "Linux", False),
        ({"DISPLAY": ":0"}, "Linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "Linux", True),
        ({"DISPLAY": ""}, "FreeBSD", False),
        ({}, "Windows", True),
        ({}, "Darwin", True),
    ],
)
def test_display_available(environ, system, expected):
    assert display_available(environ, system) is expected


def test_preview_without_display_is_a_clear_error_not_an_abort():
    with pytest.raises(DeviceError, match="no display for the preview window.*virtual camera or a video file"):
        PreviewSink(SIZE, environ={}, system="Linux")


@pytest.mark.needs_display
def test_preview_shows_frames_on_a_real_display():
    if not display_available(os.environ):
        pytest.skip("no display (DISPLAY/WAYLAND_DISPLAY unset); run under Xvfb to test the preview window")
    with PreviewSink(SIZE) as sink:
        sink.send(frame(100))
        sink.send(frame(200))
        assert not sink.closed_by_user


# --- memory --------------------------------------------------------------------------------------------------------
def test_memory_sink_keeps_copies_with_timestamps():
    clock = ManualClock(5.0)
    sink = MemorySink(SIZE, clock=clock)
    buffer = frame(1)
    sink.send(buffer)
    buffer[...] = 9
    clock.advance(0.5)
    sink.send(frame(2))
    assert [int(f[0, 0, 0]) for f in sink.frames] == [1, 2]
    assert sink.timestamps == [5.0, 5.5]
    assert int(sink.last[0, 0, 0]) == 2 and len(sink) == 2


def test_memory_sink_keeps_the_last_n_and_counts_all():
    sink = MemorySink(max_frames=2)
    for value in (1, 2, 3):
        sink.send(frame(value))
    assert [s.number for s in sink.sent] == [2, 3]
    assert sink.count == 3


def test_memory_sink_checks_frames_and_close():
    sink = MemorySink(SIZE)
    with pytest.raises(ValueError, match=r"expected shape \(24, 32, 3\), got \(10, 10, 3\)"):
        sink.send(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="expected uint8"):
        sink.send(np.zeros((24, 32, 3), np.float64))
    sink.close()
    sink.close()
    with pytest.raises(DeviceError, match="closed"):
        sink.send(frame())
    with pytest.raises(ValueError, match="max_frames"):
        MemorySink(max_frames=0)
