"""Frame listeners and the last result: how a viewer (the Studio's live picture) follows the engine's output."""

from __future__ import annotations

import numpy as np

from vcam_emoji.engine import PAUSED_LINES
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.source.placeholder import placeholder_frame
from vcam_emoji.source.scripted import Frames, ScriptedCamera

from test_engine import FPS, SIZE, camera_engine, clock, is_processed, run_steps  # noqa: F401  (clock: fixture)


def test_a_listener_sees_every_frame_sent_with_its_result_until_removed(clock):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    seen = []
    engine.begin()
    try:
        run_steps(engine, clock, 0.0, 0.2)
        assert engine.last_result() is not None and seen == []  # nothing is called before anyone listens
        remove = engine.add_frame_listener(lambda frame, result: seen.append((frame, result)))
        count_before = sink.count
        run_steps(engine, clock, 0.2, 0.5)
        sent = sink.count - count_before
        remove()
        remove()  # idempotent
        run_steps(engine, clock, 0.5, 0.7)
    finally:
        engine.end()
    # Given a listener for 0.3 s, when frames flow, then it got exactly the frames the sink got, with their results
    assert len(seen) == sent > 0
    assert all(is_processed(frame) for frame, _ in seen)
    assert [result.index for _, result in seen] == sorted({result.index for _, result in seen})
    assert np.array_equal(seen[-1][0], sink.frames[count_before + sent - 1])
    assert engine.last_result().index > seen[-1][1].index  # the engine went on after the listener left


def test_placeholders_reach_listeners_without_a_result(clock):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    seen = []
    engine.add_frame_listener(lambda frame, result: seen.append((frame, result)))
    engine.begin()
    try:
        run_steps(engine, clock, 0.0, 0.1)
        engine.pause()
        run_steps(engine, clock, 0.1, 0.3)
    finally:
        engine.end()
    paused = [frame for frame, result in seen if result is None]
    assert paused and all(np.array_equal(frame, placeholder_frame(SIZE, PAUSED_LINES)) for frame in paused)
    assert engine.last_result() is not None  # kept while paused; status().state says it is paused


def test_a_failing_listener_is_removed_and_the_output_goes_on(clock, caplog):
    sink = MemorySink(SIZE, FPS)
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink)
    calls = []

    def broken(frame, result):
        calls.append(1)
        raise RuntimeError("viewer bug")

    good = []
    engine.add_frame_listener(broken)
    engine.add_frame_listener(lambda frame, result: good.append(result))
    engine.begin()
    try:
        run_steps(engine, clock, 0.0, 0.3)
    finally:
        engine.end()
    assert calls == [1]
    assert len(good) == sink.count > 1
    assert "frame listener" in caplog.text and "viewer bug" in caplog.text
