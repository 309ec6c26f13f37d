"""Live inputs for the engine: the camera (reconnecting), the bundled demo clip, or a user's video/photo file."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

import numpy as np

from .config import Config
from .errors import DeviceError
from .source.camera import CameraSource
from .source.demo import DEMO_CLIP, ClipInput
from .source.reconnect import ReconnectingSource, SourceStatus

log = logging.getLogger(__name__)


class CameraInput:
    """The configured camera behind a ReconnectingSource: frames when it works, placeholder lines when it does not."""

    paced_by_source = True
    is_demo = False

    def __init__(self, config: Config, *, open_camera: Callable[[], CameraSource] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        cam = config.camera
        size = (cam.width, cam.height)
        opener = open_camera or (lambda: CameraSource(cam.device, size, cam.fps,
                                                      virtual_camera_name=config.output.virtual_camera_name).open())
        self._source = ReconnectingSource(opener, size_wh=size, fps=cam.fps, clock=clock)
        self.description = f"camera {cam.device!r}"

    def get(self, timeout: float = 0.0) -> tuple[np.ndarray | None, float | None, tuple[str, ...] | None]:
        frame, state = self._source.get(timeout=timeout)
        if frame is not None:
            return frame, state.frame_t, None
        if state.ok:
            return None, None, None
        if state.status is SourceStatus.CLOSED:
            return None, None, ("Camera closed",)
        return None, None, state.placeholder_lines

    def close(self) -> None:
        self._source.close()


def demo_input(config: Config) -> ClipInput:
    return ClipInput(DEMO_CLIP, (config.camera.width, config.camera.height), is_demo=True)


def probe_camera(config: Config) -> str | None:
    """Try to open the configured camera once; None if it works, else why not (the camera is released again)."""
    cam = config.camera
    try:
        source = CameraSource(cam.device, (cam.width, cam.height), cam.fps,
                              virtual_camera_name=config.output.virtual_camera_name).open()
    except DeviceError as exc:
        return str(exc)
    source.close()
    return None


def input_opener(source: str, config: Config) -> tuple[Callable[[Config], object], str]:
    """An ``open_input`` for the engine from ``--source`` (auto, camera, demo or a file path), and what was chosen.

    ``auto``: the camera if one opens now, else the bundled demo clip (said in the returned message).
    ``camera``: the camera, waiting and retrying while it is missing.
    """
    if source == "demo":
        return demo_input, "source: the bundled demo clip"
    if source == "camera":
        return CameraInput, f"source: camera {config.camera.device!r} (retrying while it is unavailable)"
    if source == "auto":
        why_not = probe_camera(config)
        if why_not is None:
            return CameraInput, f"source: camera {config.camera.device!r}"
        return demo_input, (f"no camera could be opened ({why_not}); showing the bundled demo clip instead "
                            "(use --source camera to wait for a camera)")
    path = Path(source).expanduser()
    size = (config.camera.width, config.camera.height)
    return (lambda cfg: ClipInput(path, size)), f"source: {path} (looped)"
