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


def test_a_new_face_starts_at_neutral_unless_its_top_class_leads_neutral_by_the_switch_margin():
    """The shared two-face clip's first frame: sad 0.45, neutral 0.31 (0.14 apart) drew a crying emoji at once."""
    s = ExpressionSmoother(SmoothingParams(switch_margin=0.15))
    assert s.update(1, mix(sad=0.45, neutral=0.31), 0.0)[1] is Expression.NEUTRAL
    assert s.update(2, mix(sad=0.47, neutral=0.31), 0.0)[1] is Expression.SAD  # 0.16 apart: it leaves home
    assert s.update(3, mix(neutral=0.40, sad=0.35), 0.0)[1] is Expression.NEUTRAL
    assert ExpressionSmoother(SmoothingParams(switch_margin=0.0)).update(4, mix(sad=0.45, neutral=0.31), 0.0)[1] \
        is Expression.SAD  # no margin: the top class, as before


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


# --- neutral is the home state ------------------------------------------------------------------------------------


def mix(**probs):
    p = np.zeros(7, np.float32)
    for name, v in probs.items():
        p[Expression.from_label(name)] = v
    rest = (1 - p.sum()) / (7 - len(probs))
    p[p == 0] = rest
    return p


def shown_over(smoother, steps, hz=30.0, start=0.0):
    """Feed (probs, seconds) steps at ``hz``; returns [(t, shown)]."""
    out, t = [], start
    for probs, seconds in steps:
        for _ in range(round(seconds * hz)):
            out.append((t, smoother.update(1, probs, t)[1]))
            t += 1 / hz
    return out


def test_a_sad_emoji_returns_to_neutral_when_neutral_leads_by_less_than_the_switch_margin():
    # Given sad shown, then the classifier says neutral 0.42 vs sad 0.34 (the tilting-head clip, frame 44)
    params = SmoothingParams()  # defaults: switch_margin 0.15, neutral_margin 0
    s = ExpressionSmoother(params)
    trace = shown_over(s, [(SAD, 1.0), (mix(neutral=0.42, sad=0.34), 2.0)])
    assert trace[0][1] is Expression.SAD
    # neutral comes back, and stays
    assert trace[-1][1] is Expression.NEUTRAL
    assert all(shown is Expression.NEUTRAL for t, shown in trace if t >= 2.0)
    # Before this rule (neutral needing the same margin as any switch) the sad emoji stayed for good.
    old = ExpressionSmoother(SmoothingParams(neutral_margin=0.15, neutral_hold_ms=300))
    assert shown_over(old, [(SAD, 1.0), (mix(neutral=0.42, sad=0.34), 2.0)])[-1][1] is Expression.SAD


def test_leaving_neutral_still_needs_the_switch_margin():
    s = ExpressionSmoother(SmoothingParams())
    trace = shown_over(s, [(mix(neutral=0.6), 1.0), (mix(neutral=0.36, sad=0.44), 2.0)])
    assert {shown for _, shown in trace} == {Expression.NEUTRAL}  # sad leads by 0.08 < 0.15: no crying emoji
    trace = shown_over(s, [(mix(neutral=0.3, sad=0.5), 2.0)], start=3.0)
    assert trace[-1][1] is Expression.SAD  # a clear lead of 0.2 does switch


def test_return_to_neutral_needs_its_own_margin_and_hold():
    params = SmoothingParams(switch_margin=0.15, min_hold_ms=800, neutral_margin=0.05, neutral_hold_ms=500)
    s = ExpressionSmoother(params)
    # Neutral ahead by only 0.03 (< neutral_margin 0.05): the shown expression stays.
    trace = shown_over(s, [(SAD, 1.0), (mix(neutral=0.40, sad=0.37), 2.0)])
    assert trace[-1][1] is Expression.SAD
    # A fresh sad shown at t: neutral far ahead right away still waits for neutral_hold_ms (500 ms).
    s = ExpressionSmoother(params)
    trace = shown_over(s, [(SAD, 0.1), (mix(neutral=0.9), 1.0)])
    first_neutral = next(t for t, shown in trace if shown is Expression.NEUTRAL)
    assert 0.5 - 1e-9 <= first_neutral <= 0.5 + 1 / 30 + 1e-9


def test_between_two_expressions_other_than_neutral_the_switch_margin_applies():
    s = ExpressionSmoother(SmoothingParams())
    # happy shown; surprise edges ahead (0.45 vs 0.40), neutral far behind: no detour through neutral
    trace = shown_over(s, [(HAPPY, 1.0), (mix(surprise=0.45, happy=0.40), 2.0)])
    assert {shown for _, shown in trace} == {Expression.HAPPY}


@pytest.mark.parametrize("hz", [15.0, 30.0])
def test_the_return_to_neutral_happens_at_the_same_time_at_15_and_30_hz(hz):
    s = ExpressionSmoother(SmoothingParams())
    trace = shown_over(s, [(SAD, 1.0), (mix(neutral=0.6, sad=0.2), 1.0)], hz=hz)
    first_neutral = next(t for t, shown in trace if shown is Expression.NEUTRAL)
    # EMA with tau 250 ms: neutral overtakes sad about 0.22 s after the change; one 15 Hz period of slack.
    assert 1.1 <= first_neutral <= 1.1 + 0.2 + 1 / 15


@pytest.mark.parametrize("bad", [{"neutral_margin": -0.1}, {"neutral_margin": 1.5}, {"neutral_hold_ms": -1},
                                 {"neutral_hold_ms": float("nan")}, {"time_constant_ms": float("inf")}])
def test_bad_parameters_are_refused(bad):
    with pytest.raises(ValueError):
        SmoothingParams(**bad)
