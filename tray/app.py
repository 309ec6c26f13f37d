"""`emoji-cam`: Emoji Cam in the system tray.

The engine is set up exactly as `vcam-emoji run` does it (vcam_emoji.cli and vcam_emoji.inputs) and runs on a worker
thread; the tray backend owns the main thread. A refresher thread reads the engine status twice a second and updates
the icon and the menu; menu clicks go through tray.menu.Controller.
"Open Studio" serves the Studio page for this same engine (tray/studio.py: started on the first click, the same
address on the next ones); Quit stops it before the engine.

Test control (only for tests/test_tray_smoke.py and scripts/tray_screenshot.sh): with EMOJI_CAM_TEST_CONTROL=stdin
the app reads commands from stdin, one per line, and answers each with one line on stdout: "emoji-cam-control: "
and a JSON value (other lines on stdout come from helper processes and are to be ignored):

    status        {"state", "pack", "paused", "mirror", "demo", "icon", "backend", "headless_reason", "problem"}
    menu          the menu items: [{"key", "text", "checked", "enabled", "submenu": [...]}]
    click KEY     performs the item with that key (e.g. "pack:classic", "quit") as a click on it would

Exit codes: 0 after Quit; 1 when Emoji Cam cannot start (the message says why) or is already running; 2 bad usage.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import logging
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import platformdirs

from vcam_emoji import __version__
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.onnx_session import disable_onnxruntime_telemetry
from vcam_emoji.types import Expression

from . import menu
from .autostart import Autostart
from .backend import TrayBackend, open_backend
from .icon import IconCache
from .menu import CameraChoice, Controller, MenuState
from .single_instance import AlreadyRunning, InstanceLock
from .studio import StudioLauncher

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
REFRESH_S = 0.5
RESCAN_S = 2.0
QUIT_GRACE_S = 10.0  # after Quit, how long the tray backend's loop may take to end before we exit without it
ENV_TEST_CONTROL = "EMOJI_CAM_TEST_CONTROL"
CONTROL_PREFIX = "emoji-cam-control: "  # answers start with it: helper processes (D-Bus, AT-SPI) may print too


# ------------------------------------------------------------------------------------------------------------ packs
class PackCatalog:
    """The valid packs (built-in and user), rescanned when a pack folder changes."""

    def __init__(self, roots: Callable[[], Sequence[Path]] | None = None,
                 discover: Callable[[], tuple[dict, list]] | None = None) -> None:
        from vcam_emoji.packs import discover_packs, user_packs_dir
        from vcam_emoji.resources import packs_dir

        self._roots = roots or (lambda: [packs_dir(), user_packs_dir()])
        self._discover = discover or discover_packs
        self._signature: tuple | None = None
        self.packs: dict = {}
        self.errors: list = []
        self.generation = 0

    def _current_signature(self) -> tuple:
        from vcam_emoji.packs import packs_signature

        return packs_signature(self._roots())

    def poll(self) -> bool:
        """Rescan if any pack folder changed; True if the packs were (re)loaded."""
        signature = self._current_signature()
        if signature == self._signature:
            return False
        self._signature = signature
        self.packs, self.errors = self._discover()
        self.generation += 1  # a re-rendered pack keeps its name: icons are keyed on this too
        log.info("emoji packs: %s", ", ".join(self.names()) or "none")
        return True

    def names(self) -> tuple[str, ...]:
        builtin = sorted(n for n, p in self.packs.items() if p.builtin)
        return tuple(builtin + sorted(n for n, p in self.packs.items() if not p.builtin))


# ---------------------------------------------------------------------------------------------------------- cameras
def find_cameras(system: str | None = None, virtual_camera_name: str = "Emoji Cam") -> tuple[CameraChoice, ...]:
    """The cameras for the Camera menu. On Linux from /sys, without opening them (the engine may hold one);
    elsewhere by probing indices briefly (OpenCV gives no names there)."""
    from vcam_emoji.source.camera import is_own_virtual_camera, list_cameras, scan_v4l2

    system = system or platform.system()
    if system == "Linux":
        return tuple(CameraChoice(d.number, f"{d.name or 'camera'} ({d.path})", (d.path, d.name))
                     for d in scan_v4l2() if d.is_capture_node and not d.is_loopback
                     and not is_own_virtual_camera(d, virtual_camera_name))
    found = list_cameras(max_index=4, resolutions=((640, 480),), reads_per_try=2, system=system,
                         virtual_camera_name=virtual_camera_name)
    return tuple(CameraChoice(c.index, c.name) for c in found if c.usable)


# ---------------------------------------------------------------------------------------------------------- desktop
def open_path(path: Path, system: str | None = None) -> None:
    """Open a file or folder with the desktop's default application."""
    system = system or platform.system()
    if system == "Windows":
        os.startfile(str(path))  # type: ignore[attr-defined]
        return
    opener = "open" if system == "Darwin" else "xdg-open"
    if shutil.which(opener) is None:
        raise OSError(f"cannot open {path}: {opener} is not installed (package xdg-utils); open it by hand")
    subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


def alert(message: str, system: str | None = None) -> None:
    """Tell the user something when there is no tray (yet): stderr, plus a desktop notification or message box."""
    print(f"emoji-cam: {message}", file=sys.stderr)
    system = system or platform.system()
    try:
        if system == "Windows":
            import ctypes

            ctypes.windll.user32.MessageBoxW(None, message, "Emoji Cam", 0x40)  # type: ignore[attr-defined]
        elif system == "Darwin" and shutil.which("osascript"):
            subprocess.run(["osascript", "-e", f"display notification {json.dumps(message)} with title \"Emoji Cam\""],
                           check=False, timeout=5)
        elif shutil.which("notify-send") and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            subprocess.run(["notify-send", "Emoji Cam", message], check=False, timeout=5)
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("no desktop alert: %s", exc)


# -------------------------------------------------------------------------------------------------------------- app
@dataclass(frozen=True)
class Setup:
    """What main() builds before the tray starts."""

    engine: object  # vcam_emoji.engine.Engine
    sink: object  # tray.preview.TeeSink
    config_path: Path
    preview_available: bool


class TrayApp:
    """Keeps the tray in step with the engine and carries out the menu's actions (menu.Desktop)."""

    def __init__(self, setup: Setup, *, packs: PackCatalog, autostart: Autostart,
                 find_cameras: Callable[[], tuple[CameraChoice, ...]] = find_cameras,
                 open_path: Callable[[Path], None] = open_path,
                 backend_factory: Callable[..., TrayBackend] = open_backend,
                 pictures_dir: Callable[[], Path] = lambda: Path(platformdirs.user_pictures_dir()),
                 studio: StudioLauncher | None = None) -> None:
        from vcam_emoji.config import update_config_file
        from vcam_emoji.packs import user_packs_dir

        self.engine = setup.engine
        self.sink = setup.sink
        self.config_path = setup.config_path
        self.preview_available = setup.preview_available
        self.packs = packs
        self.autostart = autostart
        self._find_cameras = find_cameras
        self._open_path = open_path
        self._pictures_dir = pictures_dir
        self.studio = studio or StudioLauncher(self.engine, self.config_path)
        self.cameras: tuple[CameraChoice, ...] = ()
        self.icons = IconCache()
        self.problems: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.quitting = threading.Event()
        self.finished = threading.Event()  # set once the camera and the output are released
        self.release: Callable[[], None] | None = None  # releases them (set by _run; used by the quit watchdog)
        self._refresh_lock = threading.Lock()
        self.controller = Controller(engine=self.engine,
                                     write_config=lambda changes: update_config_file(self.config_path, changes),
                                     desktop=self, config_path=self.config_path, packs_dir=user_packs_dir(),
                                     on_change=self.refresh)
        self.packs.poll()
        state = self.menu_state()
        self.backend = backend_factory(self.controller.perform, self.icon_for(state), menu.title(state))
        self._last_rescan = 0.0
        self._cameras_scanned = False

    # --- model ----------------------------------------------------------------------------------------------------
    def menu_state(self) -> MenuState:
        status = self.engine.status()
        return MenuState(
            state=status.state, pack=status.pack, mirror=status.mirror, demo=status.demo, problem=status.problem,
            main_emotion=status.main_emotion, packs=self.packs.names(), config=self.engine.config,
            cameras=self.cameras, paused=self.controller.paused if hasattr(self, "controller") else False,
            preview_shown=self.sink.shown, preview_available=self.preview_available,
            autostart_enabled=self._autostart_enabled(), autostart_problem=self.autostart.problem(),
            studio_problem=self.studio.problem(),
        )

    def _autostart_enabled(self) -> bool:
        try:
            return self.autostart.is_enabled()
        except OSError as exc:
            log.debug("cannot check start at login: %s", exc)
            return False

    def icon_for(self, state: MenuState):
        kind = menu.icon_kind(state)
        emotion = state.main_emotion or Expression.NEUTRAL
        pack = self.packs.packs.get(state.pack)
        emoji = pack.image(emotion) if pack is not None else None
        return self.icons.get(kind, (state.pack, emotion, self.packs.generation), emoji)

    def refresh(self) -> None:
        """Bring icon, tooltip and menu up to date (from any thread)."""
        if not hasattr(self, "backend"):
            return
        with self._refresh_lock:
            state = self.menu_state()
            self.backend.update(self.icon_for(state), menu.title(state), menu.build_menu(state))

    def _rescan(self) -> None:
        self.packs.poll()
        if self._cameras_scanned and platform.system() != "Linux":
            return  # elsewhere finding cameras means opening them: do it once, not every few seconds
        self._cameras_scanned = True
        try:
            self.cameras = self._find_cameras()
        except (OSError, EmojiCamError) as exc:
            log.debug("camera scan failed: %s", exc)

    def _refresher(self) -> None:
        while not self.quitting.is_set():
            now = time.monotonic()
            if now - self._last_rescan >= RESCAN_S:
                self._last_rescan = now
                self._rescan()
            while True:
                try:
                    self.backend.notify(self.problems.get_nowait())
                except queue.Empty:
                    break
            try:
                self.refresh()
            except Exception:
                log.exception("could not refresh the tray icon")
            self.quitting.wait(REFRESH_S)

    def start(self) -> None:
        """Called once the tray is up (on a helper thread): start the refresher (and the test control)."""
        threading.Thread(target=self._refresher, name="tray-refresh", daemon=True).start()
        if os.environ.get(ENV_TEST_CONTROL) == "stdin":
            threading.Thread(target=self._test_control, name="tray-test-control", daemon=True).start()
        print(f"emoji-cam: ready ({self.backend.name})", file=sys.stderr, flush=True)

    # --- menu.Desktop ---------------------------------------------------------------------------------------------
    def open_path(self, path: Path) -> None:
        self._open_path(path)

    def notify(self, message: str) -> None:
        self.backend.notify(message)

    def set_preview(self, show: bool) -> None:
        self.sink.set_shown(show)

    def set_autostart(self, enabled: bool) -> None:
        self.autostart.set_enabled(enabled)
        self.backend.notify(f"Emoji Cam will {'now' if enabled else 'no longer'} start at login "
                            f"({self.autostart.plan().location})")

    def save_sticker(self) -> None:
        """Save the emoji shown on the main face now (the icon's) as a PNG sticker in the Pictures folder."""
        from vcam_emoji.sticker import save_sticker_to

        state = self.menu_state()
        pack = self.packs.packs.get(state.pack)
        if pack is None:
            self.backend.notify(f"no sticker saved: the pack {state.pack!r} is not loaded")
            return
        emotion = state.main_emotion or Expression.NEUTRAL
        path = save_sticker_to(self._pictures_dir(), pack, emotion, datetime.now())
        note = "" if state.main_emotion is not None else " (no face now, so the neutral one)"
        self.backend.notify(f"Saved the {emotion.label} emoji of {pack.name}{note} as a sticker: {path}")

    def open_studio(self) -> None:
        """Start the Studio (first time) and open it in the browser, on a worker thread: starting it takes a moment
        and the menu must not wait for it. What goes wrong is a notification."""
        threading.Thread(target=self._open_studio, name="tray-open-studio", daemon=True).start()

    def _open_studio(self) -> None:
        try:
            url, opened = self.studio.open()
        except (EmojiCamError, OSError) as exc:
            log.warning("%s", exc)
            self.backend.notify(str(exc))
            return
        note = f" ({self.studio.port_note})" if self.studio.port_note else ""
        if opened:
            self.backend.notify(f"Studio is open in your browser: {url.split('?', 1)[0]}{note}")
        else:
            self.backend.notify(f"no browser could be opened here; open this address yourself: {url}{note}")

    def show_diagnostics(self) -> None:
        text = diagnostics_text(self)
        log.info("diagnostics:\n%s", text)
        path = Path(platformdirs.user_cache_dir("vcam-emoji", appauthor=False)) / "diagnostics.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self._open_path(path)

    def quit(self) -> None:
        log.info("quitting")
        first = not self.quitting.is_set()
        self.quitting.set()
        if first and self.release is not None:
            threading.Thread(target=self._quit_watchdog, name="tray-quit-watchdog", daemon=True).start()
        self.backend.stop()

    def _quit_watchdog(self) -> None:
        """Quit must quit: if the tray backend's loop has not ended QUIT_GRACE_S after Quit, say so (with every
        thread's stack, for a bug report), release the camera and the output, and end the process."""
        if self.finished.wait(QUIT_GRACE_S):
            return
        log.error("the %s tray backend did not stop within %.0f s of Quit; releasing the camera and the output and "
                  "exiting without it (please report this, with the thread stacks below)", self.backend.name,
                  QUIT_GRACE_S)
        faulthandler.dump_traceback(all_threads=True)
        self.release()
        sys.stderr.flush()
        os._exit(EXIT_OK)

    # --- test control ---------------------------------------------------------------------------------------------
    def _answer(self, data: object) -> None:
        print(CONTROL_PREFIX + json.dumps(data), flush=True)

    def _test_control(self) -> None:
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "status":
                state = self.menu_state()
                self._answer({"state": state.state, "pack": state.pack, "paused": state.paused,
                              "mirror": state.mirror, "demo": state.demo, "icon": menu.icon_kind(state),
                              "backend": self.backend.name, "headless_reason": self.backend.headless_reason,
                              "problem": state.problem, "notifications": list(getattr(self.backend,
                                                                                       "notifications", []))})
            elif command == "menu":
                self._answer(_items_json(menu.build_menu(self.menu_state())))
            elif command == "click":
                item = menu.find_item(menu.build_menu(self.menu_state()), arg)
                if item is None or item.action is None or not item.enabled:
                    self._answer({"error": f"no enabled menu item {arg!r}"})
                    continue
                self._answer({"clicked": arg})
                self.controller.perform(item.action)
            elif command:
                self._answer({"error": f"unknown command {command!r}; use status, menu or click KEY"})
            if self.quitting.is_set():
                return


def _items_json(items: tuple[menu.Item, ...]) -> list[dict]:
    return [{"key": i.key, "text": i.text, "checked": i.checked, "enabled": i.enabled,
             "submenu": _items_json(i.submenu)} for i in items if not i.separator]


def diagnostics_text(app: TrayApp) -> str:
    """The doctor summary: what runs, with which models, what is wrong, and where things are."""
    from vcam_emoji.sink.virtual_camera import describe_backends

    status = app.engine.status()
    config = app.engine.config
    lines = [
        f"Emoji Cam {__version__} diagnostics, {datetime.now().isoformat(timespec='seconds')}",
        f"system: {platform.platform()}, Python {platform.python_version()}",
        f"tray: {app.backend.name}" + (f" (no tray icon: {app.backend.headless_reason})"
                                       if app.backend.headless_reason else ""),
        f"state: {status.state}" + (f"; last problem: {status.problem}" if status.problem else ""),
        f"source: {status.source}{' (demo clip)' if status.demo else ''}",
        f"output: {status.sink}",
        (f"speed: {status.fps:.1f} fps, latency p50 {status.latency_ms_p50:.1f} ms, p99 {status.latency_ms_p99:.1f} "
         f"ms, {status.frames} frames, {status.faces} face(s) now"),
        f"models: detector {status.detector}, classifier {status.classifier} on {', '.join(status.providers)}",
        f"emoji pack: {status.pack}; installed: {', '.join(app.packs.names()) or 'none'}",
        *[f"  broken pack: {e}" for e in app.packs.errors],
        f"settings: {app.config_path}",
        (f"camera setting: {config.camera.device!r}, {config.camera.width}x{config.camera.height} at "
         f"{config.camera.fps:g} fps, mirror {'on' if status.mirror else 'off'}"),
        "cameras found: " + (", ".join(c.label for c in app.cameras) or "none"),
        "virtual camera:",
    ]
    try:
        for backend in describe_backends(name=config.output.virtual_camera_name):
            state = "available" if backend.available else "not available"
            lines.append(f"  {backend.backend}: {state}, shows as {backend.shows_as!r}"
                         + (f"; {backend.fix}" if backend.fix else ""))
    except EmojiCamError as exc:
        lines.append(f"  cannot check: {exc}")
    studio_url = app.studio.url
    lines.append("studio: " + (f"running at {studio_url.split('?', 1)[0]}" if studio_url else
                               f"unavailable: {app.studio.problem()}" if app.studio.problem() else
                               "not started (Open Studio starts it)"))
    plan = app.autostart.plan()
    lines.append(f"start at login: {'on' if app._autostart_enabled() else 'off'} ({plan.problem or plan.location})")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emoji-cam", description="Emoji Cam in the system tray (for a terminal "
                                     "without a desktop, use `vcam-emoji run`).")
    parser.add_argument("--version", action="version", version=f"emoji-cam {__version__}")
    parser.add_argument("--config", metavar="PATH", help="settings file (default: the one in your user config "
                        "folder, created with comments on first run)")
    parser.add_argument("--source", default="auto", metavar="camera|demo|FILE",
                        help="camera, the bundled demo clip, or a video/photo file (default auto: the camera, else "
                        "the demo clip)")
    parser.add_argument("--sink", metavar="vcam|preview|none|FILE",
                        help="where the frames go (default: the config's output.sink)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    return parser


def build_setup(args: argparse.Namespace, on_problem: Callable[[str], None]) -> Setup:
    """Config, input, sink and engine, wired as `vcam-emoji run` wires them (same helpers)."""
    from vcam_emoji.cli import load_settings, open_run_sink
    from vcam_emoji.config import ConfigWatcher
    from vcam_emoji.engine import Engine
    from vcam_emoji.inputs import input_opener
    from vcam_emoji.sink.preview import PreviewSink

    from .preview import TeeSink

    config, config_path = load_settings(args.config)
    size_wh, fps = (config.camera.width, config.camera.height), config.camera.fps
    open_input, source_message = input_opener(args.source, config)
    print(f"emoji-cam: {source_message}", file=sys.stderr, flush=True)
    main_sink, sink_message = open_run_sink(args.sink or config.output.sink, config, size_wh, fps,
                                            source=args.source)
    print(f"emoji-cam: output: {sink_message}", file=sys.stderr, flush=True)
    sink = TeeSink(main_sink, lambda: PreviewSink(size_wh, fps), on_problem=on_problem)
    try:
        engine = Engine(config, open_input=open_input, sink=sink, sink_description=sink_message,
                        config_watcher=ConfigWatcher(config_path, initial=config), on_problem=on_problem)
    except BaseException:
        sink.close()
        raise
    return Setup(engine, sink, config_path, preview_available=not isinstance(main_sink, PreviewSink))


def main(argv: Sequence[str] | None = None) -> int:
    disable_onnxruntime_telemetry()  # before anything imports onnxruntime: README "No network use"
    args = build_parser().parse_args(argv)
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    # The GTK tray runs GLib's default main context on the main thread. OpenCV's Qt preview window, on its own
    # thread, would try to run that same context from there: GLib refuses ("g_main_context_push_thread_default:
    # assertion 'acquired_context' failed") and Qt's timers then warn from the wrong thread (seen here). With this, Qt
    # runs its own event loop instead of GLib's.
    os.environ.setdefault("QT_NO_GLIB", "1")
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="emoji-cam: %(levelname)s: %(message)s" if args.verbose else "emoji-cam: %(message)s")
    try:
        lock = InstanceLock().acquire()
    except AlreadyRunning as exc:
        alert(str(exc))
        return EXIT_FAIL
    except OSError as exc:
        alert(f"cannot create the instance lock file: {exc}; check the permissions of that folder")
        return EXIT_FAIL
    try:
        return _run(args)
    finally:
        lock.release()


def _run(args: argparse.Namespace) -> int:
    problems: queue.SimpleQueue[str] = queue.SimpleQueue()
    try:
        setup = build_setup(args, problems.put)
    except EmojiCamError as exc:
        alert(f"cannot start: {exc}")
        return EXIT_FAIL
    engine, sink = setup.engine, setup.sink
    studio = StudioLauncher(engine, setup.config_path)
    releasing, released = threading.Lock(), threading.Event()

    def release() -> None:  # once; from the main thread, or from the quit watchdog (which waits for the first)
        if not releasing.acquire(timeout=QUIT_GRACE_S):
            log.error("releasing the camera and the output is taking longer than %.0f s", QUIT_GRACE_S)
            return
        try:
            if released.is_set():
                return
            studio.stop()  # its live pictures end and its port is closed before the engine goes
            engine.stop()
            engine.join(timeout=10)
            sink.close()
            released.set()
            status = engine.status()
            print(f"emoji-cam: stopped after {status.frames} frames; camera and output released", file=sys.stderr,
                  flush=True)
        finally:
            releasing.release()

    app = None
    try:
        app = TrayApp(setup, packs=PackCatalog(), autostart=Autostart(), studio=studio)
        app.problems, app.release = problems, release
        if app.backend.headless_reason:
            print(f"emoji-cam: no tray icon: {app.backend.headless_reason}; Emoji Cam keeps running without it "
                  "(edit the config file to change settings; stop it with Ctrl-C)", file=sys.stderr, flush=True)
        # Ctrl-C and SIGTERM quit like the menu's Quit (a second Ctrl-C during shutdown changes nothing).
        signal.signal(signal.SIGTERM, lambda *_: app.quit())
        signal.signal(signal.SIGINT, lambda *_: app.quit())
        engine.start()
        try:
            app.backend.run(app.start)
        except KeyboardInterrupt:
            app.quit()
            return EXIT_INTERRUPTED
    finally:
        release()
        if app is not None:
            app.finished.set()
    return EXIT_OK


def entry() -> None:
    """The `emoji-cam` program: main(), then exit at once. Everything Emoji Cam owns is released by then; skipping
    the interpreter's own shutdown keeps a GUI toolkit's leftover threads or finalizers (GTK, Xlib) from holding
    the process after Quit."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
