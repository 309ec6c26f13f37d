"""The frame period of a live timeline: a busy live loop's uneven steps still count the session's whole length."""

import numpy as np

from vcam_emoji.analytics.summarise import frame_durations, live_period, nominal_period


def test_uneven_live_steps_count_the_whole_session():
    # Given a 30 fps loop under load: two thirds of the steps 33 ms, one third 100 ms (two frames dropped)
    rng = np.random.default_rng(0)
    steps = rng.choice([1 / 30, 0.1], size=299, p=[2 / 3, 1 / 3])
    t = np.concatenate([[0.0], np.cumsum(steps)])
    median_counted = frame_durations(t, nominal_period(t)).sum()
    live_counted = frame_durations(t, live_period(t)).sum()
    span = t[-1] - t[0]
    assert live_counted >= 0.99 * span
    assert median_counted < 0.85 * span  # what the median did: each 100 ms step cut to twice 33 ms


def test_a_pause_is_left_out_of_the_period_and_still_cut_as_a_gap():
    t = np.concatenate([np.arange(0, 2, 1 / 30), 12 + np.arange(0, 2, 1 / 30)])  # 10 s paused in the middle
    period = live_period(t)
    assert abs(period - 1 / 30) < 1e-6
    assert frame_durations(t, period).sum() < 4.2  # the pause does not count as seen


def test_one_frame_has_no_period():
    assert live_period([5.0]) == 0.0
