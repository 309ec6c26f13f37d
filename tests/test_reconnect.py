"""ReconnectingSource over CameraSource over ScriptedCamera, in simulated time (ManualClock)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vcam_emoji.errors import DeviceError
from vcam_emoji.source.camera import CameraSource
from vcam_emoji.source.placeholder import placeholder_frame
from vcam_emoji.source.reconnect import ReconnectingSource, SourceStatus
from vcam_emoji.source.scripted import Black, Busy, Frames, ManualClock, ScriptedCamera, Vanish, frame_number

SIZE = (64, 48)
WAIT = 5.0  # generous real-time bound for thread hand-offs; never reached when things work


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(0.0)


def reconnecting(camera: ScriptedCamera, clock: ManualClock, **kw) -> ReconnectingSource:
    def open_camera() -> CameraSource:
        return CameraSource(0, SIZE, capture_factory=camera, clock=clock, system="Linux",
                            sys_root="/nonexistent-sys-root", warmup_frames=1, max_warmup_reads=3,
                            black_frames=3).open()

    return ReconnectingSource(open_camera, size_wh=SIZE, clock=clock, **kw)


def step_until(source, clock, *, start, end, step=0.1):
    """Call get() every ``step`` simulated seconds; returns [(t, frame number or None, state)]."""
    results = []
    for k in range(round((end - start) / step) + 1):
        t = round(start + k * step, 6)
        clock.set(t)
        # The generous timeout is a thread hand-off: get returns as soon as an open attempt ends or a new frame
        # arrives, so each simulated step sees the result of the previous one (scripts here never run dry).
        frame, state = source.get(t, timeout=WAIT)
        results.append((t, None if frame is None else frame_number(frame), state))
    return results


def test_first_get_opens_and_delivers(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    with reconnecting(camera, clock) as source:
        frame, state = source.get(0.0, timeout=WAIT)
        # the grabber may already have read a second frame: the newest one is returned
        assert frame is not None and state.ok and state.frame_index >= 1
        assert frame.shape == (SIZE[1], SIZE[0], 3)


def test_vanish_is_unavailable_on_the_very_next_get(clock):
    camera = ScriptedCamera([Frames(1)], clock=clock)
    with reconnecting(camera, clock) as source:
        frame, state = source.get(0.0, timeout=WAIT)
        assert frame is not None and state.ok
        # when the camera is unplugged
        camera.push(Vanish(10.0))
        # then the very next get says so, with the reason, and schedules a retry
        frame, state = source.get(0.1, timeout=WAIT)
        assert frame is None
        assert state.status is SourceStatus.UNAVAILABLE
        assert "disconnected" in state.reason
        assert state.retry_at == pytest.approx(0.6)
        assert state.placeholder_lines[0] == "Camera unavailable"


def test_backoff_schedule_doubles_and_caps(clock):
    camera = ScriptedCamera([Busy(1000.0)], clock=clock)
    attempt_times = []
    with reconnecting(camera, clock, initial_delay_s=0.5, max_delay_s=5.0) as source:
        for k in range(201):
            [(t, number, state)] = step_until(source, clock, start=k / 10, end=k / 10)
            if source.attempts_started > len(attempt_times):
                attempt_times.append(t)
            assert number is None and state.status is SourceStatus.UNAVAILABLE
    assert attempt_times == pytest.approx([0.0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5])
    assert len(camera.open_calls) == len(attempt_times)


@pytest.mark.parametrize(("failures", "delay"), [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (50, 5.0)])
def test_delay_after(clock, failures, delay):
    source = ReconnectingSource(lambda: None, size_wh=SIZE, clock=clock, initial_delay_s=0.5, max_delay_s=5.0)
    assert source.delay_after(failures) == delay


def test_busy_camera_is_unavailable_then_used_when_free(clock):
    camera = ScriptedCamera([Busy(3.0), Frames()], clock=clock)
    with reconnecting(camera, clock) as source:
        results = step_until(source, clock, start=0.0, end=6.0)
    first_frame_t = next(t for t, number, _ in results if number is not None)
    assert all(state.status is SourceStatus.UNAVAILABLE for t, _, state in results if t < 3.0)
    assert "could not open" in results[0][2].reason
    assert 3.0 <= first_frame_t <= 5.0


def test_black_frames_make_it_unavailable_and_it_reopens(clock):
    camera = ScriptedCamera([Frames(1)], clock=clock)
    with reconnecting(camera, clock) as source:
        assert source.get(0.0, timeout=WAIT)[0] is not None
        camera.push(Black(3))
        assert camera.wait_idle(WAIT)
        frame, state = source.get(0.1, timeout=0.0)
        assert frame is None and state.status is SourceStatus.UNAVAILABLE
        assert "black" in state.reason
        # the lens cover is opened again: the next attempt reopens and frames flow
        camera.push(Frames())
        results = step_until(source, clock, start=0.2, end=1.0)
    assert any(number is not None for _, number, _ in results)
    assert len(camera.captures) == 2


@pytest.mark.parametrize("outage_s", [1.0, 7.0, 30.0])
def test_camera_back_gives_frames_within_2s_of_simulated_time(clock, outage_s):
    camera = ScriptedCamera([Frames(1)], clock=clock)
    with reconnecting(camera, clock) as source:
        assert source.get(0.0, timeout=WAIT)[0] is not None
        camera.push(Vanish(outage_s), Frames())
        assert source.get(0.0, timeout=WAIT)[1].status is SourceStatus.UNAVAILABLE
        results = step_until(source, clock, start=0.1, end=outage_s + 4.0)
    back_at = outage_s
    first_frame_t = next(t for t, number, _ in results if number is not None)
    assert back_at <= first_frame_t <= back_at + 2.0
    assert all(number is None for t, number, _ in results if t < back_at)


def test_get_never_blocks_longer_than_its_timeout(clock):
    # given an open that hangs (a driver stuck for seconds)
    release = threading.Event()
    camera = ScriptedCamera([Frames()], clock=clock)

    def hanging_open():
        release.wait(30)
        return CameraSource(0, SIZE, capture_factory=camera, clock=clock, system="Darwin", warmup_frames=1).open()

    source = ReconnectingSource(hanging_open, size_wh=SIZE, clock=clock)
    results = []
    caller = threading.Thread(target=lambda: results.append(source.get(0.0, timeout=0.05)))
    caller.start()
    caller.join(WAIT)
    # then get returned while the open still hangs
    assert not caller.is_alive()
    frame, state = results[0]
    assert frame is None and state.status is SourceStatus.STARTING
    assert state.placeholder_lines == ("Starting camera...",)
    # and once the open finishes, frames come
    release.set()
    frame, state = source.get(0.1, timeout=WAIT)
    assert frame is not None and state.ok
    source.close()


def test_unexpected_open_error_is_a_reason_not_a_crash(clock):
    def broken_open():
        raise OSError("driver exploded")

    source = ReconnectingSource(broken_open, size_wh=SIZE, clock=clock)
    frame, state = source.get(0.0, timeout=WAIT)
    assert frame is None and state.status is SourceStatus.UNAVAILABLE
    assert state.reason == "OSError: driver exploded"
    source.close()


def test_failures_reset_only_after_stable_frames(clock):
    camera = ScriptedCamera([Busy(1.0), Frames()], clock=clock)
    with reconnecting(camera, clock, stable_after_s=3.0) as source:
        results = step_until(source, clock, start=0.0, end=6.0)
    failures_by_t = {t: state.failures for t, _, state in results}
    assert failures_by_t[1.5] == 2  # opened at 1.5 after two failures; not yet stable
    assert failures_by_t[6.0] == 0  # healthy for 3 s: next outage starts again at the shortest delay


def test_read_gives_a_placeholder_when_unavailable(clock):
    camera = ScriptedCamera([Busy(100.0)], clock=clock)
    source = reconnecting(camera, clock)
    source.get(0.0, timeout=WAIT)
    frame = source.read()
    assert frame.shape == (SIZE[1], SIZE[0], 3)
    _, state = source.get(0.0)
    assert np.array_equal(frame, placeholder_frame(SIZE, state.placeholder_lines))
    source.close()


def test_close_is_idempotent_and_closes_the_camera(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    source = reconnecting(camera, clock)
    assert source.get(0.0, timeout=WAIT)[0] is not None
    source.close()
    source.close()
    assert camera.captures[0].released
    frame, state = source.get(1.0)
    assert frame is None and state.status is SourceStatus.CLOSED
    with pytest.raises(Exception, match="closed"):
        source.read()


def test_bad_backoff_settings_are_rejected(clock):
    with pytest.raises(ValueError, match="expected 0 < initial <= max, got 3/1"):
        ReconnectingSource(lambda: None, size_wh=SIZE, initial_delay_s=3, max_delay_s=1)


def test_device_error_text_is_the_reason(clock):
    def missing():
        raise DeviceError("no camera named 'Logitech'")

    with ReconnectingSource(missing, size_wh=SIZE, clock=clock) as source:
        assert source.get(0.0, timeout=WAIT)[1].reason == "no camera named 'Logitech'"


def test_close_while_an_open_hangs_does_not_wait_and_the_late_camera_is_closed(clock):
    release = threading.Event()
    camera = ScriptedCamera([Frames()], clock=clock)
    opened = []

    def hanging_open():
        release.wait(30)
        source = CameraSource(0, SIZE, capture_factory=camera, clock=clock, system="Darwin", warmup_frames=1).open()
        opened.append(source)
        return source

    source = ReconnectingSource(hanging_open, size_wh=SIZE, clock=clock)
    assert source.get(0.0, timeout=0.0)[1].status is SourceStatus.STARTING
    closer = threading.Thread(target=source.close)
    closer.start()
    closer.join(WAIT)
    assert not closer.is_alive()  # close did not wait for the hanging open
    release.set()
    deadline = threading.Event()
    for _ in range(500):
        if opened and camera.captures and camera.captures[0].released:
            break
        deadline.wait(0.01)
    assert camera.captures[0].released  # the camera that opened too late was closed, not leaked
