"""The tray backend: pystray where a tray can be shown, else a headless fallback that keeps Emoji Cam running.

pystray is imported here and only here, lazily: ``import pystray`` fails without a display. The backend is chosen by
:func:`choose_backend` from the ``PYSTRAY_BACKEND`` environment override or what the desktop offers (a
StatusNotifier host for AppIndicator, an XEmbed system tray for GTK/Xlib), and the rest of the tray asks the
backend's :class:`Capabilities` (menu, radio items, notifications, default action) instead of checking the OS.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import platform
import shutil
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from .menu import Action, Item

log = logging.getLogger(__name__)

APP_ID = "emoji-cam"
ENV_BACKEND = "PYSTRAY_BACKEND"
KNOWN_BACKENDS = ("appindicator", "gtk", "xorg", "win32", "darwin", "dummy")
GNOME_HINT = ("on GNOME install the 'AppIndicator and KStatusNotifierItem Support' extension "
              "(package gnome-shell-extension-appindicator) and log in again")


@dataclass(frozen=True)
class Capabilities:
    has_menu: bool
    has_menu_radio: bool
    has_notification: bool
    has_default_action: bool


HEADLESS_CAPABILITIES = Capabilities(False, False, False, False)


class TrayBackend(Protocol):
    name: str
    capabilities: Capabilities
    headless_reason: str  # "" when a tray icon is shown

    def run(self, on_ready: Callable[[], None]) -> None:
        """Block on the main thread until :meth:`stop`; ``on_ready`` is called once the tray is up."""

    def stop(self) -> None: ...

    def update(self, image: Image.Image, title: str, items: tuple[Item, ...]) -> None: ...

    def notify(self, message: str) -> None: ...


# ---------------------------------------------------------------------------------------------------------- choice
@dataclass(frozen=True)
class HostProbes:
    """How to find a tray host; injected so the choice is tested without a desktop."""

    sni_watcher: Callable[[], bool]  # a StatusNotifier host (KDE, GNOME with the AppIndicator extension, ...)
    xembed_tray: Callable[[], bool]  # an XEmbed system tray (_NET_SYSTEM_TRAY_Sn has an owner)
    gtk: Callable[[], bool]  # PyGObject with GTK 3 can be imported
    appindicator: Callable[[], bool]  # PyGObject with (Ayatana)AppIndicator3


@dataclass(frozen=True)
class BackendChoice:
    name: str | None  # a pystray backend, or None: run headless
    reason: str  # why (said in the log; for None: why no tray, and how to get one)


def choose_backend(environ: Mapping[str, str], system: str, probes: HostProbes) -> BackendChoice:
    override = environ.get(ENV_BACKEND, "").strip()
    if override:
        if override not in KNOWN_BACKENDS:
            return BackendChoice(None, f"{ENV_BACKEND}={override!r} is not a pystray backend; use one of "
                                       f"{', '.join(KNOWN_BACKENDS)} or unset it")
        if override in ("gtk", "xorg") and environ.get("DISPLAY") and not probes.xembed_tray():
            return BackendChoice(None, f"{ENV_BACKEND}={override} needs a system tray, and this X display has none "
                                       "(start a tray such as trayer or stalonetray, or unset the override)")
        return BackendChoice(override, f"{ENV_BACKEND}={override}")
    if system == "Windows":
        return BackendChoice("win32", "Windows notification area")
    if system == "Darwin":
        return BackendChoice("darwin", "macOS menu bar")
    has_x, has_wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    if not has_x and not has_wayland:
        return BackendChoice(None, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set); start emoji-cam in a "
                                   "desktop session, or use `vcam-emoji run` on a server")
    if probes.sni_watcher():
        if probes.appindicator():
            return BackendChoice("appindicator", "StatusNotifier host found")
        why = "a StatusNotifier tray is running but AppIndicator is not installed (package gir1.2-ayatanaappindicator3-0.1)"
    else:
        why = f"no StatusNotifier tray found ({GNOME_HINT})"
    if has_x and probes.xembed_tray():
        if probes.gtk():
            return BackendChoice("gtk", "XEmbed system tray found")
        return BackendChoice("xorg", "XEmbed system tray found, but GTK cannot be used here (no PyGObject for "
                                     "this Python, or no D-Bus session bus): the icon has no menu, a click pauses "
                                     "and resumes")
    if not has_x:
        return BackendChoice(None, f"{why}; on Wayland only a StatusNotifier tray can show Emoji Cam")
    return BackendChoice(None, f"{why}, and no XEmbed system tray either")


# What each pystray backend can show (its HAS_MENU flag), known without importing pystray (which needs a display).
BACKEND_HAS_MENU: Mapping[str, bool] = {"appindicator": True, "gtk": True, "xorg": False, "win32": True,
                                        "darwin": True, "dummy": True}
LINUX_MENU_FIX = (
    "install PyGObject with AppIndicator: sudo apt-get install python3-gi gir1.2-ayatanaappindicator3-0.1 "
    "(Debian/Ubuntu; Fedora: sudo dnf install python3-gobject libayatana-appindicator-gtk3), then let Emoji Cam's "
    "venv use them: python -m tray.system_gi in that venv, or a venv made with --system-site-packages from the "
    "system's python3; or pip install PyGObject into the venv (it builds from "
    "source: needs libgirepository1.0-dev, libcairo2-dev and a C compiler)")


@dataclass(frozen=True)
class TrayReport:
    """Which tray ``emoji-cam`` will show on this desktop, and how to get one with a menu (for ``vcam-emoji
    doctor`` and the diagnostics)."""

    backend: str  # the pystray backend ("appindicator", "gtk", "xorg", "win32", "darwin", "dummy") or "headless"
    has_menu: bool
    reason: str  # why this backend (for "headless": why no tray icon can be shown)
    fix: str  # how to get a tray icon with a menu; "" when it has one

    def text(self) -> str:
        """One line, e.g. "tray: xorg (no menu: a click pauses and resumes) - XEmbed system tray found; ..."."""
        what = "no tray icon" if self.backend == "headless" else (
            f"pystray {self.backend} backend, " + ("with a menu" if self.has_menu else
                                                    "no menu: a click on the icon pauses and resumes"))
        return f"{what} ({self.reason})"


def describe_tray_backend(environ: Mapping[str, str] | None = None, system: str | None = None,
                          probes: HostProbes | None = None) -> TrayReport:
    """Which tray backend ``emoji-cam`` will use here and how to get the menu, without starting a tray or
    importing pystray. Asks the desktop the same questions as :func:`open_backend` (D-Bus, the X display)."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    probes = probes or system_probes(environ)
    choice = choose_backend(environ, system, probes)
    if choice.name is None:
        return TrayReport("headless", False, choice.reason, choice.reason)
    has_menu = BACKEND_HAS_MENU.get(choice.name, False)
    fix = ""
    if not has_menu and environ.get(ENV_BACKEND, "").strip():
        fix = f"unset {ENV_BACKEND} (it asks for the {choice.name} backend, which has no menu)"
    elif not has_menu and not _session_bus_reachable(environ):
        fix = "start Emoji Cam inside a desktop session: the GTK tray needs a D-Bus session bus"
    elif not has_menu:
        fix = LINUX_MENU_FIX
    return TrayReport(choice.name, has_menu, choice.reason, fix)


def _session_bus_reachable(environ: Mapping[str, str]) -> bool:
    """A D-Bus session bus is there, or can be started (pystray's GTK backends need one for notifications)."""
    return bool(environ.get("DBUS_SESSION_BUS_ADDRESS")) or shutil.which("dbus-launch") is not None


def _sni_watcher(environ: Mapping[str, str]) -> bool:
    if not environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    try:
        from gi.repository import Gio, GLib
    except (ImportError, ValueError):
        return False
    try:
        bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        reply = bus.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                              "NameHasOwner", GLib.Variant("(s)", ("org.kde.StatusNotifierWatcher",)),
                              GLib.VariantType("(b)"), Gio.DBusCallFlags.NONE, 1000, None)
    except GLib.Error as exc:
        log.debug("D-Bus check for a StatusNotifier host failed: %s", exc)
        return False
    return bool(reply.unpack()[0])


def _xembed_tray() -> bool:
    try:
        import Xlib.display
        import Xlib.error
        import Xlib.X
    except ImportError:
        return False
    try:
        display = Xlib.display.Display()
    except (Xlib.error.DisplayError, OSError) as exc:
        log.debug("cannot open the X display: %s", exc)
        return False
    try:
        atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        return display.get_selection_owner(atom) != Xlib.X.NONE
    finally:
        display.close()


def _importable(module: str, require: tuple[tuple[str, str], ...]) -> bool:
    try:
        gi = importlib.import_module("gi")
        for namespace, version in require:
            gi.require_version(namespace, version)
        importlib.import_module(module)
    except (ImportError, ValueError):
        return False
    return True


def _appindicator() -> bool:
    return any(_importable(f"gi.repository.{ns}", (("Gtk", "3.0"), (ns, "0.1")))
               for ns in ("AppIndicator3", "AyatanaAppIndicator3"))


def system_probes(environ: Mapping[str, str]) -> HostProbes:
    def gtk() -> bool:
        # pystray's GTK backends connect to the D-Bus session bus (for notifications) and fail to start without one
        if not _session_bus_reachable(environ):
            log.info("no D-Bus session bus: the GTK tray backend cannot start; using the plain X11 one")
            return False
        return _importable("gi.repository.Gtk", (("Gtk", "3.0"),))

    return HostProbes(sni_watcher=lambda: _sni_watcher(environ), xembed_tray=_xembed_tray, gtk=gtk,
                      appindicator=_appindicator)


# -------------------------------------------------------------------------------------------------------- backends
class HeadlessBackend:
    """No tray: runs until stopped, logs what a tray would have shown. Settings still apply from the config file."""

    name = "headless"
    capabilities = HEADLESS_CAPABILITIES

    def __init__(self, reason: str) -> None:
        self.headless_reason = reason
        self._stopped = threading.Event()
        self._title = ""
        self.notifications: deque[str] = deque(maxlen=50)

    def run(self, on_ready: Callable[[], None]) -> None:
        on_ready()
        while not self._stopped.wait(1.0):
            pass

    def stop(self) -> None:
        self._stopped.set()

    def update(self, image: Image.Image, title: str, items: tuple[Item, ...]) -> None:
        if title != self._title:
            self._title = title
            log.info("%s", title)

    def notify(self, message: str) -> None:
        self.notifications.append(message)
        log.warning("%s", message)


class PystrayBackend:
    """A pystray Icon showing the menu model. ``on_action`` gets the action of each clicked item (on pystray's
    thread). With the ``dummy`` backend nothing is shown: the menu is built all the same, and ``run`` just waits."""

    def __init__(self, on_action: Callable[[Action], None], image: Image.Image, title: str) -> None:
        self._pystray = importlib.import_module("pystray")  # may raise: no display, no backend
        icon_class = self._pystray.Icon
        module = icon_class.__module__.rsplit(".", 1)[-1].removeprefix("_")
        self.name = "dummy" if module == "base" else module  # pystray's dummy backend is its base Icon
        if self.name == "xorg":  # clicks, transparent corners and a square icon (see tray/xorg_icon.py)
            from .xorg_icon import fixed_xorg_icon

            icon_class = fixed_xorg_icon(icon_class)
        self.capabilities = Capabilities(
            has_menu=bool(getattr(icon_class, "HAS_MENU", False)),
            has_menu_radio=bool(getattr(icon_class, "HAS_MENU_RADIO", False)),
            has_notification=bool(getattr(icon_class, "HAS_NOTIFICATION", False)),
            has_default_action=bool(getattr(icon_class, "HAS_DEFAULT_ACTION", False)),
        )
        self.headless_reason = ""
        self._on_action = on_action
        self._items: tuple[Item, ...] = ()
        self._lock = threading.Lock()
        # Calls into the icon from other threads go one at a time: pystray's xorg backend runs each on its loop and
        # hands every caller its answer through one shared queue, so two callers at once can take each other's.
        self._icon_calls = threading.Lock()
        self._loop_thread: int | None = None
        self._loop_ended = threading.Event()
        self._stopped = threading.Event()
        self.notifications: deque[str] = deque(maxlen=50)
        self.icon = icon_class(APP_ID, icon=image, title=title,
                               menu=self._pystray.Menu(lambda: self._pystray_items(self._current_items())))

    def _current_items(self) -> tuple[Item, ...]:
        with self._lock:
            return self._items

    def pystray_menu(self):
        """The pystray Menu for the current items (what the backend shows)."""
        return self._pystray.Menu(*self._pystray_items(self._current_items()))

    def _pystray_items(self, items: tuple[Item, ...]) -> list:
        pystray = self._pystray
        out = []
        for item in items:
            if item.separator:
                out.append(pystray.Menu.SEPARATOR)
                continue
            if item.submenu:
                action = pystray.Menu(*self._pystray_items(item.submenu))
            elif item.action is not None:
                action = self._callback(item.action)
            else:
                action = None
            checked = None if item.checked is None else (lambda _, value=item.checked: value)
            out.append(pystray.MenuItem(item.text, action, checked=checked,
                                        radio=item.radio and self.capabilities.has_menu_radio,
                                        default=item.default and self.capabilities.has_default_action,
                                        enabled=item.enabled))
        return out

    def _callback(self, action: Action) -> Callable:
        def clicked(icon, menu_item) -> None:
            self._on_action(action)

        return clicked

    def run(self, on_ready: Callable[[], None]) -> None:
        if self.name == "dummy":  # pystray's dummy icon cannot run: keep the same life cycle without a loop
            on_ready()
            self._stopped.wait()
            return

        ready = threading.Event()
        self._loop_thread = threading.get_ident()

        def setup(icon) -> None:
            try:
                icon.visible = True
            finally:
                if not ready.is_set():
                    ready.set()
                    on_ready()

        try:
            self.icon.run(setup=setup)
            self._loop_ended.set()
        except Exception as exc:  # noqa: BLE001 - GLib, Xlib and D-Bus errors: fall back to running without a tray
            self._loop_ended.set()
            if self._stopped.is_set():  # e.g. no notification service to say goodbye to: we are quitting anyway
                log.debug("the %s tray backend raised while stopping: %s", self.name, exc)
                return
            what = "stopped working" if ready.is_set() else "failed to start"
            self.headless_reason = f"the {self.name} tray backend {what} ({type(exc).__name__}: {exc})"
            log.error("no tray icon: %s; Emoji Cam keeps running without it", self.headless_reason)
            # pystray's setup thread waits for the loop to come up; let it go, or the process could not exit
            mark_ready = getattr(self.icon, "_mark_ready", None)
            if mark_ready is not None and not ready.is_set():
                mark_ready()
            self._stopped.wait()

    @contextlib.contextmanager
    def _calling_icon(self) -> Iterator[None]:
        """Held around calls into the icon: the lock from other threads, nothing on the loop's own thread (its calls
        run directly; waiting there for a caller that waits for the loop would hang both).

        pystray's xorg backend runs another thread's call by sending an X message to its own window and waiting for
        the loop to answer; the loop can miss that message the way it misses the one that ends it (see
        ``_nudge_xorg_loop``), and the caller then waits for ever (seen here in one of seven runs of the tray smoke
        test: after a pack switch the menu and the icon stopped following). So while such a call runs, the loop is
        nudged."""
        if threading.get_ident() == self._loop_thread:
            yield
            return
        with self._icon_calls:
            if self.name != "xorg":
                yield
                return
            done = threading.Event()
            threading.Thread(target=self._nudge_xorg_loop, args=(done,), name="tray-xorg-nudge", daemon=True).start()
            try:
                yield
            finally:
                done.set()

    def stop(self) -> None:
        self._stopped.set()  # first: no update starts after this, so none can wait on a loop that has ended
        if self.name != "dummy" and not self.headless_reason:
            with self._calling_icon():
                self.icon.stop()
            if self.name == "xorg" and threading.get_ident() != self._loop_thread:
                threading.Thread(target=self._nudge_xorg_loop, args=(self._loop_ended,), name="tray-xorg-nudge",
                                 daemon=True).start()

    def _nudge_xorg_loop(self, done: threading.Event) -> None:
        """Until ``done``: pystray's xorg loop waits in select() on the X socket for the event it is to handle (the
        one that ends it, or another thread's call). When another thread's request read that event off the socket
        first, python-xlib has queued it but nothing wakes the loop (seen here in about one stop in five). A round
        trip to the X server puts new data on the socket, which wakes the loop to find the queued event."""
        display = getattr(self.icon, "_display", None)
        while display is not None and not done.wait(0.5) and not self._loop_ended.is_set():
            try:
                display.sync()
            except Exception as exc:  # noqa: BLE001 - Xlib errors: the connection may be closing; nothing to wake
                log.debug("could not wake the xorg tray loop: %s", exc)
                return

    def update(self, image: Image.Image, title: str, items: tuple[Item, ...]) -> None:
        with self._lock:
            menu_changed, self._items = items != self._items, items
        with self._calling_icon():
            if self._stopped.is_set():
                return
            if self.icon.icon is not image:
                self.icon.icon = image
            if self.icon.title != title:
                self.icon.title = title
            if menu_changed and self.name != "dummy":
                self.icon.update_menu()

    def notify(self, message: str) -> None:
        self.notifications.append(message)
        log.warning("%s", message)
        if self.capabilities.has_notification and self.name != "dummy":
            try:
                self.icon.notify(message, "Emoji Cam")
            except Exception as exc:  # noqa: BLE001 - a notification daemon may be missing; the log has it
                log.info("could not show a desktop notification (%s); the message is in the log", exc)


def share_opencv_xkbcommon(system: str | None = None) -> str | None:
    """Before GTK is loaded: make the libxkbcommon that opencv-python bundles with its Qt the one the process uses.

    The GTK tray loads the system's libxkbcommon into the process's global symbol scope; OpenCV's Qt preview window,
    opened later, then binds its bundled libxkbcommon-x11 to the system's libxkbcommon, whose internal data differs,
    and the process crashes as the first preview window opens (seen here: SIGSEGV in find_atom_pointer, in
    xkb_x11_keymap_new_from_device). Loading the bundled one first, globally, gives GTK and Qt the same one (GTK uses
    only its stable public API). Returns the library loaded, or None where there is nothing to do (not Linux, no
    bundled Qt)."""
    if (system or platform.system()) != "Linux":
        return None
    import ctypes
    import glob

    spec = importlib.util.find_spec("cv2")
    if spec is None or spec.origin is None:
        return None
    libs = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "opencv_python.libs")
    found = sorted(glob.glob(os.path.join(libs, "libxkbcommon-[0-9a-f]*.so*")))
    if not found:
        return None
    try:
        ctypes.CDLL(found[0], mode=ctypes.RTLD_GLOBAL)
    except OSError as exc:
        log.debug("cannot load %s: %s", found[0], exc)
        return None
    return found[0]


def open_backend(on_action: Callable[[Action], None], image: Image.Image, title: str, *,
                 environ: Mapping[str, str] | None = None, system: str | None = None,
                 probes: HostProbes | None = None) -> TrayBackend:
    """The tray backend for this desktop, or a HeadlessBackend saying why no tray can be shown."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    if probes is None:
        share_opencv_xkbcommon(system)  # before the probes load GTK
    choice = choose_backend(environ, system, probes or system_probes(environ))
    if choice.name is None:
        log.info("no tray icon: %s", choice.reason)  # the app tells the user, with what to do
        return HeadlessBackend(choice.reason)
    if environ.get(ENV_BACKEND) != choice.name:
        os.environ[ENV_BACKEND] = choice.name  # how pystray is told which backend to load
    try:
        backend = PystrayBackend(on_action, image, title)
    except Exception as exc:  # noqa: BLE001 - pystray raises ImportError, Xlib errors, GLib errors...
        reason = f"the {choice.name} tray backend cannot be used ({type(exc).__name__}: {exc})"
        log.info("no tray icon: %s", reason)  # the app tells the user, with what to do
        return HeadlessBackend(reason)
    log.info("tray: pystray %s backend (%s)", backend.name, choice.reason)
    if not backend.capabilities.has_menu:
        log.warning("the %s tray backend shows no menu: a click pauses and resumes; change settings in the config "
                    "file%s", backend.name, f" (for a menu, {LINUX_MENU_FIX})" if system == "Linux" else "")
    return backend
