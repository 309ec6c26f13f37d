"""privacy.hide_when_no_face: a frame in which no face is tracked never goes out as the camera took it.

The picture itself (vcam_emoji/privacy.py) on synthetic frames and the bundled demo clip, then the live engine in
simulated time with a scripted camera and a stand-in pipeline whose output is the camera frame unchanged: any frame
without a tracked face that reached the sink unchanged would be the user's real face in the meeting.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vcam_emoji.app import PipelineInfo
from vcam_emoji.config import Config
from vcam_emoji.engine import Engine
from vcam_emoji.inputs import CameraInput
from vcam_emoji.privacy import BLOCKS_ACROSS, hide_picture
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.source.camera import CameraSource
from vcam_emoji.source.demo import DEMO_CLIP, ClipInput
from vcam_emoji.source.scripted import Frames, ManualClock, ScriptedCamera, frame_number
from vcam_emoji.types import Expression, FaceResult, FrameResult, TrackedFace

SIZE = (160, 120)
FPS = 30.0
PERIOD = 1 / FPS
WAIT = 5.0  # real-time bound for thread hand-offs; never reached when things work


def demo_frames(n: int, size_wh: tuple[int, int]) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(DEMO_CLIP))
    frames = []
    while len(frames) < n:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, size_wh, interpolation=cv2.INTER_AREA))
    capture.release()
    assert frames, f"cannot read {DEMO_CLIP}"
    return frames


def synthetic_frames() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for w, h in ((16, 16), (64, 48), (1280, 720))]
    frames += [np.full((120, 160, 3), value, np.uint8) for value in (0, 128, 255)]
    frames.append(np.tile(np.linspace(0, 255, 160, dtype=np.uint8)[None, :, None], (120, 1, 3)))
    already = hide_picture(np.full((120, 160, 3), 90, np.uint8))
    frames += [already, hide_picture(already)]  # a frame that already is such a picture still changes
    return frames


# ---------------------------------------------------------------------------------------------------- the picture
@pytest.mark.parametrize("frame", synthetic_frames() + demo_frames(3, (640, 360)),
                         ids=lambda f: f"{f.shape[1]}x{f.shape[0]}")
def test_the_hidden_picture_is_a_new_frame_of_the_same_size_and_never_the_input(frame):
    before = frame.copy()
    hidden = hide_picture(frame)
    assert hidden is not frame and hidden.shape == frame.shape and hidden.dtype == np.uint8
    assert not np.array_equal(hidden, frame)
    assert np.array_equal(frame, before)  # the input is left as it was


@pytest.mark.parametrize("size_wh", [(640, 480), (1280, 720)])
def test_the_hidden_picture_keeps_no_detail(size_wh):
    """Noise (every pixel unlike its neighbour) comes out as a smooth picture: neighbouring pixels above the
    caption differ by a few levels at most, so no feature smaller than 1/BLOCKS_ACROSS of the width survives."""
    w, h = size_wh
    noise = np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)
    hidden = hide_picture(noise).astype(np.int16)[: int(h * 0.7)]
    step = max(np.abs(np.diff(hidden, axis=0)).max(), np.abs(np.diff(hidden, axis=1)).max())
    assert np.abs(np.diff(noise.astype(np.int16), axis=1)).mean() > 50  # the input is all detail
    assert step <= 255 // (w // BLOCKS_ACROSS) + 1


# ------------------------------------------------------------------------------------------------------ the engine
def tracked_face() -> FaceResult:
    probs = np.full(7, 1 / 7, np.float32)
    face = TrackedFace(1, (10.0, 10.0, 60.0, 60.0), 0.9, np.zeros((5, 2), np.float32))
    return FaceResult(face, probs, probs, Expression.NEUTRAL)


class ScriptedFaces:
    """Stands in for the models: frame k has a tracked face when ``script[k]`` (the script repeats); the output is
    the input frame unchanged, as if the emoji were drawn elsewhere, so a leak is an unchanged frame."""

    def __init__(self, script: list[bool]) -> None:
        self.script = script
        self.pack = "test-pack"
        self.smoother = type("S", (), {"configure": lambda self, p: None})()
        self.frames = 0

    def process(self, frame, t):
        faces = (tracked_face(),) if self.script[self.frames % len(self.script)] else ()
        self.frames += 1
        return frame.copy(), FrameResult(self.frames - 1, t, faces)

    def set_pack(self, pack):
        self.pack = pack

    def reset(self):
        pass


def camera_engine(script: list[bool], clock: ManualClock, sink: MemorySink, results: list, **changes) -> Engine:
    config = Config().with_changes({"camera.width": SIZE[0], "camera.height": SIZE[1], "camera.fps": FPS,
                                    **changes})
    camera = ScriptedCamera([Frames()], clock=clock)

    def open_input(cfg):
        def open_camera():
            return CameraSource(0, SIZE, FPS, capture_factory=camera, clock=clock, system="Linux",
                                sys_root="/nonexistent-sys-root", warmup_frames=1, max_warmup_reads=3,
                                black_frames=3).open()

        return CameraInput(cfg, open_camera=open_camera, clock=clock)

    pipeline = ScriptedFaces(script)
    engine = Engine(config, open_input=open_input, sink=sink, clock=clock, on_result=results.append,
                    pipeline_factory=lambda cfg: (pipeline, PipelineInfo("fake", "fake", "test-pack", ("CPU",), ())))
    engine.input_timeout_s = WAIT
    return engine


def run_frames(engine: Engine, clock: ManualClock, n: int) -> None:
    for _ in range(n):
        clock.advance(PERIOD)
        engine.step()


def camera_picture(number: int) -> np.ndarray:
    """What the scripted camera sent as frame ``number`` (vcam_emoji.source.scripted.make_frame)."""
    from vcam_emoji.source.scripted import make_frame

    return make_frame(number, SIZE)


# faces come and go, for one frame and for longer, at the start and at the end
SCRIPT = [False, True, True, False, True, False, False, False, True, True, True, True, False, True, False]


def test_no_frame_without_a_tracked_face_goes_out_unchanged():
    clock, sink, results = ManualClock(0.0), MemorySink(SIZE, FPS), []
    engine = camera_engine(SCRIPT, clock, sink, results)
    engine.begin()
    try:
        run_frames(engine, clock, 3 * len(SCRIPT))
    finally:
        engine.end()
    assert len(results) == sink.count == len(sink.frames) >= 2 * len(SCRIPT)
    camera = [camera_picture(k) for k in range(max(frame_number(f) for f in sink.frames if len(f)) + 1)]
    hidden = shown = 0
    for sent, result in zip(sink.frames, results):
        if result.faces:  # a face is tracked: the emoji covers it, the picture goes out
            assert any(np.array_equal(sent, c) for c in camera)
            shown += 1
        else:  # from the first frame without a face: never any picture the camera took
            assert not any(np.array_equal(sent, c) for c in camera)
            hidden += 1
    assert hidden == SCRIPT.count(False) * len(results) // len(SCRIPT) and shown


def test_the_setting_applies_from_the_next_frame_both_ways():
    clock, sink, results = ManualClock(0.0), MemorySink(SIZE, FPS), []
    engine = camera_engine([False], clock, sink, results, **{"privacy.hide_when_no_face": False})
    engine.begin()
    try:
        run_frames(engine, clock, 3)
        assert np.array_equal(sink.last, camera_picture(frame_number(sink.last)))  # off: the picture as it is
        engine.apply_config(engine.config.with_changes({"privacy.hide_when_no_face": True}))
        run_frames(engine, clock, 1)
        assert not np.array_equal(sink.last, camera_picture(frame_number(sink.last)))
        engine.apply_config(engine.config.with_changes({"privacy.hide_when_no_face": False}))
        run_frames(engine, clock, 1)
        assert np.array_equal(sink.last, camera_picture(frame_number(sink.last)))
    finally:
        engine.end()


def test_the_bundled_demo_clip_is_never_hidden():
    clock, sink, results = ManualClock(0.0), MemorySink(SIZE, FPS), []
    config = Config().with_changes({"camera.width": SIZE[0], "camera.height": SIZE[1], "camera.fps": FPS})
    inputs = []

    def open_input(cfg):
        inputs.append(ClipInput(DEMO_CLIP, SIZE, is_demo=True, clock=clock))
        return inputs[-1]

    seen = []

    class Recording(ScriptedFaces):
        def process(self, frame, t):
            seen.append(frame.copy())
            return super().process(frame, t)

    pipeline = Recording([False])
    engine = Engine(config, open_input=open_input, sink=sink, clock=clock, on_result=results.append,
                    pipeline_factory=lambda cfg: (pipeline, PipelineInfo("fake", "fake", "test-pack", ("CPU",), ())))
    engine.begin()
    try:
        run_frames(engine, clock, 5)
    finally:
        engine.end()
    assert config.privacy.hide_when_no_face and sink.count == len(seen) > 0
    assert all(np.array_equal(sent, frame) for sent, frame in zip(sink.frames, seen))
