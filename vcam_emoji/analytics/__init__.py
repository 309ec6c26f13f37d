"""Emotion analytics: what did the audience feel, and when. An engine library (no UI, no printing).

``vcam-emoji analyze`` and ``vcam-emoji report`` (``analytics/command.py``) are thin layers over this API, and so is
any other front end (the Studio's Session page, a notebook)::

    from vcam_emoji.analytics import (AnalysisSettings, analyse_file, build_report, analyze, read_report,
                                      report_from_timelines, timeline_results, write_report, FrameLog, analyse_log)

    settings = AnalysisSettings(config=load_config(path), every_ms=200)   # config.load_config; models/smoothing
    result = analyse_file("talk.mp4", settings, progress=lambda done, total: ...)   # one file -> FileResult
    report = build_report([result, ...], settings)                       # aggregate -> Report
    write_report(report, "out/")   # an existing folder: report.json, timeline.csv, the PNG plots, report.html
    outcome = analyze(["videos/"], "out/", settings, jobs=2)             # all of it, with --resume/--force rules
    # -> AnalyzeOutcome: .report (None if .interrupted, then .signum), .failed, .written, .reused, .notes
    report = read_report("out/report.json")          # read a report back (checked against the schema) -> Report
    results = timeline_results("meeting.jsonl")  # a live session's timeline (run --timeline) -> FileResult per session
    outcome = report_from_timelines(["meeting.jsonl"], "out/")

For a live chart, feed the frames as they come into a :class:`FrameLog` (``log.add_record(frame_record(result))``,
with ``timeline.frame_record``) and call :func:`analyse_log` on it whenever the chart is redrawn: it is pure and
takes milliseconds for minutes of frames.

Values (``model.py``): a :class:`Report` holds ``settings``, ``files`` (one :class:`FileResult` each, in input
order, failed ones with ``error``) and a :class:`Summary` across files. A file has a ``summary``, ``persons``
(:class:`Person`: ``track_id`` as in ``render --timeline``, ``shares``, ``mean_probs``, ``mean_valence``,
``moments``, ``series`` sampled every ``every_ms``) and an :class:`Audience` (everyone, sample by sample).
``report.json`` is that structure, versioned (``schema_version``) and described by ``report.schema.json`` beside
this file (:data:`SCHEMA_FILE`, version :data:`SCHEMA_VERSION`). How each figure is computed is in ``summarise.py``.
Errors are EmojiCamError (InputError, OutputError) with one message; a bad input file is a failed FileResult.
"""

from __future__ import annotations

import importlib
from typing import Any

# Imported on first use, so that `vcam-emoji --help` (which registers analytics/command.py) stays quick.
_EXPORTS = {
    "AnalyzeOutcome": "batch", "analyze": "batch", "build_report": "batch", "report_from_timelines": "batch",
    "timeline_results": "batch",
    "REPORT_FORMAT": "model", "SCHEMA_FILE": "model", "SCHEMA_VERSION": "model", "Audience": "model",
    "FileResult": "model", "Moment": "model", "Person": "model", "Report": "model", "Series": "model",
    "Summary": "model", "format_time": "model", "read_report": "model", "valence": "model",
    "OUTPUT_NAMES": "outputs", "write_report": "outputs",
    "AnalysisSettings": "runner", "Cancelled": "runner", "analyse_file": "runner", "collect_inputs": "runner",
    "FrameLog": "summarise", "aggregate": "summarise", "analyse_log": "summarise",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
