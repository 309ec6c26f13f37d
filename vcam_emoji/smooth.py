"""Smoothing: per-track exponential moving average of the class probabilities, plus hysteresis on the shown emoji.

The EMA uses a time constant in milliseconds, so it behaves the same at 12 fps or 60 fps, and whether the classifier
ran on every frame or only at ``classifier.rate_hz``: a new classification ``dt`` after the previous one gets weight
``1 - exp(-dt / tau)``.

Neutral is the home state. A new face starts there unless its first classification puts another expression
``switch_margin`` ahead of neutral. The shown expression leaves it, or changes between two other expressions, only when the
new one beats the shown one by ``switch_margin`` in the smoothed probabilities and the shown one has been up for at
least ``min_hold_ms``. Going back to neutral needs less: neutral has to beat the shown expression by only
``neutral_margin``, after ``neutral_hold_ms``. So a sad or angry emoji that the classifier no longer supports falls
back to neutral instead of staying on a neutral colleague's face (the worst error in a meeting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .types import NUM_EXPRESSIONS, Expression


@dataclass(frozen=True)
class SmoothingParams:
    time_constant_ms: float = 250.0
    switch_margin: float = 0.15
    min_hold_ms: float = 300.0
    neutral_margin: float = 0.0
    neutral_hold_ms: float = 100.0

    def __post_init__(self) -> None:
        for name in ("time_constant_ms", "min_hold_ms", "neutral_hold_ms"):
            value = getattr(self, name)
            if not value >= 0 or math.isinf(value):  # also rejects nan
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        for name in ("switch_margin", "neutral_margin"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass
class _TrackState:
    raw: np.ndarray  # the last classification
    probs: np.ndarray  # smoothed
    shown: Expression
    shown_since_s: float
    last_s: float


class ExpressionSmoother:
    """``update(track_id, probs, now_s) -> (smoothed_probs, shown_expression)`` for each new classification of a
    track; ``current(track_id)`` between two classifications; ``forget`` drops old tracks."""

    def __init__(self, params: SmoothingParams | None = None) -> None:
        self.params = params or SmoothingParams()
        self._states: dict[int, _TrackState] = {}

    def configure(self, params: SmoothingParams) -> None:
        """Change the parameters live; the state of every track is kept."""
        self.params = params

    def update(self, track_id: int, probs: np.ndarray, now_s: float) -> tuple[np.ndarray, Expression]:
        probs = np.asarray(probs, np.float32)
        if probs.shape != (NUM_EXPRESSIONS,):
            raise ValueError(f"probs: expected shape ({NUM_EXPRESSIONS},), got {probs.shape}")
        state = self._states.get(track_id)
        if state is None:  # a new face starts at home: another expression needs switch_margin over neutral
            best = Expression(int(np.argmax(probs)))
            leaves = float(probs[best] - probs[Expression.NEUTRAL]) >= self.params.switch_margin
            shown = best if leaves else Expression.NEUTRAL
            self._states[track_id] = _TrackState(probs.copy(), probs.copy(), shown, now_s, now_s)
            return probs.copy(), shown

        p = self.params
        dt_ms = max(0.0, (now_s - state.last_s) * 1000.0)
        weight = 1.0 if p.time_constant_ms == 0 else 1.0 - math.exp(-dt_ms / p.time_constant_ms)
        state.probs = ((1.0 - weight) * state.probs + weight * probs).astype(np.float32)
        state.raw = probs.copy()
        state.last_s = now_s

        best = Expression(int(np.argmax(state.probs)))
        if best != state.shown:
            held_ms = (now_s - state.shown_since_s) * 1000.0
            beats_by = float(state.probs[best] - state.probs[state.shown])
            neutral_by = float(state.probs[Expression.NEUTRAL] - state.probs[state.shown])
            if held_ms >= p.min_hold_ms and beats_by >= p.switch_margin:
                new = best
            elif state.shown != Expression.NEUTRAL and held_ms >= p.neutral_hold_ms and neutral_by >= p.neutral_margin \
                    and neutral_by > 0:
                new = Expression.NEUTRAL  # back home: the shown expression is no longer ahead of neutral
            else:
                new = state.shown
            if new != state.shown:
                state.shown = new
                state.shown_since_s = now_s
        return state.probs.copy(), state.shown

    def current(self, track_id: int) -> tuple[np.ndarray, np.ndarray, Expression] | None:
        """``(last classification, smoothed probabilities, shown expression)`` of a track, or None if never seen."""
        state = self._states.get(track_id)
        if state is None:
            return None
        return state.raw.copy(), state.probs.copy(), state.shown

    def forget(self, keep_ids: set[int]) -> None:
        """Drop the state of every track not in ``keep_ids``."""
        for track_id in list(self._states):
            if track_id not in keep_ids:
                del self._states[track_id]
