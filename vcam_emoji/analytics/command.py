"""``vcam-emoji analyze`` and ``vcam-emoji report``: the command-line face of :mod:`vcam_emoji.analytics`.

Registered by ``cli.py`` with :func:`add_parsers`; like the rest of the CLI, errors are EmojiCamError (one message,
exit 1), bad usage exits 2, Ctrl-C 130, SIGTERM 143 (SIGHUP 129). ``analyze`` exits 1 when any input failed (the report lists it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from ..cli_types import float_range, int_range

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="DIR", help="output folder: report.json, timeline.csv, "
                   "shares.png, timeline.png, valence.png, report.html (must be empty or new, unless --force)")
    p.add_argument("--every-ms", type=float_range(10, 3_600_000), default=200.0, metavar="MS",
                   help="sample length: the probabilities over time are averaged over windows of MS milliseconds "
                   "(10..3600000; default 200)")
    p.add_argument("--min-visible-s", type=float_range(0, 3600, note="0 = keep all"), default=0.5, metavar="S",
                   help="leave out faces tracked for less than S seconds, e.g. a passing false detection "
                   "(0..3600, 0 = keep all; default 0.5; photos are never left out)")
    p.add_argument("--force", action="store_true", help="write into an output folder that is not empty (the "
                   "report files there are replaced)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or summary")


def add_parsers(subparsers) -> None:
    """Add ``analyze`` and ``report`` to the ``vcam-emoji`` sub-commands."""
    from ..model_options import add_model_options

    text = ("analyse videos and photos: per face, the share of time in each expression, expressions and valence "
            "over time, the strongest moments; across files side by side and averaged")
    p = subparsers.add_parser("analyze", help=text, description=text + ". Writes report.json (schema: "
                              "vcam_emoji/analytics/report.schema.json), timeline.csv, PNG plots and report.html.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="videos, photos, or folders of them (searched "
                   "recursively)")
    _common(p)
    p.add_argument("--jobs", type=int_range(0, 256, note="0 = one per CPU core"), default=1, metavar="N",
                   help="analyse N files at once in worker processes, each loading the models once (0..256; 0 = "
                   "one per CPU core; default 1)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run the per-file work on an existing Dask distributed "
                   "cluster, e.g. tcp://scheduler-host:8786 (needs the cluster extra: "
                   "pip install \"vcam-emoji[cluster]\"; the workers must see the input files under the same paths)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in the same --out: files "
                   "already analysed there with the same settings are not analysed again")
    p.add_argument("--config", metavar="PATH", help="settings file (detector, classifier, smoothing and runtime "
                   "are used as render uses them; default: the one in your user config folder)")
    add_model_options(p)
    p.set_defaults(func=run_analyze)

    text = ("make the same report from timelines recorded by run --timeline (or render --timeline), e.g. to "
            "review a meeting afterwards")
    p = subparsers.add_parser("report", help=text, description=text + ". A file holding several sessions "
                              "(run appends) gives one recording per session.")
    p.add_argument("timelines", nargs="+", metavar="TIMELINE.jsonl", help="timeline files (one JSON line per frame)")
    _common(p)
    p.set_defaults(func=run_report)


class _Board:
    """One bar for the files and one per file being analysed (tqdm, on stderr; off with -q or without a tty)."""

    def __init__(self, quiet: bool) -> None:
        from tqdm import tqdm

        self._tqdm = tqdm
        self._disable = True if quiet else None
        self._quiet = quiet
        self._lock = threading.Lock()
        self.files = tqdm(desc="files", unit="file", disable=self._disable, file=sys.stderr, position=0)
        self._bars: dict[str, object] = {}

    def start(self, total: int, reused: int) -> None:
        self.files.total = total
        self.files.refresh()

    def progress(self, path: str, done: int | None, total: int | None) -> None:
        with self._lock:
            bar = self._bars.get(path)
            if done is None:
                if bar is not None:
                    bar.close()
                    del self._bars[path]
                return
            if bar is None:
                used = {b.pos for b in self._bars.values()}
                position = next(i for i in range(1, len(self._bars) + 2) if i not in used and -i not in used)
                bar = self._tqdm(desc=Path(path).name[:40], total=total, unit="frame", leave=False,
                                 disable=self._disable, file=sys.stderr, position=position)
                self._bars[path] = bar
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

    def file_done(self, result, reused: bool) -> None:
        self.progress(result.path, None, None)
        with self._lock:
            self.files.update(1)
            if not result.ok and not self._quiet:  # with -q only the list at the end says it
                self._tqdm.write(f"vcam-emoji: failed: {result.error}", file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._bars.clear()
            self.files.close()


def _print_written(outcome, quiet: bool) -> None:
    if quiet or outcome.report is None:
        return
    r = outcome.report
    ok = r.ok_files
    s = r.summary
    seconds = sum(f.duration_s for f in ok)
    dominant = s.dominant.label if s.dominant is not None else "-"
    print(f"{len(ok)} of {len(r.files)} file(s) analysed ({seconds:.1f} s of video), {s.persons} face(s); "
          f"mostly {dominant}, mean valence {s.mean_valence:+.2f}")
    names = ", ".join(p.name for p in outcome.written)
    print(f"wrote {outcome.out_dir}: {names}")
    print(f"open {outcome.out_dir / 'report.html'} in a browser")


def run_analyze(args: argparse.Namespace) -> int:
    from ..cli import load_settings
    from ..errors import EmojiCamError
    from ..model_options import apply_model_options
    from .batch import analyze
    from .runner import AnalysisSettings, cpu_count

    if args.scheduler and args.jobs != 1:
        print("vcam-emoji analyze: --jobs runs worker processes here and --scheduler sends the work to a Dask "
              "cluster; give one of them", file=sys.stderr)
        return EXIT_USAGE
    config, _ = load_settings(args.config)
    config = apply_model_options(config, args)
    try:
        settings = AnalysisSettings(config=config, every_ms=args.every_ms, min_visible_s=args.min_visible_s)
    except ValueError as exc:
        raise EmojiCamError(str(exc)) from None
    jobs = args.jobs or cpu_count()
    board = _Board(args.quiet)
    try:
        outcome = analyze(args.inputs, args.out, settings, jobs=jobs, scheduler=args.scheduler, resume=args.resume,
                          force=args.force, on_progress=board.progress, on_file=board.file_done,
                          on_start=board.start)
    finally:
        board.close()
    for note in outcome.notes:
        print(f"vcam-emoji: note: {note}", file=sys.stderr)
    if outcome.interrupted:
        signum = outcome.signum or signal.SIGINT
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"vcam-emoji: {how}: {outcome.done} of {len(outcome.inputs)} file(s) done and kept in "
              f"{outcome.out_dir / 'files'}; run the same command with --resume to analyse the rest",
              file=sys.stderr)
        return 128 + signum  # 130 for Ctrl-C, 143 for SIGTERM, as for the other commands
    if outcome.reused and not args.quiet:
        print(f"reused {outcome.reused} file(s) analysed earlier in {outcome.out_dir} (--resume)")
    _print_written(outcome, args.quiet)
    failed = outcome.failed
    if failed:
        print(f"vcam-emoji: {len(failed)} file(s) could not be analysed (listed in the report):", file=sys.stderr)
        for f in failed:
            print(f"  {f.error}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def run_report(args: argparse.Namespace) -> int:
    from .batch import report_from_timelines

    outcome = report_from_timelines(args.timelines, args.out, every_ms=args.every_ms,
                                    min_visible_s=args.min_visible_s, force=args.force)
    _print_written(outcome, args.quiet)
    return EXIT_OK
