"""When to classify which face: at most ``rate_hz`` times a second per track (``classifier.rate_hz``).

A face's expression does not change in 33 ms and the smoother averages over about 250 ms, so classifying every face
on every frame spends compute for nothing; at 15 Hz the classifier may cost twice as much per face for the same CPU.

For each frame, :meth:`ClassifySchedule.due` picks the faces to classify:

- a track that has never been classified is always due, at once (so a new face gets its emoji in its first frame);
- a classified track is due again one period (``1 / rate_hz``) after it was last due, on a fixed grid, so jittery
  frame times do not lower the rate and the long-run rate never exceeds ``rate_hz``; a frame up to a quarter of a
  period early counts as on time;
- at most ``max_per_frame`` faces are classified in one frame, new tracks aside: every new track is classified at
  once even past the cap (20 faces appearing together are all classified in their first frame). New tracks come
  first (newest first), then the due tracks that have waited longest: round-robin, so with many faces each face's rate falls evenly instead of the frame
  rate falling.

``rate_hz = 0`` classifies every face on every frame, without a cap (what ``render`` does unless told otherwise).
Times are the frame times the pipeline is given, so tests drive it with any clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EARLY_FRACTION = 0.25  # a frame this fraction of a period before the due time is on time
MAX_PER_FRAME = 4  # classifications per frame when rate-limited (4 x 3 ms fits a 33 ms frame)


class ClassifySchedule:
    def __init__(self, rate_hz: float = 15.0, max_per_frame: int = MAX_PER_FRAME) -> None:
        self._next_s: dict[int, float] = {}
        self.configure(rate_hz, max_per_frame)

    def configure(self, rate_hz: float, max_per_frame: int | None = None) -> None:
        """Change the rate live; tracks keep their place in the round."""
        if not (rate_hz >= 0 and math.isfinite(rate_hz)):
            raise ValueError(f"rate_hz must be a finite number >= 0 (0 = every frame), got {rate_hz}")
        if max_per_frame is not None:
            if max_per_frame < 1:
                raise ValueError(f"max_per_frame must be >= 1, got {max_per_frame}")
            self.max_per_frame = max_per_frame
        self.rate_hz = float(rate_hz)

    @property
    def period_s(self) -> float:
        return 0.0 if self.rate_hz == 0 else 1.0 / self.rate_hz

    def due(self, track_ids: Sequence[int], now_s: float) -> list[int]:
        """Indices into ``track_ids`` of the faces to classify in the frame at ``now_s``; marks them classified."""
        if self.rate_hz == 0:
            for track_id in track_ids:
                self._next_s[track_id] = now_s
            return list(range(len(track_ids)))
        period = self.period_s
        early = EARLY_FRACTION * period
        new = [i for i, t in enumerate(track_ids) if t not in self._next_s]
        new.sort(key=lambda i: -track_ids[i])  # track ids grow: the highest is the newest
        waiting = [i for i, t in enumerate(track_ids) if t in self._next_s and now_s >= self._next_s[t] - early]
        waiting.sort(key=lambda i: (self._next_s[track_ids[i]], track_ids[i]))  # longest overdue first
        chosen = new + waiting[: max(0, self.max_per_frame - len(new))]
        for i in chosen:
            track_id = track_ids[i]
            previous = self._next_s.get(track_id)
            on_grid = previous + period if previous is not None else now_s + period
            # Fell behind (capped out, or a stall): restart the grid from now instead of catching up in a burst.
            self._next_s[track_id] = max(on_grid, now_s + period - early)
        return sorted(chosen)

    def forget(self, keep_ids: set[int]) -> None:
        """Drop every track not in ``keep_ids``."""
        for track_id in list(self._next_s):
            if track_id not in keep_ids:
                del self._next_s[track_id]
