"""Analyse files: one in this process, many in a process pool, or on a Dask distributed cluster.

The per-file work is :func:`analyse_file`: the render pipeline (same models, tracker, smoothing and frame times as
``vcam-emoji render``) without drawing, its per-frame records fed to :func:`summarise.analyse_log`. A worker
process (or Dask worker thread) loads the models once, on its first file, and keeps them for the next ones.

Progress and Ctrl-C: ``analyse_file`` calls ``progress(frames_done, frames_total)`` after each frame; the hook may
raise :class:`Cancelled` to stop. The pool and Dask runners forward those calls to the caller's ``on_progress``
and hand each finished file to ``on_done`` as soon as it is finished, so an interrupted run keeps what was done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue as queue_module
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from .. import __version__
from ..app import LoadedModels, classifier_spec, detector_spec, load_models, smoothing_params
from ..config import Config
from ..errors import EmojiCamError, InputError
from ..pipeline import Pipeline
from ..smooth import ExpressionSmoother
from ..source.image import IMAGE_SUFFIXES, ImageSource, is_image_path
from ..source.video_file import VideoFileSource
from ..timeline import frame_record
from ..track import Tracker
from .model import FileResult
from .summarise import FrameLog, analyse_log

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".wmv", ".mpg", ".mpeg", ".flv",
                            ".3gp", ".ts", ".mts", ".ogv"})
MEDIA_SUFFIXES = VIDEO_SUFFIXES | IMAGE_SUFFIXES
PROGRESS_EVERY_S = 0.2  # how often a worker reports per-file progress to the parent

ProgressHook = Callable[[int, "int | None"], None]
OnProgress = Callable[[str, int, "int | None"], None]  # (path, frames done, frames total or None)
OnDone = Callable[[FileResult], None]


class Cancelled(Exception):
    """Raised by a progress hook to stop the analysis of a file (Ctrl-C)."""


@dataclass(frozen=True)
class AnalysisSettings:
    """What decides the figures: the models, detector and smoothing settings of ``config`` (as ``render`` uses
    them), the sample window ``every_ms``, and ``min_visible_s`` (shorter tracks are left out)."""

    config: Config = field(default_factory=Config)
    every_ms: float = 200.0
    min_visible_s: float = 0.5

    def __post_init__(self) -> None:
        if not 10 <= self.every_ms <= 3_600_000:
            raise ValueError(f"every_ms must be between 10 and 3600000 milliseconds, got {self.every_ms:g}")
        if not 0 <= self.min_visible_s <= 3600:
            raise ValueError(f"min_visible_s must be between 0 and 3600 seconds, got {self.min_visible_s:g}")

    def to_json(self) -> dict[str, Any]:
        """The settings as written in report.json (model names resolved: "auto" -> the bundled model used)."""
        c = self.config
        return {
            "source": "analyze",
            "every_ms": float(self.every_ms),
            "min_visible_s": float(self.min_visible_s),
            "detector": detector_spec(c.detector.model, "video").name,
            "classifier": classifier_spec(c.classifier.model).name,
            "detector_min_score": c.detector.min_score,
            "detect_every_n_frames": c.detector.every_n_frames,
            "smoothing": {"time_constant_ms": c.smoothing.time_constant_ms,
                          "switch_margin": c.smoothing.switch_margin, "min_hold_ms": c.smoothing.min_hold_ms},
            "execution_provider": c.runtime.execution_provider,
            "threads": c.runtime.threads,
        }


def generator_info() -> dict[str, str]:
    return {"program": "vcam-emoji", "version": __version__}


# ------------------------------------------------------------------------------------------------------- inputs
def collect_inputs(inputs: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """Files to analyse, in order: each file as given, and the videos and photos found in each folder (sorted,
    recursively, hidden ones left out). Duplicates are dropped. A missing path is kept, so it is reported as
    failed. Returns (files, notes about what was left out)."""
    files: list[Path] = []
    notes: list[str] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for raw in inputs:
        path = Path(raw).expanduser()
        if not path.is_dir():
            add(path)
            continue
        found, other = [], 0
        for child in sorted(path.rglob("*")):
            if any(part.startswith(".") for part in child.relative_to(path).parts) or not child.is_file():
                continue
            if child.suffix.lower() in MEDIA_SUFFIXES:
                found.append(child)
            else:
                other += 1
        if not found:
            notes.append(f"{path}: no video or photo in this folder ({', '.join(sorted(MEDIA_SUFFIXES))})")
        elif other:
            notes.append(f"{path}: left out {other} file(s) that are not videos or photos by their name")
        for child in found:
            add(child)
    return files, notes


# ------------------------------------------------------------------------------------------------ one file
class NullCompositor:
    """Draws nothing: analysis needs the pipeline's decisions, not the picture."""

    def compose(self, frame_bgr: np.ndarray, faces: object, pack: object) -> np.ndarray:
        return frame_bgr


def fresh_pipeline(models: LoadedModels, config: Config) -> Pipeline:
    """A pipeline as ``render`` builds it (same models and settings, new tracker and smoother), without drawing."""
    return Pipeline(detector=models.detector, classifier=models.classifier, compositor=NullCompositor(), pack=None,
                    tracker=Tracker(), smoother=ExpressionSmoother(smoothing_params(config.smoothing)),
                    detect_every=config.detector.every_n_frames)


_local = threading.local()  # per process (pool worker) or per thread (Dask worker): the loaded models


def cached_models(config: Config) -> LoadedModels:
    """The models for ``config``, loaded on the first call in this process/thread and kept for the next files."""
    cache: dict[tuple, LoadedModels] = getattr(_local, "models", None) or {}
    _local.models = cache
    key = (config.detector, config.classifier, config.runtime)
    if key not in cache:
        cache[key] = load_models(config, purpose="video")
    return cache[key]


def analyse_file(path: str | Path, settings: AnalysisSettings, progress: ProgressHook | None = None,
                 models: LoadedModels | None = None) -> FileResult:
    """Analyse one video or photo. A file that cannot be analysed gives a failed FileResult saying why (never an
    exception), except :class:`Cancelled` from ``progress``."""
    path = Path(path)
    started = time.perf_counter()
    kind = "photo" if is_image_path(path) else "video"
    source = None
    try:
        if not path.is_file():
            raise InputError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
        models = models or cached_models(settings.config)
        pipeline = fresh_pipeline(models, settings.config)
        source = ImageSource(path) if kind == "photo" else VideoFileSource(path)
        total = 1 if kind == "photo" else source.frame_count_hint
        fps = source.fps
        width, height = source.size_wh
        frames = FrameLog()
        while (frame := source.read()) is not None:
            if frame.shape[:2] != (height, width):
                raise InputError(f"{path}: frame {len(frames)} is {frame.shape[1]}x{frame.shape[0]}, the video "
                                 f"started at {width}x{height}")
            _, result = pipeline.process(frame, len(frames) / fps)
            frames.add_record(frame_record(result))  # exactly the line render --timeline writes
            if progress is not None:
                progress(len(frames), total)
        return analyse_log(frames, path=str(path), name=path.name, kind=kind, every_ms=settings.every_ms,
                           nominal_period_s=0.0 if kind == "photo" else 1.0 / fps,
                           min_visible_s=settings.min_visible_s, fps=None if kind == "photo" else fps,
                           size_wh=(width, height), analysis_s=time.perf_counter() - started)
    except Cancelled:
        raise
    except EmojiCamError as exc:
        return FileResult.failed(str(path), str(exc), kind, time.perf_counter() - started)
    except (cv2.error, ValueError, OSError, MemoryError) as exc:
        log.debug("analysis of %s failed", path, exc_info=True)
        return FileResult.failed(str(path), f"{path}: cannot be analysed ({type(exc).__name__}: {exc})", kind,
                                 time.perf_counter() - started)
    finally:
        if source is not None:
            source.close()


class _Throttled:
    """A progress hook that passes on at most one call per ``every_s`` (and always the last frame's) and checks
    ``stopped`` at the same pace."""

    def __init__(self, send: Callable[[int, int | None], None], stopped: Callable[[], bool], every_s: float) -> None:
        self._send, self._stopped, self._every_s = send, stopped, every_s
        self._next = 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now >= self._next or (total is not None and done >= total):
            self._next = now + self._every_s
            if self._stopped():
                raise Cancelled()
            self._send(done, total)


# ------------------------------------------------------------------------------------------------ local runs
def run_serial(paths: Sequence[Path], settings: AnalysisSettings, on_done: OnDone,
               on_progress: OnProgress | None = None) -> None:
    """Analyse in this process, one file after the other. Ctrl-C (KeyboardInterrupt) stops between two frames."""
    for path in paths:
        hook = None
        if on_progress is not None:
            hook = (lambda p: lambda done, total: on_progress(str(p), done, total))(path)
        on_done(analyse_file(path, settings, hook))


# Set in each pool worker by _pool_init (a spawned process of our own): how to report progress and see Ctrl-C.
_pool_state: dict[str, Any] = {}


def _pool_init(stop_event: Any, progress_queue: Any) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it sets stop_event
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # a corrupt file is a FileResult saying so, not FFmpeg noise
    _pool_state.update(stop=stop_event, queue=progress_queue)


def _pool_task(path: Path, settings: AnalysisSettings) -> FileResult:
    stop, progress_queue = _pool_state["stop"], _pool_state["queue"]
    hook = _Throttled(lambda done, total: progress_queue.put((str(path), done, total)), stop.is_set, PROGRESS_EVERY_S)
    try:
        return analyse_file(path, settings, hook)
    finally:
        progress_queue.put((str(path), None, None))  # this file is over: its bar can go


def _drain(progress_queue: Any, on_progress: OnProgress | None, finished: threading.Event) -> None:
    """Pass the workers' progress on until ``finished`` is set and the queue is empty."""
    while True:
        try:
            path, done, total = progress_queue.get(timeout=0.1)
        except queue_module.Empty:
            if finished.is_set():
                return
            continue
        except (EOFError, OSError, ValueError):  # the queue was closed
            return
        if on_progress is not None:
            on_progress(path, done, total)


def run_pool(paths: Sequence[Path], settings: AnalysisSettings, jobs: int, on_done: OnDone,
             on_progress: OnProgress | None = None) -> None:
    """Analyse in ``jobs`` worker processes (each loads the models once). On Ctrl-C the workers stop at their next
    frame, the files not started are dropped, and KeyboardInterrupt is raised again once the pool is down."""
    context = multiprocessing.get_context("spawn")  # no fork of a parent with onnxruntime or tqdm threads
    stop, progress_queue = context.Event(), context.Queue()
    finished = threading.Event()
    drainer = threading.Thread(target=_drain, args=(progress_queue, on_progress, finished), name="progress",
                               daemon=True)
    drainer.start()
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_pool_init,
                                   initargs=(stop, progress_queue))
    try:
        pending: set[Future] = {executor.submit(_pool_task, path, settings) for path in paths}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    on_done(future.result())
        except KeyboardInterrupt:
            stop.set()
            for future in pending:
                future.cancel()
            raise
        except Cancelled:  # pragma: no cover - only raised in workers
            raise KeyboardInterrupt from None
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
        finished.set()
        drainer.join(timeout=5.0)
        progress_queue.close()


# ------------------------------------------------------------------------------------------------ Dask
CLUSTER_HINT = 'pip install "vcam-emoji[cluster]" (dask[distributed]) on this machine and on the workers of the cluster'


def _dask_task(path: str, settings: AnalysisSettings, queue_name: str, event_name: str) -> dict[str, Any]:
    """Runs on a Dask worker: the same per-file work as the local runs. Returns the result's JSON (plain data)."""
    from distributed import Event, Queue

    progress_queue, stop = Queue(queue_name), Event(event_name)
    hook = _Throttled(lambda done, total: progress_queue.put((path, done, total)), stop.is_set, 0.5)
    try:
        result = analyse_file(Path(path), settings, hook)
    except Cancelled:
        return {"cancelled": True}
    finally:
        progress_queue.put((path, None, None))
    return result.to_json()


def run_dask(paths: Sequence[Path], settings: AnalysisSettings, scheduler: str | Any, on_done: OnDone,
             on_progress: OnProgress | None = None) -> None:
    """Analyse on an existing Dask cluster (``scheduler``: its address, or a ``distributed.Client``). The workers
    must have vcam-emoji installed and see the files under the same paths (a shared file system)."""
    try:
        from distributed import Client, Event, Queue, as_completed
    except ImportError:
        raise EmojiCamError(f"--scheduler needs Dask distributed, which is not installed: {CLUSTER_HINT}") from None
    own_client = not isinstance(scheduler, Client)
    if own_client:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise EmojiCamError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); check --scheduler (e.g. "
                                "tcp://host:8786) and that the scheduler is running") from None
    else:
        client = scheduler
    tag = uuid.uuid4().hex
    queue_name, event_name = f"vcam-emoji-progress-{tag}", f"vcam-emoji-stop-{tag}"
    progress_queue, stop = Queue(queue_name, client=client), Event(event_name, client=client)
    finished = threading.Event()

    def drain() -> None:
        while True:
            last = finished.wait(0.3)
            try:
                items = progress_queue.get(batch=True)
            except Exception:  # noqa: BLE001 - the client is closing; progress is only cosmetic
                return
            if on_progress is not None:
                for path, done, total in items:
                    on_progress(path, done, total)
            if last:
                return

    drainer = threading.Thread(target=drain, name="dask-progress", daemon=True)
    drainer.start()
    futures = [client.submit(_dask_task, str(path), settings, queue_name, event_name, pure=False, key=f"vcam-{i}-{tag}")
               for i, path in enumerate(paths)]
    try:
        for future in as_completed(futures):
            data = future.result()
            if not data.get("cancelled"):
                on_done(FileResult.from_json(data))
    except KeyboardInterrupt:
        stop.set()
        client.cancel(futures)
        raise
    finally:
        finished.set()
        drainer.join(timeout=5.0)
        if own_client:
            client.close()


def run_any(paths: Sequence[Path], settings: AnalysisSettings, *, jobs: int = 1, scheduler: str | Any = None,
            on_done: OnDone, on_progress: OnProgress | None = None) -> None:
    """Analyse ``paths`` here (``jobs`` = 1), in a process pool (``jobs`` > 1) or on a Dask cluster."""
    if scheduler is not None:
        run_dask(paths, settings, scheduler, on_done, on_progress)
    elif jobs > 1 and len(paths) > 1:
        run_pool(paths, settings, min(jobs, len(paths)), on_done, on_progress)
    else:
        run_serial(paths, settings, on_done, on_progress)


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
