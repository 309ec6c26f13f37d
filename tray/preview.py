""""Show preview": a sink that sends every frame to the main output and, while asked to, to a preview window too.

The engine knows one sink; the tray gives it a TeeSink around the real one, so the engine stays free of UI. The
preview is opened and closed from the engine thread (the one that calls ``send``), or closed by ``close`` on Quit;
the window itself lives on the preview's own thread (vcam_emoji/sink/preview.py), so either is safe. ``set_shown`` may
be called from any thread. If the window cannot be shown, or the user closes it, the preview turns itself off and
``on_problem`` says why.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np

from vcam_emoji.errors import EmojiCamError
from vcam_emoji.sink.base import Sink

log = logging.getLogger(__name__)


class TeeSink:
    def __init__(self, main: Sink, open_preview: Callable[[], Sink],
                 on_problem: Callable[[str], None] = lambda message: None) -> None:
        self.main = main
        self._open_preview = open_preview
        self._on_problem = on_problem
        self._wanted = threading.Event()
        self._preview: Sink | None = None
        self._closed = False

    @property
    def shown(self) -> bool:
        """What the menu shows: the preview is on (or being opened)."""
        return self._wanted.is_set()

    def set_shown(self, show: bool) -> None:
        if show:
            self._wanted.set()
        else:
            self._wanted.clear()

    def send(self, frame: np.ndarray) -> None:
        self.main.send(frame)
        if not self._wanted.is_set():
            if self._preview is not None:
                self._close_preview()
            return
        try:
            if self._preview is None:
                self._preview = self._open_preview()
                log.info("preview window opened")
            self._preview.send(frame)
        except EmojiCamError as exc:
            self._turn_off(f"cannot show the preview: {exc}")
            return
        if getattr(self._preview, "closed_by_user", False):
            self._turn_off("")
            log.info("preview window closed by the user")

    def _turn_off(self, problem: str) -> None:
        self._wanted.clear()
        self._close_preview()
        if problem:
            log.warning("%s", problem)
            self._on_problem(problem)

    def _close_preview(self) -> None:
        preview, self._preview = self._preview, None
        if preview is not None:
            preview.close()

    def close(self) -> None:
        """Close the preview window and the main output (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._close_preview()
        finally:
            self.main.close()
