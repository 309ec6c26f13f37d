"""The live engine in simulated time: a scripted camera in, the in-memory sink out.

Every step of the engine is one turn of its loop; the scripted camera and the reconnect logic share a manual clock,
so "within one frame period" and "within 2 s" are checked in simulated time, not with sleeps or timing assertions.
"""

from __future__ import annotations

import numpy as np
import pytest

from vcam_emoji.config import Config, ConfigWatcher, ensure_config_file, update_config_file
from vcam_emoji.engine import PAUSED_LINES, Engine
from vcam_emoji.inputs import CameraInput
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.source.camera import CameraSource
from vcam_emoji.source.demo import DEMO_CLIP, ClipInput
from vcam_emoji.source.placeholder import placeholder_frame
from vcam_emoji.source.scripted import Black, Busy, Frames, ManualClock, ScriptedCamera, Vanish, frame_number

SIZE = (64, 48)
FPS = 30.0
PERIOD = 1 / FPS
WAIT = 5.0  # real-time bound for thread hand-offs; never reached when things work


class PassThroughPipeline:
    """Stands in for the models: marks each processed frame so the test can tell camera frames from placeholders."""

    def __init__(self):
        self.pack = "test-pack"
        self.frames = 0
        self.smoother = type("S", (), {"configure": lambda self, p: None})()

    def process(self, frame, t):
        self.frames += 1
        out = frame.copy()
        out[-1, -1] = (1, 2, 3)  # the marker
        from vcam_emoji.types import FrameResult

        return out, FrameResult(self.frames, t)

    def set_pack(self, pack):
        self.pack = pack

    def reset(self):
        pass


def pipeline_factory(config):
    from vcam_emoji.app import PipelineInfo

    return PassThroughPipeline(), PipelineInfo("fake-detector", "fake-classifier", "test-pack", ("CPU",), ())


def is_processed(frame) -> bool:
    return tuple(frame[-1, -1]) == (1, 2, 3)


@pytest.fixture
def clock():
    return ManualClock(0.0)


def camera_engine(camera, clock, sink, **kw):
    # The stand-in pipeline finds no faces, so the picture would be hidden (tests/test_privacy.py covers that).
    config = Config().with_changes({"camera.width": SIZE[0], "camera.height": SIZE[1], "camera.fps": FPS,
                                    "privacy.hide_when_no_face": False})

    def open_input(cfg):
        def open_camera():
            return CameraSource(0, SIZE, FPS, capture_factory=camera, clock=clock, system="Linux",
                                sys_root="/nonexistent-sys-root", warmup_frames=1, max_warmup_reads=3,
                                black_frames=3).open()

        return CameraInput(cfg, open_camera=open_camera, clock=clock)

    engine = Engine(config, open_input=open_input, sink=sink, pipeline_factory=pipeline_factory, clock=clock, **kw)
    engine.input_timeout_s = WAIT
    return engine


def run_steps(engine, clock, start, end, camera=None):
    """Step the engine once per frame period of simulated time; returns [(t, frame sent or None)].

    With ``camera``, the camera delivers one new frame per period (its script gets one more frame each step).
    """
    sent = []
    n = round((end - start) / PERIOD)
    for k in range(n):
        t = start + k * PERIOD
        clock.set(t)
        if camera is not None:
            camera.push(Frames(1))
        before = engine._sink.count
        engine.step()
        sent.append((t, engine._sink.last if engine._sink.count > before else None))
    return sent


def test_camera_frames_flow_through_the_pipeline(clock):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    engine.begin()
    try:
        sent = run_steps(engine, clock, 0.0, 1.0)
    finally:
        engine.end()
    assert all(frame is not None and is_processed(frame) for _, frame in sent)
    assert engine.status().state == "stopped"


def test_camera_loss_placeholder_within_one_period_and_back_within_two_seconds(clock):
    camera = ScriptedCamera([Frames(1)], clock=clock, idle_wait_s=WAIT)
    sink = MemorySink(SIZE, FPS)
    problems = []
    engine = camera_engine(camera, clock, sink, on_problem=problems.append)
    engine.begin()
    try:
        before = run_steps(engine, clock, 0.0, 1.0, camera)
        # When the camera is unplugged for 3 s of simulated time
        camera.push(Vanish(3.0))
        lost = run_steps(engine, clock, 1.0, 7.0, camera)
    finally:
        engine.end()
    assert all(is_processed(f) for _, f in before)
    # Then the output never stops: one frame every period, and the placeholder from the very next period on
    assert all(f is not None for _, f in lost)
    assert not is_processed(lost[0][1])
    assert "disconnected" in problems[0]
    assert np.array_equal(lost[0][1], placeholder_frame(SIZE, tuple(problems[0].split(" / "))))
    # And the picture returns by itself within 2 s of the camera coming back
    back_at = next(t for t, f in lost if is_processed(f))
    camera_back = 1.0 + 3.0
    assert camera_back <= back_at <= camera_back + 2.0
    assert all(is_processed(f) for t, f in lost if t > back_at)


@pytest.mark.parametrize("outage", [Busy(2.0), Black(10)], ids=["busy", "black"])
def test_busy_or_black_camera_shows_placeholder_then_recovers(clock, outage):
    camera = ScriptedCamera([Frames(5), outage, Frames()], clock=clock)
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(camera, clock, sink)
    engine.begin()
    try:
        sent = run_steps(engine, clock, 0.0, 6.0)
    finally:
        engine.end()
    kinds = [is_processed(f) for _, f in sent if f is not None]
    assert False in kinds  # a placeholder was shown
    assert kinds[-1] is True  # and the picture came back by itself
    assert sum(f is None for _, f in sent) <= 2  # the output kept going


def test_pause_releases_the_camera_and_resume_reopens(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(camera, clock, sink)
    engine.begin()
    try:
        run_steps(engine, clock, 0.0, 0.5)
        opened = len(camera.open_calls)
        engine.pause()
        paused = run_steps(engine, clock, 0.5, 1.0)
        assert engine.status().state == "paused" and engine.status().source == "(released)"
        assert all(camera_capture.released for camera_capture in camera.captures)
        assert all(np.array_equal(f, placeholder_frame(SIZE, PAUSED_LINES)) for _, f in paused)
        engine.resume()
        resumed = run_steps(engine, clock, 1.0, 1.5)
        assert len(camera.open_calls) > opened and is_processed(resumed[-1][1])
    finally:
        engine.end()


def test_mirror_and_pack_commands(clock):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    engine.begin()
    try:
        run_steps(engine, clock, 0.0, 0.1)
        plain = sink.last.copy()
        engine.set_mirror(True)
        engine.set_pack("classic")
        run_steps(engine, clock, 0.1, 0.2)
        mirrored = sink.last
        # the scripted frame's number is written in its top-left pixel: mirrored, it is in the top-right one
        assert frame_number(mirrored[:, ::-1]) > frame_number(plain) and engine.status().mirror
        assert engine.status().pack == "classic"
    finally:
        engine.end()


def test_unknown_pack_keeps_the_current_one_and_says_so(clock):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    engine.begin()
    try:
        engine.set_pack("no-such-pack")
        run_steps(engine, clock, 0.0, 0.1)
        status = engine.status()
        assert status.pack == "test-pack" and "no-such-pack" in status.problem
    finally:
        engine.end()


def test_config_edits_apply_live_and_bad_edits_keep_the_last_good(tmp_path, clock, monkeypatch):
    path = ensure_config_file(tmp_path / "config.toml")
    sink = MemorySink(SIZE, FPS)
    problems = []
    watcher = ConfigWatcher(path, clock=clock, interval_s=0.0)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink, config_watcher=watcher,
                           on_problem=problems.append)
    engine.begin()
    try:
        update_config_file(path, {"camera.mirror": True, "pack.name": "classic",
                                  "privacy.hide_when_no_face": False})
        run_steps(engine, clock, 0.0, 0.1)
        assert engine.status().mirror and engine.status().pack == "classic"
        path.write_text(path.read_text().replace("mirror = true", "mirror = maybe"))
        run_steps(engine, clock, 0.1, 0.2)
        status = engine.status()
        assert status.mirror and status.pack == "classic"  # last good settings kept
        assert any("camera.mirror" in p or "syntax" in p.lower() for p in problems)
        assert is_processed(sink.last)  # and the picture kept flowing
        # When the edit is fixed, it applies and the problem is gone
        path.write_text(path.read_text().replace("mirror = maybe", "mirror = false"))
        run_steps(engine, clock, 0.2, 0.3)
        assert not engine.status().mirror and engine.status().problem == ""
    finally:
        engine.end()


def test_demo_clip_input_paced_by_the_engine(clock):
    sink = MemorySink((320, 180), FPS)
    config = Config().with_changes({"camera.width": 320, "camera.height": 180, "camera.fps": FPS})
    engine = Engine(config, open_input=lambda cfg: ClipInput(DEMO_CLIP, (320, 180), is_demo=True, clock=clock),
                    sink=sink, pipeline_factory=pipeline_factory, clock=clock)
    engine.begin()
    try:
        sent = run_steps(engine, clock, 0.0, 2.0)
        status = engine.status()
    finally:
        engine.end()
    assert len(sent) == 60 and all(f is not None and f.shape == (180, 320, 3) for _, f in sent)
    assert status.demo and "demo clip" in status.source
