"""From per-frame records to the figures of a recording, and from recordings to the figures across them. Pure.

The input is what ``render --timeline`` and ``run --timeline`` write for each frame (``timeline.frame_record``): the
frame time ``t`` and, per face, ``track_id``, ``probs`` (the classifier's output) and ``smoothed`` (after temporal
smoothing). ``analyze`` builds the very same records from the pipeline, so a report made from a rendered clip's
timeline and one made by ``analyze`` on the clip agree.

How the figures are made:

- Each frame stands for the time until the next one (a video: 1/fps), at most twice the nominal frame period, so
  the gaps of a paused live session do not count as seen. A photo is one instant: its faces count one frame each.
- ``shares``: the fraction of a face's visible time in which each expression had the highest *smoothed*
  probability (the app's own smoothing, ``smoothing.time_constant_ms``). It sums to 1 for every face.
- Samples: the time axis is cut into windows of ``every_ms``; a face's sample is the mean of its per-frame
  classifier probabilities over the frames of that window in which it was seen.
- Valence: P(happy) - P(angry + disgust + fear + sad), from -1 to +1; surprise and neutral count as 0.
- A live timeline classifies each face at ``classifier.rate_hz`` (15 Hz): between two classifications a face's
  ``probs`` repeat the last output. As every frame counts for its duration, each classification then counts for
  the time it held, so the figures mean the same at any rate (and a video, classified on every frame, agrees).
- The audience's samples run from the one holding the first frame to the one holding the last: from 0 for a video,
  from where its first frame came for a live session (its times count from when the app started).
- Moments: for each expression, the samples with the highest probability, at least ``MOMENT_GAP_S`` apart.
- A file's summary weighs its faces by the time they were visible; the report's summary averages the files.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..types import NUM_EXPRESSIONS, Expression
from .model import Audience, FileResult, Moment, Person, Report, Series, Summary, valence

MOMENTS_PER_EXPRESSION = 3
MOMENT_GAP_S = 1.0  # two moments of the same expression are at least this far apart (or one sample, if longer)
FRAME_GAP_FACTOR = 2.0  # a frame stands for at most this many nominal frame periods


class RecordError(ValueError):
    """A frame record that does not have the timeline's shape."""


@dataclass
class FrameLog:
    """The per-frame facts a report needs, in flat typed arrays: 8 bytes per frame and 80 per face per frame (track,
    frame index, 7 probabilities and 7 smoothed ones as float32), so four hours of a live session at 30 fps hold
    about 35 MB per face.

    ``add_record`` takes one timeline line (a dict as written by ``timeline.frame_record``); ``face_probs`` and
    ``face_smoothed`` hold NUM_EXPRESSIONS values per face, one face after the other (``probs()`` gives them as rows).
    """

    t: array = field(default_factory=lambda: array("d"))
    face_frame: array = field(default_factory=lambda: array("q"))
    face_track: array = field(default_factory=lambda: array("q"))
    face_probs: array = field(default_factory=lambda: array("f"))
    face_smoothed: array = field(default_factory=lambda: array("f"))

    def __len__(self) -> int:
        return len(self.t)

    def copy(self) -> FrameLog:
        return FrameLog(array("d", self.t), array("q", self.face_frame), array("q", self.face_track),
                        array("f", self.face_probs), array("f", self.face_smoothed))

    def probs(self) -> tuple[np.ndarray, np.ndarray]:
        """The raw and the smoothed probabilities, one row per face per frame (float64 copies)."""
        shape = (-1, NUM_EXPRESSIONS)
        return (np.asarray(self.face_probs, np.float64).reshape(shape),
                np.asarray(self.face_smoothed, np.float64).reshape(shape))

    def add_record(self, record: Mapping[str, Any]) -> None:
        try:
            t = float(record["t"])
            faces = record["faces"]
            parsed = []
            for face in faces:
                probs = np.asarray(face["probs"], np.float32)
                smoothed = np.asarray(face.get("smoothed", face["probs"]), np.float32)
                if probs.shape != (NUM_EXPRESSIONS,) or smoothed.shape != (NUM_EXPRESSIONS,):
                    raise RecordError(f"probs and smoothed need {NUM_EXPRESSIONS} values each")
                track = face["track_id"]
                if not isinstance(track, int) or isinstance(track, bool) or not -2**63 <= track < 2**63:
                    raise RecordError(f"track_id must be a 64-bit integer, got {track!r}")
                parsed.append((track, probs, smoothed))
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordError(str(exc) if isinstance(exc, RecordError) else f"missing or bad field {exc}") from None
        if not np.isfinite(t) or (self.t and t < self.t[-1]):
            raise RecordError(f"t = {t} does not follow the previous frame's t = {self.t[-1] if self.t else None}")
        index = len(self.t)
        self.t.append(t)
        for track, probs, smoothed in parsed:
            self.face_frame.append(index)
            self.face_track.append(track)
            self.face_probs.frombytes(probs.tobytes())
            self.face_smoothed.frombytes(smoothed.tobytes())


def frame_durations(t: np.ndarray, nominal_period_s: float) -> np.ndarray:
    """Seconds each frame stands for: the time to the next frame, at most FRAME_GAP_FACTOR nominal periods; the
    last frame gets the nominal period. All 0 for a photo (nominal period 0)."""
    if nominal_period_s <= 0 or len(t) == 0:
        return np.zeros(len(t))
    dt = np.empty(len(t))
    dt[:-1] = np.clip(np.diff(t), 0.0, FRAME_GAP_FACTOR * nominal_period_s)
    dt[-1] = nominal_period_s
    return dt


def nominal_period(t: Sequence[float]) -> float:
    """The typical frame period of a recorded timeline: the median of the positive steps (0 for one frame)."""
    steps = np.diff(np.asarray(t, np.float64))
    steps = steps[steps > 0]
    return float(np.median(steps)) if len(steps) else 0.0


def live_period(t: Sequence[float], stall_s: float = 1.0) -> float:
    """The frame period of a live session's timeline: the mean of its positive steps, leaving out stalls longer than
    ``stall_s`` (a pause, the camera gone). A live loop's steps vary with the load, so their median is the short one
    and every longer step would then be cut as a gap; the mean counts the session's real length."""
    steps = np.diff(np.asarray(t, np.float64))
    steps = steps[(steps > 0) & (steps <= stall_s)]
    return float(np.mean(steps)) if len(steps) else nominal_period(t)


def _bin_index(t: np.ndarray, every_s: float) -> np.ndarray:
    return np.floor(np.asarray(t, np.float64) / every_s + 1e-6).astype(np.int64)


def _pick_moments(t_s: np.ndarray, values: np.ndarray, min_gap_s: float,
                  extra: Sequence[np.ndarray] = ()) -> tuple[Moment, ...]:
    """The highest ``values``, at least ``min_gap_s`` apart, earliest first among equals."""
    chosen: list[int] = []
    for i in np.lexsort((t_s, -values)):
        if len(chosen) == MOMENTS_PER_EXPRESSION:
            break
        if all(abs(t_s[i] - t_s[j]) >= min_gap_s - 1e-9 for j in chosen):
            chosen.append(int(i))
    moments = []
    for i in chosen:
        share = float(extra[0][i]) if len(extra) > 0 else None
        faces = int(extra[1][i]) if len(extra) > 1 else None
        moments.append(Moment(float(t_s[i]), float(values[i]), share, faces))
    return tuple(moments)


def _weighted_mean(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    total = float(np.sum(weights))
    if total <= 0:
        return np.mean(values, axis=0)
    return np.tensordot(weights, values, axes=(0, 0)) / total


def _person(track_id: int, t: np.ndarray, dt: np.ndarray, probs: np.ndarray, smoothed: np.ndarray,
            every_s: float) -> Person:
    weights = dt if float(np.sum(dt)) > 0 else np.ones(len(t))
    dominant = np.argmax(smoothed, axis=1)
    shares = np.bincount(dominant, weights=weights, minlength=NUM_EXPRESSIONS) / float(np.sum(weights))
    mean_probs = _weighted_mean(probs, weights)
    bins = _bin_index(t, every_s)
    unique, inverse = np.unique(bins, return_inverse=True)
    sums = np.zeros((len(unique), NUM_EXPRESSIONS))
    np.add.at(sums, inverse, probs * weights[:, None])
    totals = np.bincount(inverse, weights=weights, minlength=len(unique))
    sample_probs = sums / totals[:, None]
    series = Series(unique * every_s, sample_probs)
    gap = max(MOMENT_GAP_S, every_s)
    moments = {e: _pick_moments(series.t_s, sample_probs[:, e], gap) for e in Expression}
    return Person(track_id=track_id, frames=len(t), visible_s=float(np.sum(dt)), first_s=float(t[0]),
                  last_s=float(t[-1]), shares=shares, mean_probs=mean_probs,
                  mean_valence=float(valence(mean_probs)), moments=moments, series=series)


def _audience(persons: Sequence[Person], first_frame_t: float, last_frame_t: float, every_s: float) -> Audience:
    """Samples from the one holding the first frame to the one holding the last (so "nobody seen" means no face,
    not no frame): a video starts at 0, a live session where its first frame came."""
    first, last = (int(i) for i in _bin_index(np.array([first_frame_t, last_frame_t]), every_s))
    count = last - first + 1
    faces = np.zeros(count, np.int64)
    sums = np.zeros((count, NUM_EXPRESSIONS))
    dominant = np.zeros((count, NUM_EXPRESSIONS))
    for person in persons:
        idx = np.round(person.series.t_s / every_s).astype(np.int64) - first
        faces[idx] += 1
        sums[idx] += person.series.probs
        dominant[idx, person.series.dominant] += 1
    seen = np.maximum(faces, 1)[:, None]
    mean_probs, shares = sums / seen, dominant / seen
    t_s = (first + np.arange(count)) * every_s
    visible = faces > 0
    gap = max(MOMENT_GAP_S, every_s)
    moments = {}
    for e in Expression:
        moments[e] = _pick_moments(t_s[visible], mean_probs[visible, e], gap,
                                   (shares[visible, e], faces[visible])) if visible.any() else ()
    return Audience(t_s, faces, mean_probs, shares, moments)


def summarise_persons(persons: Sequence[Person]) -> Summary:
    """Faces of one recording together, each weighted by the time it was visible (by its frames for a photo)."""
    if not persons:
        return Summary.empty()
    visible = np.array([p.visible_s for p in persons])
    weights = visible if float(visible.sum()) > 0 else np.array([float(p.frames) for p in persons])
    shares = _weighted_mean(np.array([p.shares for p in persons]), weights)
    mean_probs = _weighted_mean(np.array([p.mean_probs for p in persons]), weights)
    return Summary(len(persons), float(visible.sum()), shares, mean_probs, float(valence(mean_probs)))


def analyse_log(log: FrameLog, *, path: str, name: str, kind: str, every_ms: float, nominal_period_s: float,
                min_visible_s: float = 0.0, fps: float | None = None, size_wh: tuple[int, int] | None = None,
                analysis_s: float = 0.0) -> FileResult:
    """The figures of one recording from its frames. ``nominal_period_s`` is 1/fps for a video, 0 for a photo."""
    if every_ms <= 0:
        raise ValueError(f"every_ms must be > 0, got {every_ms}")
    every_s = every_ms / 1000.0
    t = np.asarray(log.t, np.float64)
    dt = frame_durations(t, nominal_period_s)
    duration_s = float(np.sum(dt))
    persons, dropped = [], 0
    if log.face_frame:
        frame_idx = np.asarray(log.face_frame, np.int64)
        tracks = np.asarray(log.face_track, np.int64)
        probs, smoothed = log.probs()
        for track_id in np.unique(tracks):
            rows = np.flatnonzero(tracks == track_id)
            frames = frame_idx[rows]
            if nominal_period_s > 0 and float(np.sum(dt[frames])) < min_visible_s:
                dropped += 1
                continue
            persons.append(_person(int(track_id), t[frames], dt[frames], probs[rows], smoothed[rows], every_s))
    audience = _audience(persons, float(t[0]) if len(t) else 0.0, float(t[-1]) if len(t) else 0.0, every_s)
    return FileResult(path=path, name=name, status="ok", kind=kind, frames=len(t), fps=fps, duration_s=duration_s,
                      size_wh=size_wh, dropped_tracks=dropped, analysis_s=analysis_s,
                      summary=summarise_persons(persons), persons=tuple(persons), audience=audience)


def aggregate(files: Iterable[FileResult], settings: Mapping[str, Any], generator: Mapping[str, str]) -> Report:
    """Put files side by side; the report's summary averages the files that have a face (each counts once)."""
    files = tuple(files)
    with_faces = [f.summary for f in files if f.ok and f.summary.persons]
    if with_faces:
        shares = np.mean([s.shares for s in with_faces], axis=0)
        mean_probs = np.mean([s.mean_probs for s in with_faces], axis=0)
        summary = Summary(sum(s.persons for s in with_faces), sum(s.visible_s for s in with_faces), shares,
                          mean_probs, float(np.mean([s.mean_valence for s in with_faces])))
    else:
        summary = Summary.empty()
    return Report(dict(settings), files, summary, dict(generator))
