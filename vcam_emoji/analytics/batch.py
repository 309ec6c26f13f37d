"""Whole runs: analyse inputs into an output folder (``vcam-emoji analyze``), or report on live timelines
(``vcam-emoji report``)."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from . import plots
from .model import FileResult, Report
from .outputs import ResultStore, normalised, prepare_out_dir, write_report
from .runner import AnalysisSettings, OnProgress, collect_inputs, generator_info, run_any
from .summarise import aggregate, analyse_log, live_period
from .timeline_input import read_timeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnalyzeOutcome:
    """What a run did. ``report`` is None when it was interrupted (the finished files are kept in OUT/files);
    ``signum`` then says by what: SIGINT (Ctrl-C), or SIGTERM/SIGHUP (``fileio.Terminated``)."""

    out_dir: Path
    report: Report | None
    inputs: tuple[Path, ...]
    done: int  # files with a result (analysed now or reused)
    reused: int  # files whose earlier result was reused (--resume)
    interrupted: bool
    notes: tuple[str, ...]
    written: tuple[Path, ...] = ()
    signum: int | None = None

    @property
    def failed(self) -> tuple[FileResult, ...]:
        return self.report.failed_files if self.report is not None else ()


def analyze(inputs: Sequence[str | Path], out_dir: str | Path, settings: AnalysisSettings | None = None, *,
            jobs: int = 1, scheduler: str | Any = None, resume: bool = False, force: bool = False,
            on_progress: OnProgress | None = None, on_file: Callable[[FileResult, bool], None] | None = None,
            on_start: Callable[[int, int], None] | None = None) -> AnalyzeOutcome:
    """Analyse videos, photos and folders of them into ``out_dir``; write the report when every file is done.

    ``jobs`` > 1: a local process pool; ``scheduler``: a Dask scheduler address (or ``distributed.Client``).
    ``resume``: reuse the results an interrupted run left in ``out_dir``. ``on_start(total, reused)`` is called
    once the inputs are known; ``on_file(result, reused)`` as each file is done; ``on_progress(path, frames_done,
    frames_total)`` during a file. Ctrl-C (KeyboardInterrupt), SIGTERM or SIGHUP (``fileio.Terminated``, where
    ``fileio.raise_on_termination`` is on) returns an outcome with ``interrupted`` and ``signum`` set.
    Raises EmojiCamError for a bad output folder, bad settings or missing models; a bad input file is only a
    failed entry in the report.
    """
    settings = settings or AnalysisSettings()
    plots.check_available()
    settings_json = settings.to_json()  # resolves the model names: a missing model fails here, before any work
    paths, notes = collect_inputs(inputs)
    out = prepare_out_dir(out_dir, [*inputs, *paths], force=force, resume=resume)
    store = ResultStore(out, settings_json, paths)
    results: dict[Path, FileResult] = {}
    if resume:
        for path in paths:
            earlier = store.load(path)
            if earlier is not None:
                results[path] = earlier
    reused = len(results)
    if on_start is not None:
        on_start(len(paths), reused)
    if on_file is not None:
        for result in results.values():
            on_file(result, True)
    by_name = {str(p): p for p in paths}

    def done(result: FileResult) -> None:
        path = by_name.get(result.path, Path(result.path))
        results[path] = store.save(path, result)
        if on_file is not None:
            on_file(results[path], False)

    todo = [p for p in paths if p not in results]
    try:
        run_any(todo, settings, jobs=jobs, scheduler=scheduler, on_done=done, on_progress=on_progress)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (fileio.Terminated): keep what is finished
        signum = getattr(exc, "signum", signal.SIGINT)
        return AnalyzeOutcome(out, None, tuple(paths), len(results), reused, True, tuple(notes), signum=int(signum))
    report = aggregate([results[p] for p in paths], settings_json, generator_info())
    written = write_report(report, out, replace=force or resume, inputs=paths)
    return AnalyzeOutcome(out, report, tuple(paths), len(results), reused, False, tuple(notes), tuple(written))


def timeline_results(timeline: str | Path, every_ms: float = 200.0, min_visible_s: float = 0.5) -> list[FileResult]:
    """One FileResult per session of a live (or rendered) timeline. Raises InputError for an unusable file."""
    parsed = read_timeline(timeline)
    results = []
    many = len(parsed.sessions) > 1
    for session in parsed.sessions:
        name = parsed.path.name + (f" (session {session.index}, from line {session.first_line})" if many else "")
        period = live_period(session.log.t)
        result = analyse_log(session.log, path=str(parsed.path), name=name, kind="timeline", every_ms=every_ms,
                             nominal_period_s=period, min_visible_s=min_visible_s,
                             fps=1.0 / period if period > 0 else None)
        results.append(normalised(result))
    if parsed.skipped_lines:
        log.warning("%s: skipped %d line(s) that are not frame records (first: line %d, %s)", parsed.path,
                    parsed.skipped_lines, parsed.first_skipped, parsed.first_problem)
    return results


def timeline_settings(every_ms: float, min_visible_s: float) -> dict[str, Any]:
    return {"source": "timeline", "every_ms": float(every_ms), "min_visible_s": float(min_visible_s)}


def report_from_timelines(timelines: Sequence[str | Path], out_dir: str | Path, *, every_ms: float = 200.0,
                          min_visible_s: float = 0.5, force: bool = False) -> AnalyzeOutcome:
    """The same report as ``analyze``, from timelines written by ``run --timeline`` (or ``render --timeline``).
    Raises InputError for a timeline that cannot be used, OutputError for a bad output folder."""
    AnalysisSettings(every_ms=every_ms, min_visible_s=min_visible_s)  # the same checks as analyze
    plots.check_available()
    paths = [Path(t).expanduser() for t in timelines]
    results = [r for path in paths for r in timeline_results(path, every_ms, min_visible_s)]
    out = prepare_out_dir(out_dir, paths, force=force, keep_results=False)
    report = aggregate(results, timeline_settings(every_ms, min_visible_s), generator_info())
    written = write_report(report, out, replace=force, inputs=paths)
    return AnalyzeOutcome(out, report, tuple(paths), len(results), 0, False, (), tuple(written))


def build_report(results: Sequence[FileResult], settings: AnalysisSettings | dict[str, Any]) -> Report:
    """Aggregate already-analysed files (e.g. from :func:`runner.analyse_file`) into a report, without writing."""
    settings_json = settings.to_json() if isinstance(settings, AnalysisSettings) else dict(settings)
    return aggregate([normalised(r) for r in results], settings_json, generator_info())

