"""The live engine: input -> pipeline -> sink in a loop, with pacing, reconnect, live config and commands.

It owns no UI. The CLI (`vcam-emoji run`), the tray and the Studio drive it through thread-safe commands
(``set_pack``, ``set_mirror``, ``pause``, ``resume``, ``apply_config``, ``stop``) and read ``status()`` and
``last_result()`` snapshots. Every command runs on the engine thread between two frames, so the stages never see two
threads. ``add_frame_listener`` lets a viewer (the Studio's live picture) see each output frame; with no listener the
loop does no extra work.

The output never stops: when the camera is gone, busy or black the sink gets a "camera unavailable" placeholder at the
target frame rate while the input reconnects by itself; while paused it gets a "paused" frame and the camera is
released.
With ``privacy.hide_when_no_face`` a frame in which no face is tracked goes out blurred (vcam_emoji/privacy.py), so
a missed detection never shows the real face; the bundled demo clip is shown as it is.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

import cv2
import numpy as np

from .app import PipelineInfo, build_pipeline, classify_rate_hz, select_pack, smoothing_params
from .config import Config, ConfigWatcher
from .errors import ConfigError, EmojiCamError
from .packs import PackWatcher, discover_packs, load_pack
from .pipeline import Pipeline
from .privacy import hide_picture
from .sink.base import Sink
from .source.demo import fit_frame
from .source.placeholder import placeholder_frame
from .types import Expression, FrameResult

log = logging.getLogger(__name__)

# listener(frame, result): the output frame (BGR uint8; read it, never write to it) and the pipeline's result for it,
# or None for a placeholder ("camera unavailable", "paused").
FrameListener = Callable[[np.ndarray, FrameResult | None], None]

PAUSED_LINES = ("Paused", "Emoji Cam released the camera")
STATS_WINDOW_S = 3.0


class LiveInput(Protocol):
    """A frame input for the engine. ``get`` returns ``(frame, capture_time, placeholder_lines)``:
    a frame, or ``(None, None, None)`` when no new frame is there yet, or placeholder lines while unavailable.
    ``paced_by_source``: the input waits for its own frames (a camera); otherwise the engine paces it."""

    paced_by_source: bool
    is_demo: bool
    description: str

    def get(self, timeout: float = 0.0) -> tuple[np.ndarray | None, float | None, tuple[str, ...] | None]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class EngineStatus:
    state: str  # "starting", "running", "camera unavailable", "paused", "stopped", "error"
    source: str
    sink: str
    demo: bool
    pack: str
    mirror: bool
    fps: float
    latency_ms_p50: float
    latency_ms_p99: float
    faces: int
    main_emotion: Expression | None  # the emotion shown on the largest face
    frames: int
    problem: str  # the last problem the user should know about ("" when none)
    detector: str = ""
    classifier: str = ""
    providers: tuple[str, ...] = field(default_factory=tuple)


class _Stats:
    """Frame rate and latency over the last few seconds."""

    def __init__(self) -> None:
        self._done: deque[tuple[float, float]] = deque()  # (time sent, latency ms)
        self.frames = 0

    def add(self, now: float, latency_ms: float) -> None:
        self._done.append((now, latency_ms))
        self.frames += 1
        while self._done and now - self._done[0][0] > STATS_WINDOW_S:
            self._done.popleft()

    def snapshot(self) -> tuple[float, float, float]:
        if len(self._done) < 2:
            return 0.0, 0.0, 0.0
        span = self._done[-1][0] - self._done[0][0]
        lat = np.array([d[1] for d in self._done])
        fps = (len(self._done) - 1) / span if span > 0 else 0.0
        return fps, float(np.percentile(lat, 50)), float(np.percentile(lat, 99))


class Engine:
    """Runs the live loop on the thread that calls :meth:`run` (or on a worker via :meth:`start`)."""

    def __init__(
        self,
        config: Config,
        *,
        open_input: Callable[[Config], LiveInput],
        sink: Sink,
        sink_description: str = "",
        config_watcher: ConfigWatcher | None = None,
        pipeline_factory: Callable[[Config], tuple[Pipeline, PipelineInfo]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_problem: Callable[[str], None] | None = None,
        on_result: Callable[[FrameResult], None] | None = None,
    ) -> None:
        self.config = config
        self._open_input = open_input
        self._sink = sink
        self._sink_description = sink_description
        self._watcher = config_watcher
        self._pipeline_factory = pipeline_factory or (lambda cfg: build_pipeline(cfg, purpose="live"))
        self._clock = clock
        self._on_problem = on_problem
        self._on_result = on_result  # e.g. the emotion timeline writer; called on the engine thread
        self.size_wh = (config.camera.width, config.camera.height)
        self.period_s = 1.0 / config.camera.fps
        # How long to wait for a camera frame; tests raise it so thread hand-offs are deterministic.
        self.input_timeout_s = self.period_s
        self._next_tick = clock()
        self._t0 = clock()  # frame times given to the pipeline (and the timeline) count from here
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._stats = _Stats()
        self._input: LiveInput | None = None
        self._paused = False
        self._mirror = config.camera.mirror
        self._state = "starting"
        self._problem = ""
        self._last_result: FrameResult | None = None
        self._listeners: tuple[FrameListener, ...] = ()  # replaced, never changed in place: the loop reads it unlocked
        self._thread: threading.Thread | None = None
        self.pipeline, self.info = self._pipeline_factory(config)
        # a pack re-rendered on disk (vcam-emoji avatar edit) is shown without a restart
        self._pack_watcher = PackWatcher(getattr(self.pipeline.pack, "folder", None), clock=clock)

    # --- commands (any thread) ------------------------------------------------------------------------------------
    def set_pack(self, name: str) -> None:
        self._commands.put(lambda: self._set_pack(name))

    def set_mirror(self, mirror: bool) -> None:
        self._commands.put(lambda: setattr(self, "_mirror", bool(mirror)))

    def pause(self) -> None:
        self._commands.put(lambda: self._set_paused(True))

    def resume(self) -> None:
        self._commands.put(lambda: self._set_paused(False))

    def apply_config(self, config: Config) -> None:
        self._commands.put(lambda: self._apply_config(config))

    def stop(self) -> None:
        self._stop.set()

    def add_frame_listener(self, listener: FrameListener) -> Callable[[], None]:
        """Call ``listener(frame, result)`` on the engine thread after each frame has gone to the sink; returns a
        function that removes it (idempotent). The engine never writes to a frame once sent, so a listener may keep
        it; it must return quickly (hand the frame to its own thread). A listener that raises is logged and removed:
        it never stops the output."""
        with self._lock:
            self._listeners = self._listeners + (listener,)

        def remove() -> None:
            with self._lock:
                self._listeners = tuple(item for item in self._listeners if item is not listener)

        return remove

    def last_result(self) -> FrameResult | None:
        """The pipeline's result for the last processed frame (faces, probabilities, emotions), or None before the
        first one. It stays while paused or while the camera is unavailable: check ``status().state``."""
        with self._lock:
            return self._last_result

    def status(self) -> EngineStatus:
        fps, p50, p99 = self._stats.snapshot()
        with self._lock:
            result, state, problem = self._last_result, self._state, self._problem
            source = self._input.description if self._input is not None else "(released)"
            demo = bool(self._input is not None and self._input.is_demo)
        faces = result.faces if result is not None else ()
        main = max(faces, key=lambda r: (r.face.box_xyxy[2] - r.face.box_xyxy[0]) * (r.face.box_xyxy[3] -
                                                                                 r.face.box_xyxy[1]), default=None)
        return EngineStatus(
            state=state, source=source, sink=self._sink_description, demo=demo, pack=self.info.pack,
            mirror=self._mirror, fps=fps, latency_ms_p50=p50, latency_ms_p99=p99, faces=len(faces),
            main_emotion=main.emotion if main is not None else None, frames=self._stats.frames, problem=problem,
            detector=self.info.detector, classifier=self.info.classifier, providers=self.info.providers,
        )

    # --- running --------------------------------------------------------------------------------------------------
    def start(self) -> threading.Thread:
        """Run the loop on a worker thread (the tray keeps the main thread)."""
        self._thread = threading.Thread(target=self.run, name="emoji-cam-engine", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """The loop; returns after :meth:`stop`. The input is released on the way out; the sink is the caller's."""
        self.begin()
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self.end()

    def begin(self) -> None:
        """Open the input (raises if a file input cannot be read; a missing camera is retried instead)."""
        self._next_tick = self._clock()
        self._set_input(self._open_input(self.config))

    def end(self) -> None:
        self._set_input(None)
        with self._lock:
            self._state = "stopped"

    def step(self) -> None:
        """One turn of the loop: commands, config, then exactly one frame (or none while the camera is between
        two frames) to the sink."""
        self._run_commands()
        self._poll_config()
        if self._pack_watcher.poll():
            self._reload_pack()
        if self._paused or self._input is None:
            self._next_tick = self._wait_tick(self._next_tick)
            self._send(placeholder_frame(self.size_wh, PAUSED_LINES), None)
            return
        if self._input.paced_by_source:
            frame, t_capture, lines = self._input.get(timeout=self.input_timeout_s)
        else:
            self._next_tick = self._wait_tick(self._next_tick)
            frame, t_capture, lines = self._input.get(0.0)
        if lines is not None:
            self._set_state("camera unavailable", " / ".join(lines))
            if self._input.paced_by_source:
                self._next_tick = self._wait_tick(self._next_tick)
            self._send(placeholder_frame(self.size_wh, lines), None)
        elif frame is not None:
            if self._input.paced_by_source:  # placeholders after a camera loss continue the camera's rhythm
                self._next_tick = self._clock() + self.period_s
            self._process(frame, t_capture)

    def _wait_tick(self, next_tick: float) -> float:
        """Sleep until ``next_tick`` (or until stopped); return the following tick. A frame that came late is caught
        up on the next tick; after a longer stall the schedule restarts from now instead of bursting."""
        delay = next_tick - self._clock()
        if delay > 0:
            self._stop.wait(delay)
        following = next_tick + self.period_s
        now = self._clock()
        return following if following > now - self.period_s else now

    def _process(self, frame: np.ndarray, t_capture: float | None) -> None:
        try:
            if frame.shape[1::-1] != self.size_wh:
                frame = fit_frame(frame, self.size_wh)
            if self._mirror:
                frame = cv2.flip(frame, 1)
            out, result = self.pipeline.process(frame, self._clock() - self._t0)
        except (ValueError, cv2.error) as exc:  # an odd frame from a driver: say so, drop it, go on
            self._set_state("running", f"skipped a frame the camera sent: {exc}")
            return
        if not result.faces and self.config.privacy.hide_when_no_face and not self._input.is_demo:
            out = hide_picture(out)  # no face tracked, so no emoji covers one: the camera picture must not go out
        with self._lock:
            self._last_result = result
            self._state = "running"
        self._send(out, t_capture, result)
        if self._on_result is not None:
            self._on_result(result)

    def _send(self, frame: np.ndarray, t_capture: float | None, result: FrameResult | None = None) -> None:
        try:
            self._sink.send(frame)
        except EmojiCamError as exc:
            self._set_state("error", f"output failed: {exc}")
            self._stop.set()
            return
        now = self._clock()
        self._stats.add(now, (now - t_capture) * 1000.0 if t_capture is not None else 0.0)
        if self._listeners:
            self._notify_listeners(frame, result)

    def _notify_listeners(self, frame: np.ndarray, result: FrameResult | None) -> None:
        for listener in self._listeners:
            try:
                listener(frame, result)
            except Exception:  # a viewer's bug must not stop the virtual camera
                log.exception("frame listener %r failed; removed", listener)
                with self._lock:
                    self._listeners = tuple(item for item in self._listeners if item is not listener)

    # --- engine-thread helpers ------------------------------------------------------------------------------------
    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            command()

    def _set_state(self, state: str, problem: str = "") -> None:
        with self._lock:
            changed = problem and problem != self._problem
            self._state = state
            if problem:
                self._problem = problem
        if changed:
            log.warning("%s", problem)
            if self._on_problem is not None:
                self._on_problem(problem)

    def _report(self, problem: str) -> None:
        self._set_state(self._state, problem)

    def _set_input(self, new: LiveInput | None) -> None:
        with self._lock:
            old, self._input = self._input, new
        if old is not None:
            old.close()
        if new is not None:
            log.info("input: %s", new.description)

    def _set_paused(self, paused: bool) -> None:
        if paused == self._paused:
            return
        self._paused = paused
        if paused:
            self._set_input(None)  # release the camera: privacy, and other apps may use it
            self.pipeline.reset()
            with self._lock:
                self._state = "paused"
        else:
            with self._lock:
                self._state = "starting"
            self._set_input(self._open_input(self.config))

    def _set_pack(self, name: str) -> None:
        packs, errors = discover_packs()
        try:
            pack = select_pack(packs, name)
        except EmojiCamError as exc:
            self._report(f"{exc}; still showing {self.info.pack!r}")
            return
        self.pipeline.set_pack(pack)
        self.info = replace(self.info, pack=pack.name)
        self._pack_watcher.watch(pack.folder)

    def _reload_pack(self) -> None:
        """The files of the pack shown changed on disk: show the new version, or keep the last good one."""
        log.info("the files of pack %r changed; loading it again", self.info.pack)
        try:
            pack = load_pack(self._pack_watcher.folder, builtin=getattr(self.pipeline.pack, "builtin", False))
        except EmojiCamError as exc:
            self._report(f"{exc}; still showing the last good version of {self.info.pack!r}")
            return
        self.pipeline.set_pack(pack)
        self.info = replace(self.info, pack=pack.name)

    def _poll_config(self) -> None:
        if self._watcher is None:
            return
        new = self._watcher.poll()  # cheap between checks; it reads the file about once a second
        error = self._watcher.last_error
        if error is not None:
            self._report(f"{error} (keeping the last good settings)")
        elif self._problem.startswith(str(self._watcher.path)):
            with self._lock:
                self._problem = ""  # the file is valid again
        if new is not None:
            self._apply_config(new)

    def _apply_config(self, new: Config) -> None:
        """Apply what can change live; keep the last good state for anything that fails."""
        old = self.config
        if (new.detector, new.classifier.model, new.runtime) != (old.detector, old.classifier.model, old.runtime):
            try:
                pipeline, info = self._pipeline_factory(new)
            except EmojiCamError as exc:
                self._report(f"{exc}; keeping the current models")
                new = replace(new, detector=old.detector, runtime=old.runtime,
                              classifier=replace(new.classifier, model=old.classifier.model))
            else:
                pipeline.set_pack(self.pipeline.pack)
                self.pipeline, self.info = pipeline, replace(info, pack=self.info.pack)
        if new.smoothing != old.smoothing:
            self.pipeline.smoother.configure(smoothing_params(new.smoothing))
        if new.classifier.rate_hz != old.classifier.rate_hz:
            self.pipeline.schedule.configure(classify_rate_hz(new, "live"))
        if new.camera.mirror != old.camera.mirror:
            self._mirror = new.camera.mirror
        if new.pack.name != self.info.pack:
            self._set_pack(new.pack.name)
        restart = [k for k in ("width", "height", "fps") if getattr(new.camera, k) != getattr(old.camera, k)]
        if restart or new.output != old.output:
            self._report("camera size/fps and output settings apply at the next start of Emoji Cam")
        self.config = new
        if new.camera.device != old.camera.device and not self._paused and self._input is not None \
                and self._input.paced_by_source:
            self._set_input(self._open_input(new))
        log.info("settings applied")
