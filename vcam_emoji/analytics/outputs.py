"""The output folder: report.json, timeline.csv, the plots, report.html, and ``files/`` (one result per input, kept
as each file finishes, which is what ``--resume`` reads back).

Every file is written through ``fileio`` (a temporary name beside it, renamed when complete, removed on errors and
signals). A folder that is not empty is only written to with ``force`` (or ``resume``); an output never replaces an
input.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import OutputError
from ..fileio import check_output, write_atomic
from ..types import EXPRESSION_LABELS
from . import plots
from .html import report_html
from .model import FileResult, Report, format_time, report_json_text

REPORT_JSON, TIMELINE_CSV, REPORT_HTML = "report.json", "timeline.csv", "report.html"
PLOT_FILES = {"shares": "shares.png", "timeline": "timeline.png", "valence": "valence.png"}
OUTPUT_NAMES = (REPORT_JSON, TIMELINE_CSV, *PLOT_FILES.values(), REPORT_HTML)
RESULTS_DIR = "files"
RESULT_FORMAT = "vcam-emoji-file-result"
CSV_COLUMNS = ("file", "kind", "person", "t_s", "time", *EXPRESSION_LABELS, "valence", "dominant")


def _write(path: Path, data: bytes | str, *, replace: bool, inputs: Sequence[str | Path]) -> None:
    """Under the program's one rule for files (fileio): temporary file + rename, never over an input, and over an
    existing file only with ``replace``."""
    write_atomic(path, data, replace=replace, inputs=inputs, what="report file")


def prepare_out_dir(out_dir: str | Path, inputs: Sequence[str | Path], *, force: bool = False,
                    resume: bool = False, keep_results: bool = True) -> Path:
    """Check and create the output folder. Raises OutputError when it is a file, is not empty (without
    ``force`` or ``resume``), lies inside an input folder, or when an output would replace an input.
    ``keep_results``: also create ``files/`` for the per-input results (analyze; report needs none)."""
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; give --out a folder")
    if out_dir.is_dir() and not (force or resume):
        entries = sorted(p.name for p in out_dir.iterdir())
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise OutputError(f"{out_dir}: the output folder is not empty ({shown}); add --force to write the report "
                              "there (the files it names are replaced), --resume to finish an interrupted run there, "
                              "or choose an empty or new folder")
    resolved_out = out_dir.resolve()
    outputs = {(resolved_out / name) for name in OUTPUT_NAMES}
    for raw in inputs:
        path = Path(raw).expanduser().resolve()
        if path in outputs or path.parent == resolved_out / RESULTS_DIR:
            raise OutputError(f"{raw}: this input would be overwritten by the report in {out_dir}; choose another "
                              "--out")
        if path.is_dir() and (resolved_out == path or path in resolved_out.parents):
            raise OutputError(f"{out_dir}: the output folder is inside the input folder {raw}, so its pictures "
                              "would be analysed next time; choose an --out outside it")
    try:
        (out_dir / RESULTS_DIR if keep_results else out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot create the output folder ({exc.strerror}); choose a writable place") \
            from None
    return out_dir


# ------------------------------------------------------------------------------------------------ per file
class ResultStore:
    """One JSON per input under ``OUT/files/``, written as soon as the file is analysed.

    ``load`` gives the earlier result back only when it is for the same input (path, size and modification time),
    the same settings, and did not fail; otherwise None, and the file is analysed again.
    """

    def __init__(self, out_dir: Path, settings: Mapping[str, Any], inputs: Sequence[str | Path] = ()) -> None:
        self.folder = out_dir / RESULTS_DIR
        self.settings = dict(settings)
        self._inputs = list(inputs)

    def path_for(self, input_path: str | Path) -> Path:
        absolute = str(Path(input_path).expanduser().absolute())
        digest = hashlib.sha1(absolute.encode("utf-8")).hexdigest()[:12]
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(input_path).name)[:60]
        return self.folder / f"{stem}-{digest}.json"

    @staticmethod
    def _fingerprint(input_path: str | Path) -> dict[str, Any]:
        path = Path(input_path).expanduser()
        try:
            st = path.stat()
        except OSError:
            return {"path": str(path.absolute()), "size": None, "mtime_ns": None}
        return {"path": str(path.absolute()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def load(self, input_path: str | Path) -> FileResult | None:
        try:
            data = json.loads(self.path_for(input_path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
            return None
        if data.get("input") != self._fingerprint(input_path) or data.get("settings") != self.settings:
            return None
        try:
            result = FileResult.from_json(data["result"])
        except (KeyError, TypeError, ValueError):
            return None
        return result if result.ok else None

    def save(self, input_path: str | Path, result: FileResult) -> FileResult:
        """Keep ``result``; returns it as read back (rounded as in report.json), so that a resumed run and an
        uninterrupted one give the same report."""
        data = {"format": RESULT_FORMAT, "input": self._fingerprint(input_path), "settings": self.settings,
                "result": result.to_json()}
        self.folder.mkdir(parents=True, exist_ok=True)
        # the program's own file (a result of an earlier, interrupted run of the same folder): replaced
        _write(self.path_for(input_path), json.dumps(data, separators=(",", ":")) + "\n", replace=True,
               inputs=self._inputs)
        return FileResult.from_json(data["result"])


def normalised(result: FileResult) -> FileResult:
    """``result`` as it reads back from JSON (rounded), for reports made without a ResultStore."""
    return FileResult.from_json(json.loads(json.dumps(result.to_json())))


# ------------------------------------------------------------------------------------------------ the report
def timeline_csv_text(report: Report) -> str:
    """One row per face per sample: file, kind, person (track id), t_s, time, the 7 probabilities, valence,
    dominant expression."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.ok_files:
        for p in f.persons:
            series = p.series
            for t, probs, val, dom in zip(series.t_s, series.probs, series.valence, series.dominant):
                writer.writerow([f.path, f.kind, p.track_id, f"{t:.3f}", format_time(t),
                                 *(f"{v:.4f}" for v in probs), f"{val:.4f}", EXPRESSION_LABELS[int(dom)]])
    return buffer.getvalue()


def write_report(report: Report, out_dir: str | Path, *, replace: bool = False,
                 inputs: Sequence[str | Path] = ()) -> list[Path]:
    """Write report.json, timeline.csv, the plots and report.html into ``out_dir`` (which must exist). Returns the
    paths written. ``replace``: files of those names there are replaced (``--force``), else OutputExists; an input
    is never written over. A plot with nothing to show (no video) is not written, and, with ``replace``, an old one
    of that name is removed."""
    out_dir = Path(out_dir)
    for name in OUTPUT_NAMES:  # all checked before any is written, so a refusal leaves the folder as it was
        check_output(out_dir / name, inputs=inputs, replace=replace, what="report file")
    written = []
    pngs = {"shares": plots.shares_png(report), "timeline": plots.timeline_png(report),
            "valence": plots.valence_png(report)}
    for key, name in PLOT_FILES.items():
        target = out_dir / name
        if pngs[key] is None:
            if replace and target.is_file():
                os.unlink(target)  # from an earlier report in this folder (--force): it would not match this one
            continue
        _write(target, pngs[key], replace=replace, inputs=inputs)
        written.append(target)
    for name, text in ((TIMELINE_CSV, timeline_csv_text(report)), (REPORT_HTML, report_html(report, pngs)),
                       (REPORT_JSON, report_json_text(report))):  # report.json last: it says the report is whole
        _write(out_dir / name, text, replace=replace, inputs=inputs)
        written.append(out_dir / name)
    return written
