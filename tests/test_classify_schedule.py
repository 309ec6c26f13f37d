"""Classifying at a rate (classifier.rate_hz): the schedule, the pipeline with it, and the live engine.

Time is always injected (frame times, or the engine's manual clock), so rates are counted, never measured.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vcam_emoji.app import PipelineInfo, classify_rate_hz
from vcam_emoji.classify_schedule import MAX_PER_FRAME, ClassifySchedule
from vcam_emoji.config import Config
from vcam_emoji.engine import Engine
from vcam_emoji.inputs import CameraInput
from vcam_emoji.pipeline import Pipeline
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.smooth import ExpressionSmoother, SmoothingParams
from vcam_emoji.source.camera import CameraSource
from vcam_emoji.source.scripted import Frames, ManualClock, ScriptedCamera
from vcam_emoji.types import Detections, Expression

FPS = 30.0


def count_classifications(schedule, track_ids, seconds, fps=FPS, jitter_s=0.0, seed=0):
    """Run the schedule over ``seconds`` of frames; returns a Counter of classifications per track id."""
    rng = np.random.default_rng(seed)
    counts = Counter()
    for k in range(round(seconds * fps)):
        t = k / fps + (rng.uniform(-jitter_s, jitter_s) if k else 0.0)
        for i in schedule.due(track_ids, t):
            counts[track_ids[i]] += 1
    return counts


@pytest.mark.parametrize("rate_hz, expected", [(15, 150), (10, 100), (30, 300), (0, 300)])
def test_one_face_is_classified_at_the_rate(rate_hz, expected):
    counts = count_classifications(ClassifySchedule(rate_hz), [1], seconds=10)
    assert abs(counts[1] - expected) <= 1


def test_a_rate_above_the_frame_rate_classifies_every_frame():
    assert count_classifications(ClassifySchedule(60), [1], seconds=10)[1] == 300


@pytest.mark.parametrize("fps", [24.0, 25.0, 29.97, 60.0])
def test_the_rate_holds_at_other_frame_rates_and_never_exceeds_it(fps):
    counts = count_classifications(ClassifySchedule(15), [1], seconds=20, fps=fps)
    assert 15 * 20 * 0.9 <= counts[1] <= 15 * 20 + 1


def test_jittery_frame_times_keep_the_rate():
    # Given a webcam whose frames arrive up to 8 ms early or late, 15 Hz stays 15 Hz (not 10 Hz) and never above.
    counts = count_classifications(ClassifySchedule(15), [1], seconds=20, jitter_s=0.008)
    assert 295 <= counts[1] <= 301


def test_four_faces_each_get_the_full_rate():
    counts = count_classifications(ClassifySchedule(15), [1, 2, 3, 4], seconds=10)
    assert all(abs(counts[t] - 150) <= 1 for t in (1, 2, 3, 4))


def test_twenty_faces_take_turns_evenly_within_the_per_frame_cap():
    schedule = ClassifySchedule(15)
    ids = list(range(1, 21))
    per_frame = []
    counts = Counter()
    for k in range(300):
        due = schedule.due(ids, k / FPS)
        per_frame.append(len(due))
        counts.update(ids[i] for i in due)
    # The first frame classifies every new face; after that at most MAX_PER_FRAME per frame, shared round-robin.
    assert per_frame[0] == 20 and max(per_frame[1:]) == MAX_PER_FRAME
    expected = (20 + 299 * MAX_PER_FRAME) / 20  # = 60.8 each: 6 Hz instead of 15 Hz, and the frame rate is kept
    assert max(counts.values()) - min(counts.values()) <= 1
    assert all(abs(c - expected) <= 1 for c in counts.values())


def test_new_tracks_are_classified_at_once_and_first_newest_first():
    schedule = ClassifySchedule(15, max_per_frame=2)
    old = [1, 2, 3, 4]
    for k in range(10):
        schedule.due(old, k / FPS)
    # When two faces appear while four known ones wait, the new ones take the frame, the newest first in the order.
    ids = old + [7, 6]
    due = schedule.due(ids, 10 / FPS)
    assert sorted(ids[i] for i in due) == [6, 7]
    # A new face is classified even when more new faces than the cap appear at once.
    assert len(schedule.due(ids + [8, 9, 10], 11 / FPS)) >= 3


def test_forgotten_tracks_start_again_as_new():
    schedule = ClassifySchedule(15)
    assert schedule.due([1], 0.0) == [0]
    assert schedule.due([1], 1 / FPS) == []
    schedule.forget(set())
    assert schedule.due([1], 2 / FPS) == [0]


def test_configure_changes_the_rate_live_and_rejects_bad_values():
    schedule = ClassifySchedule(15)
    first = count_classifications(schedule, [1], seconds=2)[1]
    schedule.configure(0)
    assert schedule.due([1], 10.0) == [0] and schedule.due([1], 10.0 + 1 / FPS) == [0]
    assert first == 30
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="rate_hz"):
            schedule.configure(bad)
    with pytest.raises(ValueError, match="max_per_frame"):
        ClassifySchedule(15, max_per_frame=0)


def test_render_classifies_every_frame_and_live_at_the_configured_rate():
    config = Config().with_changes({"classifier.rate_hz": 12})
    assert classify_rate_hz(config, "video") == 0 and classify_rate_hz(config, "live") == 12
    assert Config().classifier.rate_hz == 15


# --- the pipeline with a schedule ---------------------------------------------------------------------------------


class Faces:
    """A detector that always finds ``n`` faces in a row."""

    def __init__(self, n):
        self.boxes = np.array([[10 + 30 * i, 10, 35 + 30 * i, 35] for i in range(n)], np.float32)

    def __call__(self, frame):
        lm = np.stack([self.boxes[:, [0, 1]] + 5, self.boxes[:, [2, 1]] + [-5, 5]], axis=1).astype(np.float32)
        return Detections(self.boxes, np.full(len(self.boxes), 0.9, np.float32), lm)


class ScriptedProbs:
    """A classifier whose output follows a script of time (set ``t`` before each frame); counts calls per face."""

    def __init__(self, script):
        self.script, self.t, self.calls = script, 0.0, Counter()

    def __call__(self, frame, faces):
        for f in faces:
            self.calls[f.track_id] += 1
        return np.stack([self.script(self.t)] * len(faces)) if faces else np.zeros((0, 7), np.float32)


class NoDraw:
    def compose(self, frame, faces, pack):
        return frame


def happy_then_sad(t):
    """Happy for 1 s, a 0.5 s cross-fade to sad, sad after; plus a little deterministic noise."""
    w = float(np.clip((t - 1.0) / 0.5, 0, 1))
    p = np.full(7, 0.02, np.float32)
    p[Expression.HAPPY] += (1 - w) * 0.86
    p[Expression.SAD] += w * 0.86
    p += 0.03 * np.sin(np.arange(7) * 1.7 + t * 40).astype(np.float32) ** 2
    return p / p.sum()


def run_pipeline(rate_hz, n_faces=1, seconds=3.0, fps=FPS):
    classifier = ScriptedProbs(happy_then_sad)
    pipeline = Pipeline(Faces(n_faces), classifier, NoDraw(), pack=None, schedule=ClassifySchedule(rate_hz),
                        smoother=ExpressionSmoother(SmoothingParams()))
    frame = np.zeros((60, 40 + 30 * n_faces, 3), np.uint8)
    trace = []
    for k in range(round(seconds * fps)):
        classifier.t = k / fps
        _, result = pipeline.process(frame, k / fps)
        trace.append(result)
    return trace, classifier


@pytest.mark.parametrize("n_faces", [1, 4, 20])
def test_pipeline_classifies_each_face_at_the_rate_and_every_face_has_a_result(n_faces):
    trace, classifier = run_pipeline(15, n_faces=n_faces, seconds=2.0)
    assert all(len(r.faces) == n_faces for r in trace)
    assert all(np.isclose(f.probs.sum(), 1) for r in trace for f in r.faces)  # never an empty result
    expected = min(15 * 2, (n_faces + 59 * MAX_PER_FRAME) / n_faces)  # 15 Hz, or an even share of the cap
    assert all(abs(c - expected) <= 1 for c in classifier.calls.values()), classifier.calls
    fresh = sum(f.classified for r in trace for f in r.faces)
    assert fresh == sum(classifier.calls.values())


def test_smoothed_output_at_15_hz_tracks_the_30_hz_one():
    every, _ = run_pipeline(0)
    rated, _ = run_pipeline(15)
    a = np.array([r.faces[0].smoothed for r in every])
    b = np.array([r.faces[0].smoothed for r in rated])
    # At most one classification period (67 ms) behind: with a 250 ms time constant the smoothed probabilities
    # differ by at most 1 - exp(-67/250) = 0.23 at the steepest moment, and little on average.
    assert np.abs(a - b).max() <= 1 - np.exp(-(1 / 15) / 0.25) + 0.02
    assert np.abs(a - b).mean() <= 0.02
    switch_every = next(r.t_seconds for r in every if r.faces[0].emotion == Expression.SAD)
    switch_rated = next(r.t_seconds for r in rated if r.faces[0].emotion == Expression.SAD)
    assert abs(switch_rated - switch_every) <= 1 / 15 + 1e-9
    assert [r.faces[0].emotion for r in every][-1] == [r.faces[0].emotion for r in rated][-1] == Expression.SAD


# --- the live engine ----------------------------------------------------------------------------------------------

SIZE = (200, 60)


def live_engine(clock, classifier, rate_hz, n_faces):
    config = Config().with_changes({"camera.width": SIZE[0], "camera.height": SIZE[1], "camera.fps": FPS,
                                    "classifier.rate_hz": rate_hz})
    camera = ScriptedCamera([Frames()], clock=clock)

    def open_input(cfg):
        def open_camera():
            return CameraSource(0, SIZE, FPS, capture_factory=camera, clock=clock, system="Linux",
                                sys_root="/nonexistent-sys-root", warmup_frames=1, max_warmup_reads=3,
                                black_frames=3).open()

        return CameraInput(cfg, open_camera=open_camera, clock=clock)

    def factory(cfg):
        pipeline = Pipeline(Faces(n_faces), classifier, NoDraw(), pack="p",
                            schedule=ClassifySchedule(classify_rate_hz(cfg, "live")))
        return pipeline, PipelineInfo("fake-detector", "fake-classifier", "p", ("CPU",), ())

    engine = Engine(config, open_input=open_input, sink=MemorySink(SIZE, FPS), pipeline_factory=factory, clock=clock)
    engine.input_timeout_s = 5.0
    return engine


def step_for(engine, clock, start, seconds):
    for k in range(round(seconds * FPS)):
        clock.set(start + k / FPS)
        engine.step()


def test_live_engine_classifies_at_the_configured_rate_and_a_live_change_applies():
    clock = ManualClock(0.0)
    classifier = ScriptedProbs(happy_then_sad)
    engine = live_engine(clock, classifier, rate_hz=15, n_faces=1)
    engine.begin()
    try:
        step_for(engine, clock, 0.0, 4.0)
        at_15 = sum(classifier.calls.values())
        engine.apply_config(engine.config.with_changes({"classifier.rate_hz": 0}))
        step_for(engine, clock, 4.0, 4.0)
        at_30 = sum(classifier.calls.values()) - at_15
    finally:
        engine.end()
    # The camera's first frames are its warm-up; count with one frame of slack at each end.
    assert abs(at_15 - 60) <= 3 and abs(at_30 - 120) <= 3


# --- render -------------------------------------------------------------------------------------------------------


def test_render_classifies_every_frame_unless_given_a_rate(tmp_path, monkeypatch, capsys):
    import json

    from conftest import shared_file
    from vcam_emoji.cli import main
    from vcam_emoji.config import ensure_config_file

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    config = str(ensure_config_file(tmp_path / "config.toml"))
    clip = shared_file("media/intel_head-pose-face-detection-male.mp4")  # 12 fps, one face

    def probs_per_frame(*extra):
        timeline = tmp_path / f"t{len(extra)}.jsonl"
        out = tmp_path / f"out{len(extra)}.mp4"
        assert main(["render", "--config", config, "-q", str(clip), str(out), "--timeline", str(timeline),
                     *extra]) == 0
        lines = [json.loads(line) for line in timeline.read_text().splitlines()]
        return [tuple(line["faces"][0]["probs"]) for line in lines if line["faces"]]

    every = probs_per_frame()
    assert sum(a != b for a, b in zip(every, every[1:])) >= 0.9 * (len(every) - 1)  # a new output every frame
    at_6 = probs_per_frame("--rate-hz", "6")  # half the clip's 12 fps: each output stays for two frames
    changes = sum(a != b for a, b in zip(at_6, at_6[1:]))
    assert abs(changes - (len(at_6) - 1) / 2) <= 2

    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--config", config, str(clip), str(tmp_path / "x.mp4"), "--rate-hz", "-1"])
    assert exit_info.value.code == 2 and "--rate-hz" in capsys.readouterr().err
