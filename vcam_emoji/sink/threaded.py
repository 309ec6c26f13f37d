"""Runs a slow sink (a video encoder) on its own thread, so encoding overlaps the next frame's processing."""

from __future__ import annotations

import logging
import queue
import threading

import numpy as np

from ..errors import EmojiCamError, OutputError
from .base import Sink

log = logging.getLogger(__name__)


class ThreadedSink:
    """Wraps ``inner``: ``send`` hands the frame to a writer thread and returns; it waits only when ``max_pending``
    frames are already queued (back-pressure, so no frame is dropped). ``close`` writes what is queued, then closes
    ``inner``. An error of the inner sink is raised by the next ``send`` or by ``close``."""

    def __init__(self, inner: Sink, max_pending: int = 4) -> None:
        self.inner = inner
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max_pending)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="sink-writer", daemon=True)
        self._thread.start()

    def __getattr__(self, name: str) -> object:  # path, size_wh, ... of the inner sink
        return getattr(self.inner, name)

    def send(self, frame: np.ndarray) -> None:
        self._raise_error()
        if self._closed:
            raise OutputError("the output is already closed")
        self._queue.put(frame)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self.inner.close()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            if isinstance(error, EmojiCamError):
                raise error
            raise OutputError(f"writing the output failed: {error}") from error

    def _run(self) -> None:
        while (frame := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure; the error is reported to the caller
            try:
                self.inner.send(frame)
            except Exception as exc:  # noqa: BLE001 - handed to the caller's thread, not lost
                log.error("output failed: %s", exc)
                self._error = exc
