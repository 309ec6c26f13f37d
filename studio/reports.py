"""The Session page's reports: the reports made by ``vcam-emoji analyze`` / ``report`` (:mod:`vcam_emoji.analytics`),
and a report of the live session, made through the same library.

Where the Studio looks, and what it reads (nothing else):

* its own reports folder, :func:`reports_dir` (``reports`` beside the user packs folder, e.g.
  ``~/.local/share/vcam-emoji/reports`` on Linux): the reports made on the Session page go there, one folder each;
  ``vcam-emoji analyze ... --out`` a folder inside it, and the report is listed too;
* the folders the user adds on the page (kept in ``folders.json`` in that reports folder): each is a report folder
  (it holds ``report.json``) or a folder of report folders (its direct subfolders that hold one).

In those folders the Studio reads only the report files (:data:`vcam_emoji.analytics.OUTPUT_NAMES`: report.json,
report.html, timeline.csv and the plots), plain files only (no links), and only ``report.json`` up to
:data:`MAX_REPORT_BYTES`; each is checked against the report schema by ``read_report``. The page names a report by
an id the server gave it (a hash of its folder), never by a path, and ``report.html`` is served inside a CSP
sandbox (no scripts, no access to the Studio's origin, images only from inside the page).

The live session: :class:`SessionLog` is an engine frame listener that keeps what the analytics library needs of
each frame (a :class:`vcam_emoji.analytics.FrameLog`, 8 bytes a frame and 80 a face a frame, measured 83 with
tracemalloc; at most :data:`MAX_FRAMES`, about 35 MB for one face); "Make a report" analyses a copy with
``analyse_log`` (the frame period: the mean step between frames, as the live loop's pace varies with the load) and
writes report.json, timeline.csv, the plots and report.html with
``write_report`` into a new hidden folder in the reports folder, renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import anyio
import numpy as np
import platformdirs
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from vcam_emoji.analytics.outputs import OUTPUT_NAMES
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.packs import APP_NAME
from vcam_emoji.timeline import frame_record
from vcam_emoji.types import EXPRESSION_LABELS, FrameResult

from .limits import MiB, ApiError, read_json

log = logging.getLogger(__name__)

MAX_REPORT_BYTES = 64 * MiB
MAX_FOLDERS = 32
MAX_REPORTS = 500
MAX_FRAMES = 4 * 3600 * 30  # four hours at 30 fps
FOLDERS_FILE = "folders.json"
EVERY_MS = 200.0
MIN_VISIBLE_S = 0.5
REPORT_NAMES = OUTPUT_NAMES  # report.json, timeline.csv, the plots, report.html
MEDIA_TYPES = {".json": "application/json", ".html": "text/html; charset=utf-8", ".csv": "text/csv; charset=utf-8",
               ".png": "image/png"}
# report.html is a page of its own: no script at all, and (sandbox) not of the Studio's origin, so it cannot use the
# Studio's cookie or read the API whatever it contains
REPORT_CSP = b"sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def reports_dir() -> Path:
    """The Studio's own reports folder (not created until a report is made there)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "reports"


def report_id(folder: Path) -> str:
    return hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def analytics_problem(plotting: str = "matplotlib") -> str:
    """Why a report cannot be made here ("" when it can): the plots need matplotlib (the analytics extra)."""
    if importlib.util.find_spec(plotting) is None:
        return 'the report\'s plots need matplotlib: pip install "vcam-emoji[analytics]"'
    return ""


# ------------------------------------------------------------------------------------------------- the live log
class SessionLog:
    """What the analytics library needs of each frame of the live session (an engine frame listener)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 max_frames: int = MAX_FRAMES) -> None:
        from vcam_emoji.analytics import FrameLog

        self._clock = clock
        self._t0 = clock()
        self.started_wall = wall()
        self._wall = wall
        self._max_frames = max_frames
        self._log = FrameLog()
        self._lock = threading.Lock()
        self.full = False

    def __call__(self, frame: np.ndarray, result: FrameResult | None) -> None:  # the engine thread
        if result is None or self.full:
            return  # a placeholder (camera unavailable, paused), or the log is full
        from vcam_emoji.analytics.summarise import RecordError

        record = frame_record(result)
        with self._lock:
            if len(self._log) >= self._max_frames:
                self.full = True
                log.warning("the live session's record is full (%d frames); later frames are not in its report",
                            self._max_frames)
                return
            record["t"] = max(self._clock() - self._t0, self._log.t[-1] if len(self._log) else 0.0)
            try:
                self._log.add_record(record)
            except RecordError as exc:  # a value that is not a number: this frame is left out
                log.debug("frame left out of the session log: %s", exc)

    def snapshot(self):
        """A copy of the log so far (the engine keeps adding to the original)."""
        with self._lock:
            return self._log.copy()

    @property
    def frames(self) -> int:
        with self._lock:
            return len(self._log)


# ----------------------------------------------------------------------------------------------- reports on disk
@dataclass(frozen=True)
class ReportEntry:
    id: str
    folder: Path
    root: Path  # the folder it was found in (the Studio's own, or one the user added)
    summary: dict
    files: list[dict]
    settings: dict
    made: float  # report.json's modification time
    has_html: bool


class ReportShelf:
    """The reports in the Studio's reports folder and in the folders the user added (see the module doc)."""

    def __init__(self, root: Callable[[], Path] = reports_dir) -> None:
        self._root = root
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple, ReportEntry | str]] = {}

    @property
    def root(self) -> Path:
        return self._root()

    # --- folders the user added
    def folders(self) -> list[Path]:
        path = self.root / FOLDERS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.warning("%s cannot be read (%s); no added report folders", path, exc)
            return []
        if not isinstance(data, dict) or not isinstance(data.get("folders"), list):
            return []
        return [Path(p) for p in data["folders"] if isinstance(p, str) and os.path.isabs(p)][:MAX_FOLDERS]

    def _save_folders(self, folders: list[Path]) -> None:
        from vcam_emoji.fileio import write_atomic

        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ApiError(500, f"cannot create the reports folder {root}: {exc.strerror or exc}") from None
        text = json.dumps({"folders": [str(p) for p in folders]}, indent=1) + "\n"
        try:
            write_atomic(root / FOLDERS_FILE, text, replace=True, what="the list of report folders")
        except EmojiCamError as exc:
            raise ApiError(500, str(exc)) from None

    def add_folder(self, text: object) -> Path:
        if not isinstance(text, str) or not text.strip():
            message = "\"path\" is needed: the folder that holds the report (or report folders)"
            raise ApiError(400, message, {"path": message})
        folder = Path(text.strip()).expanduser()
        if not folder.is_absolute():
            message = f"{text!r} is not a full path; give it from the top (e.g. /home/you/reports)"
            raise ApiError(400, message, {"path": message})
        try:
            folder = folder.resolve(strict=True)
        except (OSError, RuntimeError):
            message = f"{folder} does not exist; check the path"
            raise ApiError(400, message, {"path": message}) from None
        if not folder.is_dir():
            message = f"{folder} is a file, not a folder; give the folder that holds report.json"
            raise ApiError(400, message, {"path": message})
        with self._lock:
            folders = self.folders()
            own = self.root.resolve() if self.root.exists() else self.root
            if folder in folders or folder == own:
                message = f"{folder} is in the list already"
                raise ApiError(409, message, {"path": message})
            if len(folders) >= MAX_FOLDERS:
                raise ApiError(409, f"{MAX_FOLDERS} folders are in the list already; remove one first",
                               {"path": "too many folders"})
            if not self._reports_in(folder):
                message = (f"{folder} holds no report (no report.json in it or in its folders); make one with "
                           f"vcam-emoji analyze ... --out {folder}")
                raise ApiError(400, message, {"path": message})
            self._save_folders([*folders, folder])
        return folder

    def remove_folder(self, text: object) -> Path:
        with self._lock:
            folders = self.folders()
            match = [p for p in folders if str(p) == text]
            if not match:
                raise ApiError(404, f"{text!r} is not in the list of report folders")
            self._save_folders([p for p in folders if p != match[0]])
        return match[0]

    # --- reading
    @staticmethod
    def _reports_in(folder: Path) -> list[Path]:
        """``folder`` itself if it holds report.json, else its direct subfolders that do (plain files only)."""
        def holds(path: Path) -> bool:
            report = path / "report.json"
            return not path.is_symlink() and report.is_file() and not report.is_symlink()

        try:
            if holds(folder):
                return [folder]
            return sorted((p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir() and holds(p)),
                          key=lambda p: p.name)[:MAX_REPORTS]
        except OSError:
            return []

    def _read(self, folder: Path, root: Path) -> ReportEntry | str:
        from vcam_emoji.analytics import read_report

        report_json = folder / "report.json"
        try:
            st = report_json.stat()
        except OSError as exc:
            return f"{report_json}: {exc.strerror or exc}"
        signature = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache.get(folder)
        if cached is not None and cached[0] == signature:
            return cached[1]
        if st.st_size > MAX_REPORT_BYTES:
            entry: ReportEntry | str = (f"{report_json}: {st.st_size / MiB:.0f} MiB, more than the Studio reads "
                                        f"({MAX_REPORT_BYTES // MiB} MiB); open its report.html yourself")
        else:
            try:
                data = read_report(report_json).to_json()
            except EmojiCamError as exc:
                entry = str(exc)
            else:
                files = [{"name": f["name"], "kind": f["kind"], "status": f["status"],
                          **({"error": f.get("error")} if f["status"] != "ok" else
                             {"duration_s": f["duration_s"], "persons": f["summary"]["persons"],
                              "dominant": f["summary"]["dominant"]})} for f in data["files"]]
                html = folder / "report.html"
                entry = ReportEntry(report_id(folder), folder, root, data["summary"], files, data["settings"],
                                    st.st_mtime, html.is_file() and not html.is_symlink())
        self._cache[folder] = (signature, entry)
        return entry

    def entries(self) -> tuple[list[ReportEntry], list[str]]:
        """Every report found (newest first) and what could not be read."""
        roots = [self.root, *self.folders()]
        found: list[ReportEntry] = []
        problems: list[str] = []
        seen: set[Path] = set()
        with self._lock:
            for root in roots:
                if not root.exists():
                    if root != self.root:
                        problems.append(f"{root}: the folder is not there any more (remove it from the list, or put "
                                        "it back)")
                    continue
                for folder in self._reports_in(root):
                    if folder in seen:
                        continue
                    seen.add(folder)
                    entry = self._read(folder, root)
                    (found.append if isinstance(entry, ReportEntry) else problems.append)(entry)
        found.sort(key=lambda e: e.made, reverse=True)
        return found, problems

    def find(self, rid: str) -> ReportEntry:
        for entry in self.entries()[0]:
            if entry.id == rid:
                return entry
        raise ApiError(404, f"no report {rid!r} here now; reload the Session page")

    def file(self, rid: str, name: str) -> tuple[bytes, str]:
        """One report file's bytes and media type (only the report files, plain files inside the report folder)."""
        if name not in REPORT_NAMES:
            raise ApiError(400, f"{name!r} is not a report file; one of {', '.join(REPORT_NAMES)}")
        entry = self.find(rid)
        path = entry.folder / name
        if path.is_symlink() or not path.is_file() or path.resolve().parent != entry.folder.resolve():
            raise ApiError(404, f"the report in {entry.folder} has no {name}")
        try:
            if path.stat().st_size > MAX_REPORT_BYTES:
                raise ApiError(413, f"{path} is larger than {MAX_REPORT_BYTES // MiB} MiB; open it yourself")
            return path.read_bytes(), MEDIA_TYPES[path.suffix]
        except OSError as exc:
            raise ApiError(500, f"cannot read {path}: {exc.strerror or exc}") from None

    # --- making one from the live session
    def make_session_report(self, session: SessionLog, config, size_wh: tuple[int, int],
                            now: Callable[[], datetime] = datetime.now) -> ReportEntry:
        from vcam_emoji.analytics import analyse_log, build_report, write_report
        from vcam_emoji.analytics.summarise import live_period

        problem = analytics_problem()
        if problem:
            raise ApiError(503, f"no report can be made here: {problem}")
        frames = session.snapshot()
        if len(frames) < 2:
            raise ApiError(409, "the live session has no frames yet; wait until the Live picture runs")
        period = live_period(frames.t)  # the same frame period as vcam-emoji report gives a live timeline
        started = datetime.fromtimestamp(session.started_wall)
        made = now()
        name = f"Live session {started:%Y-%m-%d %H:%M}–{made:%H:%M}"
        result = analyse_log(frames, path=f"studio-live-session-{started:%Y%m%d-%H%M%S}", name=name, kind="timeline",
                             every_ms=EVERY_MS, nominal_period_s=period, min_visible_s=MIN_VISIBLE_S,
                             fps=1.0 / period if period > 0 else None, size_wh=tuple(size_wh))
        smoothing = config.smoothing
        settings = {"source": "timeline", "every_ms": EVERY_MS, "min_visible_s": MIN_VISIBLE_S,
                    "detector": str(config.detector.model), "classifier": str(config.classifier.model),
                    "smoothing": {"time_constant_ms": float(smoothing.time_constant_ms),
                                  "switch_margin": float(smoothing.switch_margin),
                                  "min_hold_ms": float(smoothing.min_hold_ms)}}
        report = build_report([result], settings)
        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".session-", suffix=".new", dir=root))
            staging.chmod(0o755)
        except OSError as exc:
            raise ApiError(500, f"cannot write in the reports folder {root}: {exc.strerror or exc}") from None
        try:
            try:
                write_report(report, staging)
            except EmojiCamError as exc:
                raise ApiError(500, f"the report could not be written: {exc}") from None
            final = None
            for n in range(1, 100):
                candidate = root / (f"session-{made:%Y%m%d-%H%M%S}" + (f"-{n}" if n > 1 else ""))
                if candidate.exists() or candidate.is_symlink():
                    continue
                try:
                    os.rename(staging, candidate)
                except OSError:
                    continue
                final = candidate
                break
            if final is None:
                raise ApiError(500, f"no free folder name for the report in {root}")
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        log.info("Studio wrote a report of the live session to %s", final)
        entry = self._read(final, root)
        if not isinstance(entry, ReportEntry):
            raise ApiError(500, f"the report just written cannot be read back: {entry}")
        return entry


# --------------------------------------------------------------------------------------------------------- routes
def _entry_json(entry: ReportEntry, own: Path) -> dict:
    base = f"/api/v1/reports/file?id={entry.id}&name="
    return {
        "id": entry.id, "folder": str(entry.folder), "found_in": str(entry.root), "own": entry.root == own,
        "made_at": entry.made, "summary": entry.summary, "files": entry.files,
        "source": entry.settings.get("source"),
        "html": base + "report.html" if entry.has_html else None, "json": base + "report.json",
        "csv": base + "timeline.csv",
    }


def _state(request: Request):
    return request.app.state.studio


async def get_reports(request: Request) -> Response:
    state = _state(request)
    shelf = state.reports
    entries, problems = await anyio.to_thread.run_sync(shelf.entries)
    own = shelf.root
    return JSONResponse({
        "folder": str(own), "folders": [str(p) for p in shelf.folders()],
        "reports": [_entry_json(e, own) for e in entries], "problems": problems,
        "expressions": list(EXPRESSION_LABELS),
        "session": {"frames": state.session_log.frames, "full": state.session_log.full,
                    "started_at": state.session_log.started_wall},
        "can_make": not analytics_problem(), "why_not": analytics_problem(),
    })


async def post_session_report(request: Request) -> Response:
    state = _state(request)
    entry = await anyio.to_thread.run_sync(state.reports.make_session_report, state.session_log, state.engine.config,
                                           state.engine.size_wh)
    return JSONResponse({"report": _entry_json(entry, state.reports.root)}, status_code=201)


async def post_report_folder(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    folder = await anyio.to_thread.run_sync(state.reports.add_folder, body.get("path"))
    return JSONResponse({"added": str(folder), "folders": [str(p) for p in state.reports.folders()]},
                        status_code=201)


async def post_report_folder_remove(request: Request) -> Response:
    state = _state(request)
    body = await read_json(request)
    folder = await anyio.to_thread.run_sync(state.reports.remove_folder, body.get("path"))
    return JSONResponse({"removed": str(folder), "folders": [str(p) for p in state.reports.folders()]})


async def get_report_file(request: Request) -> Response:
    state = _state(request)
    rid, name = request.query_params.get("id"), request.query_params.get("name", "report.html")
    if not rid:
        raise ApiError(400, "id= is needed: the report's id from GET /api/v1/reports")
    data, media_type = await anyio.to_thread.run_sync(state.reports.file, rid, name)
    headers = {"Cache-Control": "no-store"}
    if name == "report.html":
        headers["Content-Security-Policy"] = REPORT_CSP.decode("ascii")
    elif name.endswith((".csv", ".json")):
        headers["Content-Disposition"] = f'inline; filename="{name}"'
    return Response(data, media_type=media_type, headers=headers)
