"""A local preview window (cv2.imshow). Must be used from the thread that owns the GUI (the main thread on macOS).

Without a display, cv2.imshow aborts the whole process on Linux, so the display is checked first and a DeviceError
raised instead.
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Mapping

import cv2
import numpy as np

from ..errors import DeviceError
from ..types import check_frame

log = logging.getLogger(__name__)

DEFAULT_WINDOW = "Emoji Cam preview"


def display_available(environ: Mapping[str, str] | None = None, system: str | None = None) -> bool:
    """True if a window can be shown: always on Windows/macOS, on other systems only with DISPLAY/WAYLAND_DISPLAY."""
    environ = os.environ if environ is None else environ
    system = system or platform.system()
    if system in ("Windows", "Darwin"):
        return True
    return bool(environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"))


class PreviewSink:
    """Shows frames in a window and pumps the GUI events (waitKey(1)) after each one."""

    def __init__(
        self,
        size_wh: tuple[int, int] | None = None,
        fps: float = 30.0,
        *,
        window_name: str = DEFAULT_WINDOW,
        environ: Mapping[str, str] | None = None,
        system: str | None = None,
    ) -> None:
        if not display_available(environ, system):
            raise DeviceError(
                "no display for the preview window (neither DISPLAY nor WAYLAND_DISPLAY is set); run Emoji Cam "
                "in a desktop session, or send to the virtual camera or a video file instead"
            )
        self.size_wh = size_wh
        self.fps = fps
        self.window_name = window_name
        self.last_key: int | None = None  # the last key pressed in the window (waitKey code), if any
        self.closed_by_user = False
        self._closed = False
        self._window_open = False

    def send(self, frame: np.ndarray) -> None:
        check_frame(frame)
        if self._closed:
            raise DeviceError("the preview window was closed")
        try:
            if not self._window_open:
                cv2.namedWindow(self.window_name, cv2.WINDOW_NORMAL)
                self._window_open = True
            elif cv2.getWindowProperty(self.window_name, cv2.WND_PROP_VISIBLE) < 1:
                self.closed_by_user = True  # the user closed the window; do not reopen it behind their back
                return
            cv2.imshow(self.window_name, frame)
            key = cv2.waitKey(1)
        except cv2.error as exc:
            raise DeviceError(
                f"cannot show the preview window ({exc.err if hasattr(exc, 'err') else exc}); this OpenCV build may "
                "have no GUI support (opencv-python-headless) - install opencv-python, or use another output"
            ) from exc
        if key != -1:
            self.last_key = key & 0xFF

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._window_open:
            try:
                cv2.destroyWindow(self.window_name)
                cv2.waitKey(1)
            except cv2.error:
                log.debug("preview window was already gone")

    def __enter__(self) -> "PreviewSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
