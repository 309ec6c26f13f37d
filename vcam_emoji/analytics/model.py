"""The analysis results as typed values, and their JSON form (``report.json``, schema in ``report.schema.json``).

Every value here is frozen; series are numpy arrays (one entry per sample). ``to_json`` gives the documented JSON
(floats rounded: probabilities and valence to 4 decimals, times to 3) and ``from_json`` reads it back, so a report
read from disk equals the one that was written, up to that rounding.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import InputError
from ..types import EXPRESSION_LABELS, NUM_EXPRESSIONS, Expression

REPORT_FORMAT = "vcam-emoji-report"
SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("report.schema.json")

# Valence: positive minus negative expressions. Surprise can be either, so it counts as neither (like neutral).
POSITIVE = (Expression.HAPPY,)
NEGATIVE = (Expression.ANGRY, Expression.DISGUST, Expression.FEAR, Expression.SAD)
VALENCE_WEIGHTS = np.array([1.0 if e in POSITIVE else -1.0 if e in NEGATIVE else 0.0 for e in Expression],
                           np.float64)

P_DECIMALS, T_DECIMALS = 4, 3


def valence(probs: np.ndarray) -> np.ndarray:
    """P(positive) - P(negative) for probabilities of shape (..., 7): from -1 (all negative) to +1 (all happy)."""
    return np.asarray(probs, np.float64) @ VALENCE_WEIGHTS


def _r(value: float, decimals: int = P_DECIMALS) -> float:
    return round(float(value), decimals)


def _by_label(values: np.ndarray, decimals: int = P_DECIMALS) -> dict[str, float]:
    return {label: _r(v, decimals) for label, v in zip(EXPRESSION_LABELS, values)}


def _from_labels(data: Mapping[str, Any]) -> np.ndarray:
    return np.array([float(data[label]) for label in EXPRESSION_LABELS], np.float64)


def _columns(matrix: np.ndarray) -> dict[str, list[float]]:
    """(S, 7) -> {label: [S values]}: one column per expression, easy to plot."""
    return {label: [_r(v) for v in matrix[:, k]] for k, label in enumerate(EXPRESSION_LABELS)}


def _from_columns(data: Mapping[str, Any], length: int) -> np.ndarray:
    matrix = np.zeros((length, NUM_EXPRESSIONS), np.float64)
    for k, label in enumerate(EXPRESSION_LABELS):
        matrix[:, k] = data[label]
    return matrix


def format_time(seconds: float) -> str:
    """``mm:ss.s``, or ``h:mm:ss.s`` from one hour on: how a person reads a position in a recording."""
    tenths = int(round(float(seconds) * 10))
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    text = f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"
    return f"{hours}:{text}" if hours else text


@dataclass(frozen=True)
class Moment:
    """A strong moment of one expression: the sample at ``t_s`` (seconds from the start) and its probability."""

    t_s: float
    p: float
    share: float | None = None  # audience moments: the fraction of the visible faces showing it most
    faces: int | None = None  # audience moments: how many faces were visible then

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t_s": _r(self.t_s, T_DECIMALS), "time": format_time(self.t_s), "p": _r(self.p)}
        if self.share is not None:
            out["share"] = _r(self.share)
        if self.faces is not None:
            out["faces"] = int(self.faces)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Moment":
        return cls(float(data["t_s"]), float(data["p"]), data.get("share"), data.get("faces"))


def _moments_json(moments: Mapping[Expression, tuple[Moment, ...]]) -> dict[str, list[dict[str, Any]]]:
    return {e.label: [m.to_json() for m in moments.get(e, ())] for e in Expression}


def _moments_from_json(data: Mapping[str, Any]) -> dict[Expression, tuple[Moment, ...]]:
    return {e: tuple(Moment.from_json(m) for m in data.get(e.label, ())) for e in Expression}


@dataclass(frozen=True)
class Summary:
    """Figures for a group of faces (one file, or the whole report).

    ``shares``: the fraction of the time each expression was the most probable (smoothed) one, sums to 1;
    ``mean_probs``: the mean classifier probabilities; ``mean_valence`` in [-1, 1]; ``visible_s``: face-seconds.
    """

    persons: int
    visible_s: float
    shares: np.ndarray  # (7,)
    mean_probs: np.ndarray  # (7,)
    mean_valence: float

    @classmethod
    def empty(cls) -> "Summary":
        return cls(0, 0.0, np.zeros(NUM_EXPRESSIONS), np.zeros(NUM_EXPRESSIONS), 0.0)

    @property
    def dominant(self) -> Expression | None:
        return Expression(int(np.argmax(self.shares))) if self.persons else None

    def to_json(self) -> dict[str, Any]:
        dominant = self.dominant
        return {"persons": int(self.persons), "visible_s": _r(self.visible_s, T_DECIMALS),
                "shares": _by_label(self.shares), "mean_probs": _by_label(self.mean_probs),
                "mean_valence": _r(self.mean_valence), "dominant": dominant.label if dominant is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Summary":
        return cls(int(data["persons"]), float(data["visible_s"]), _from_labels(data["shares"]),
                   _from_labels(data["mean_probs"]), float(data["mean_valence"]))


@dataclass(frozen=True)
class Series:
    """One face over time: sample ``i`` covers ``[t_s[i], t_s[i] + every_ms)`` and holds the mean probabilities of
    the frames in which the face was seen then (samples where it was not seen are left out)."""

    t_s: np.ndarray  # (S,)
    probs: np.ndarray  # (S, 7)

    @property
    def valence(self) -> np.ndarray:
        return valence(self.probs)

    @property
    def dominant(self) -> np.ndarray:
        return np.argmax(self.probs, axis=1) if len(self.t_s) else np.zeros(0, np.int64)

    def to_json(self) -> dict[str, Any]:
        return {"t_s": [_r(t, T_DECIMALS) for t in self.t_s], "probs": _columns(self.probs),
                "valence": [_r(v) for v in self.valence]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Series":
        t = np.array(data["t_s"], np.float64)
        return cls(t, _from_columns(data["probs"], len(t)))


@dataclass(frozen=True)
class Person:
    """One tracked face of one recording (``track_id`` as in the ``render --timeline`` of the same file)."""

    track_id: int
    frames: int
    visible_s: float
    first_s: float
    last_s: float
    shares: np.ndarray  # (7,), sums to 1
    mean_probs: np.ndarray  # (7,)
    mean_valence: float
    moments: dict[Expression, tuple[Moment, ...]]
    series: Series

    @property
    def label(self) -> str:
        return f"face {self.track_id}"

    @property
    def dominant(self) -> Expression:
        return Expression(int(np.argmax(self.shares)))

    def to_json(self) -> dict[str, Any]:
        return {"track_id": int(self.track_id), "frames": int(self.frames), "visible_s": _r(self.visible_s, T_DECIMALS),
                "first_s": _r(self.first_s, T_DECIMALS), "last_s": _r(self.last_s, T_DECIMALS),
                "shares": _by_label(self.shares), "mean_probs": _by_label(self.mean_probs),
                "mean_valence": _r(self.mean_valence), "dominant": self.dominant.label,
                "moments": _moments_json(self.moments), "samples": self.series.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Person":
        return cls(int(data["track_id"]), int(data["frames"]), float(data["visible_s"]), float(data["first_s"]),
                   float(data["last_s"]), _from_labels(data["shares"]), _from_labels(data["mean_probs"]),
                   float(data["mean_valence"]), _moments_from_json(data["moments"]), Series.from_json(data["samples"]))


@dataclass(frozen=True)
class Audience:
    """Everyone in one recording, sample by sample over the whole duration (also where no face was seen), from the
    sample of the first frame (0 for a video) to that of the last.

    ``faces[i]``: faces seen in sample ``i``; ``mean_probs[i]``: their mean probabilities (all 0 where ``faces`` is
    0); ``dominant_shares[i, k]``: the fraction of those faces for which expression ``k`` was the most probable
    ("60% smiled at 02:14"). ``moments``: per expression, the samples where the audience showed it most.
    """

    t_s: np.ndarray  # (S,)
    faces: np.ndarray  # (S,) int
    mean_probs: np.ndarray  # (S, 7)
    dominant_shares: np.ndarray  # (S, 7)
    moments: dict[Expression, tuple[Moment, ...]]

    @property
    def mean_valence(self) -> np.ndarray:
        return valence(self.mean_probs)

    def to_json(self) -> dict[str, Any]:
        return {"t_s": [_r(t, T_DECIMALS) for t in self.t_s], "faces": [int(n) for n in self.faces],
                "mean_probs": _columns(self.mean_probs), "dominant_shares": _columns(self.dominant_shares),
                "mean_valence": [_r(v) for v in self.mean_valence], "moments": _moments_json(self.moments)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Audience":
        t = np.array(data["t_s"], np.float64)
        return cls(t, np.array(data["faces"], np.int64), _from_columns(data["mean_probs"], len(t)),
                   _from_columns(data["dominant_shares"], len(t)), _moments_from_json(data["moments"]))


@dataclass(frozen=True)
class FileResult:
    """The analysis of one input: a video, a photo, or one session of a live timeline.

    ``status`` is "ok" or "failed" (then ``error`` says why and the figures are empty).
    """

    path: str
    name: str
    status: str
    kind: str  # "video", "photo", "timeline" (a live session's record), or "unknown" for a file that failed early
    error: str | None = None
    frames: int = 0
    fps: float | None = None
    duration_s: float = 0.0
    size_wh: tuple[int, int] | None = None
    dropped_tracks: int = 0  # tracks seen for less than min_visible_s, left out of persons
    analysis_s: float = 0.0  # wall time the analysis took
    summary: Summary = field(default_factory=Summary.empty)
    persons: tuple[Person, ...] = ()
    audience: Audience | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def failed(cls, path: str, error: str, kind: str = "unknown", analysis_s: float = 0.0) -> "FileResult":
        return cls(path=path, name=Path(path).name, status="failed", kind=kind, error=error, analysis_s=analysis_s)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "name": self.name, "status": self.status, "kind": self.kind}
        if not self.ok:
            out["error"] = self.error
            return out
        out.update({
            "frames": int(self.frames), "fps": None if self.fps is None else _r(self.fps, T_DECIMALS),
            "duration_s": _r(self.duration_s, T_DECIMALS),
            "size_wh": None if self.size_wh is None else [int(v) for v in self.size_wh],
            "dropped_tracks": int(self.dropped_tracks), "analysis_s": _r(self.analysis_s, T_DECIMALS),
            "summary": self.summary.to_json(), "persons": [p.to_json() for p in self.persons],
            "audience": self.audience.to_json() if self.audience is not None else None,
        })
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FileResult":
        if data["status"] != "ok":
            return cls(path=data["path"], name=data["name"], status=data["status"], kind=data["kind"],
                       error=data.get("error"))
        size = data.get("size_wh")
        audience = data.get("audience")
        return cls(path=data["path"], name=data["name"], status="ok", kind=data["kind"], frames=int(data["frames"]),
                   fps=data.get("fps"), duration_s=float(data["duration_s"]),
                   size_wh=tuple(size) if size is not None else None, dropped_tracks=int(data["dropped_tracks"]),
                   analysis_s=float(data.get("analysis_s", 0.0)), summary=Summary.from_json(data["summary"]),
                   persons=tuple(Person.from_json(p) for p in data["persons"]),
                   audience=Audience.from_json(audience) if audience is not None else None)


@dataclass(frozen=True)
class Report:
    """A whole report: the settings it was made with, every file side by side, and the figures across files.

    ``summary`` averages the files that have at least one face, each file counting once (a file's own summary
    weighs its faces by the time they were visible); ``summary.persons`` and ``visible_s`` are totals.
    """

    settings: dict[str, Any]
    files: tuple[FileResult, ...]
    summary: Summary
    generator: dict[str, str]

    @property
    def ok_files(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if f.ok)

    @property
    def failed_files(self) -> tuple[FileResult, ...]:
        return tuple(f for f in self.files if not f.ok)

    def to_json(self) -> dict[str, Any]:
        ok = self.ok_files
        summary = {
            "files": len(self.files), "files_ok": len(ok), "files_failed": len(self.files) - len(ok),
            "duration_s": _r(sum(f.duration_s for f in ok), T_DECIMALS), **self.summary.to_json(),
        }
        return {
            "format": REPORT_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "generator": dict(self.generator),
            "expressions": list(EXPRESSION_LABELS),
            "valence": {"positive": [e.label for e in POSITIVE], "negative": [e.label for e in NEGATIVE]},
            "settings": dict(self.settings),
            "summary": summary,
            "files": [f.to_json() for f in self.files],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Report":
        return cls(dict(data["settings"]), tuple(FileResult.from_json(f) for f in data["files"]),
                   Summary.from_json(data["summary"]), dict(data["generator"]))


def report_json_text(report: Report) -> str:
    return json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n"


@functools.cache
def schema_validator():
    """The JSON Schema validator of report.json (``report.schema.json``, shipped beside this module; read once)."""
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def read_report(path: str | Path) -> Report:
    """Read a ``report.json`` written by ``vcam-emoji analyze`` or ``report``, checked against its schema.
    Raises InputError naming what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON report ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
        raise InputError(f"{path}: not an Emoji Cam report (no \"format\": \"{REPORT_FORMAT}\")")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: report schema version {data.get('schema_version')!r}; this vcam-emoji reads "
                         f"version {SCHEMA_VERSION} (re-run analyze or report with this version)")
    from jsonschema.exceptions import best_match

    error = best_match(schema_validator().iter_errors(data))  # looks inside oneOf for the error that matters
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "the top level"
        raise InputError(f"{path}: the report is incomplete or damaged at {where}: {error.message[:200]}; make it "
                         "again with vcam-emoji analyze or report") from None
    try:
        return Report.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: the report is incomplete or damaged ({exc!r})") from None
