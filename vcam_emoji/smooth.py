"""Smoothing: per-track exponential moving average of the class probabilities, plus hysteresis on the shown emoji.

The EMA uses a time constant in milliseconds, so it behaves the same at 12 fps or 60 fps: a new frame ``dt`` after the
previous one gets weight ``1 - exp(-dt / tau)``. The shown expression only changes when another class beats it by
``switch_margin`` in the smoothed probabilities and the current one has been shown for at least ``min_hold_ms``.
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

    def __post_init__(self) -> None:
        if self.time_constant_ms < 0:
            raise ValueError(f"time_constant_ms must be >= 0, got {self.time_constant_ms}")
        if not 0.0 <= self.switch_margin <= 1.0:
            raise ValueError(f"switch_margin must be in [0, 1], got {self.switch_margin}")
        if self.min_hold_ms < 0:
            raise ValueError(f"min_hold_ms must be >= 0, got {self.min_hold_ms}")


@dataclass
class _TrackState:
    probs: np.ndarray
    shown: Expression
    shown_since_s: float
    last_s: float


class ExpressionSmoother:
    """``update(track_id, probs, now_s) -> (smoothed_probs, shown_expression)``; ``forget`` drops old tracks."""

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
        if state is None:
            shown = Expression(int(np.argmax(probs)))
            self._states[track_id] = _TrackState(probs.copy(), shown, now_s, now_s)
            return probs.copy(), shown

        p = self.params
        dt_ms = max(0.0, (now_s - state.last_s) * 1000.0)
        weight = 1.0 if p.time_constant_ms == 0 else 1.0 - math.exp(-dt_ms / p.time_constant_ms)
        state.probs = ((1.0 - weight) * state.probs + weight * probs).astype(np.float32)
        state.last_s = now_s

        best = Expression(int(np.argmax(state.probs)))
        if best != state.shown:
            held_ms = (now_s - state.shown_since_s) * 1000.0
            beats_by = float(state.probs[best] - state.probs[state.shown])
            if held_ms >= p.min_hold_ms and beats_by >= p.switch_margin:
                state.shown = best
                state.shown_since_s = now_s
        return state.probs.copy(), state.shown

    def forget(self, keep_ids: set[int]) -> None:
        """Drop the state of every track not in ``keep_ids``."""
        for track_id in list(self._states):
            if track_id not in keep_ids:
                del self._states[track_id]
