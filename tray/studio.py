"""The tray's "Open Studio": the Studio page (the ``studio`` package) served for the tray's own engine.

The server starts on the first click and stays until Quit; every click opens the same address (with this run's
token) in the default browser (Python's :mod:`webbrowser`). The Studio stack (the ``studio`` package, Starlette,
uvicorn, Jinja2) is imported only on that first click, so the tray starts and works when it cannot be imported;
:meth:`StudioLauncher.problem` says why without importing anything (the menu shows the item disabled, with the
reason), and an import that still fails on the click is reported in a notification.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import webbrowser
from collections.abc import Callable, Sequence
from pathlib import Path

from vcam_emoji.errors import EmojiCamError

log = logging.getLogger(__name__)

REQUIRED_MODULES = ("studio", "starlette", "uvicorn", "jinja2")


class StudioUnavailable(EmojiCamError):
    """The Studio cannot be started from the tray (its packages are missing, or Emoji Cam is quitting)."""


class StudioLauncher:
    """Starts the Studio for ``engine`` once, opens it in the browser on every :meth:`open`, stops it on :meth:`stop`.

    ``port`` None is the Studio's default port (a busy port picks the next free one)."""

    def __init__(self, engine: object, config_path: Path, *, open_browser: Callable[[str], bool] = webbrowser.open,
                 modules: Sequence[str] = REQUIRED_MODULES, port: int | None = None) -> None:
        self.engine = engine
        self.config_path = config_path
        self._open_browser = open_browser
        self._modules = tuple(modules)
        self._port = port
        self._lock = threading.Lock()
        self._server = None
        self._problem: str | None = None
        self._stopped = False

    def problem(self) -> str:
        """Why the Studio cannot be started here ("" when it can), found without importing it (checked once)."""
        if self._problem is None:
            missing = []
            for name in self._modules:
                try:
                    found = importlib.util.find_spec(name) is not None
                except (ImportError, ValueError):
                    found = False
                if not found:
                    missing.append(name)
            self._problem = "" if not missing else (
                f"the Python package{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"{'are' if len(missing) > 1 else 'is'} missing; reinstall Emoji Cam (pip install vcam-emoji) to "
                "get the Studio back")
        return self._problem

    @property
    def url(self) -> str | None:
        """The address with the token while the Studio runs, else None."""
        with self._lock:
            return self._server.url if self._server is not None else None

    @property
    def port_note(self) -> str:
        with self._lock:
            return self._server.port_note if self._server is not None else ""

    def _start(self):
        problem = self.problem()
        if problem:
            raise StudioUnavailable(f"Studio cannot be opened: {problem}")
        try:
            from studio.server import DEFAULT_PORT, StudioServer
            from studio.state import StudioState
        except ImportError as exc:
            raise StudioUnavailable(f"Studio cannot be opened: it does not load ({exc}); reinstall Emoji Cam (pip "
                                    "install vcam-emoji)") from None
        server = StudioServer(StudioState(self.engine, self.config_path),
                              port=DEFAULT_PORT if self._port is None else self._port)
        server.start()  # StudioError (an EmojiCamError) says why it cannot
        if server.port_note:
            log.info("%s", server.port_note)
        return server

    def open(self) -> tuple[str, bool]:
        """Start the Studio if it is not running yet, then open its address in the default browser.

        Returns (the address with the token, whether a browser was opened). Raises StudioUnavailable or StudioError.
        """
        with self._lock:
            if self._stopped:
                raise StudioUnavailable("Studio cannot be opened: Emoji Cam is quitting")
            if self._server is None:
                self._server = self._start()
            url = self._server.url
        try:
            opened = bool(self._open_browser(url))
        except webbrowser.Error as exc:
            log.warning("no browser: %s", exc)
            opened = False
        return url, opened

    def stop(self) -> None:
        """Stop the Studio's server (if it runs) and refuse to start it again (idempotent; Quit calls it)."""
        with self._lock:
            self._stopped = True
            server, self._server = self._server, None
        if server is not None:
            server.stop()
            log.info("Studio stopped")
