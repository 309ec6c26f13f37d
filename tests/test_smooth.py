import numpy as np
import pytest

from vcam_emoji.smooth import ExpressionSmoother, SmoothingParams
from vcam_emoji.types import Expression

HAPPY = np.eye(7, dtype=np.float32)[Expression.HAPPY]
SAD = np.eye(7, dtype=np.float32)[Expression.SAD]


def run(smoother, seq, fps):
    shown = []
    for i, p in enumerate(seq):
        shown.append(smoother.update(1, p, i / fps)[1])
    return shown


def test_first_frame_shows_argmax():
    s = ExpressionSmoother()
    probs, shown = s.update(7, HAPPY, 0.0)
    assert shown is Expression.HAPPY
    np.testing.assert_allclose(probs, HAPPY)


@pytest.mark.parametrize("fps", [12, 30, 60])
def test_time_constant_is_frame_rate_independent(fps):
    # Given happy for 1 s and then sad: after 0.5 s of sad the smoothed sad probability is the same at any fps.
    s = ExpressionSmoother(SmoothingParams(time_constant_ms=250, switch_margin=0, min_hold_ms=0))
    n_happy, n_sad = fps, fps // 2
    for i in range(n_happy + n_sad + 1):
        probs, _ = s.update(1, HAPPY if i <= n_happy else SAD, i / fps)
    assert probs[Expression.SAD] == pytest.approx(1 - np.exp(-500 / 250), abs=0.02)


def test_single_frame_blip_does_not_flip_the_emoji():
    s = ExpressionSmoother(SmoothingParams(time_constant_ms=250, switch_margin=0.15, min_hold_ms=300))
    seq = [HAPPY] * 30 + [SAD] + [HAPPY] * 10
    assert set(run(s, seq, 30)) == {Expression.HAPPY}


def test_lasting_change_switches_after_hold_and_margin():
    s = ExpressionSmoother(SmoothingParams(time_constant_ms=200, switch_margin=0.15, min_hold_ms=300))
    shown = run(s, [HAPPY] * 30 + [SAD] * 30, 30)
    first_sad = shown.index(Expression.SAD)
    assert 30 < first_sad < 45  # switches within half a second, not at once
    assert all(e is Expression.SAD for e in shown[first_sad:])


def test_off_preset_follows_raw_argmax():
    s = ExpressionSmoother(SmoothingParams(time_constant_ms=0, switch_margin=0, min_hold_ms=0))
    assert run(s, [HAPPY, SAD, HAPPY], 30) == [Expression.HAPPY, Expression.SAD, Expression.HAPPY]


def test_tracks_are_independent_and_forgotten():
    s = ExpressionSmoother()
    s.update(1, HAPPY, 0.0)
    s.update(2, SAD, 0.0)
    assert s.update(1, HAPPY, 0.03)[1] is Expression.HAPPY
    assert s.update(2, SAD, 0.03)[1] is Expression.SAD
    s.forget({2})
    assert s.update(1, SAD, 0.06)[1] is Expression.SAD  # track 1 restarted from scratch


def test_configure_keeps_state():
    s = ExpressionSmoother()
    s.update(1, HAPPY, 0.0)
    s.configure(SmoothingParams(time_constant_ms=1000))
    probs, shown = s.update(1, SAD, 0.033)
    assert shown is Expression.HAPPY and probs[Expression.HAPPY] > 0.9


@pytest.mark.parametrize("kwargs,name", [({"time_constant_ms": -1}, "time_constant_ms"),
                                         ({"switch_margin": 2}, "switch_margin"), ({"min_hold_ms": -5}, "min_hold_ms")])
def test_bad_params_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SmoothingParams(**kwargs)


def test_wrong_probs_shape_is_rejected():
    with pytest.raises(ValueError, match="expected shape"):
        ExpressionSmoother().update(1, np.ones(5), 0.0)
