"""What the Studio's routes share: the engine, the settings file, the packs, the live picture, the session."""

from __future__ import annotations

import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from vcam_emoji.config import Config, ConfigError, load_config
from vcam_emoji.engine import EngineStatus
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.types import FrameResult

from .analyze import ImageAnalyzer
from .avatar import AvatarDrawing
from .catalog import PackCatalog
from .live import FrameHub, SessionRecorder
from .reports import ReportShelf, SessionLog

log = logging.getLogger(__name__)

CAMERA_RESCAN_S = 2.0


class EngineControl(Protocol):
    """The engine as the Studio uses it: vcam_emoji.engine.Engine, or a fake in tests."""

    config: Config
    size_wh: tuple[int, int]

    def status(self) -> EngineStatus: ...

    def last_result(self) -> FrameResult | None: ...

    def add_frame_listener(self, listener: Callable[[np.ndarray, FrameResult | None], None]) -> Callable[[], None]:
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def apply_config(self, config: Config) -> None: ...


@dataclass(frozen=True)
class Camera:
    device: int | str  # what is written to camera.device
    label: str


def find_cameras(virtual_camera_name: str = "Emoji Cam", system: str | None = None) -> list[Camera]:
    """Cameras to choose from. On Linux from /sys without opening them (the engine may hold one); elsewhere by
    opening the first few indices briefly (OpenCV gives no names there)."""
    from vcam_emoji.source.camera import is_own_virtual_camera, list_cameras, scan_v4l2

    system = system or platform.system()
    if system == "Linux":
        return [Camera(d.number, f"{d.name or 'camera'} ({d.path})") for d in scan_v4l2()
                if d.is_capture_node and not d.is_loopback and not is_own_virtual_camera(d, virtual_camera_name)]
    found = list_cameras(max_index=4, resolutions=((640, 480),), reads_per_try=2, system=system,
                         virtual_camera_name=virtual_camera_name)
    return [Camera(c.index, c.name) for c in found if c.usable]


class SettingsFile:
    """The settings file as the page shows it: its last good values and, while it is invalid, what is wrong.

    It is read again whenever its size or modification time changes (a hand edit shows on the next poll of the
    page), without logging: the engine's own watcher reports bad edits.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._config = Config()
        self.problem: str | None = None
        self.read()

    def read(self) -> tuple[Config, str | None]:
        with self._lock:
            try:
                st = os.stat(self.path)
                signature: tuple | None = (st.st_mtime_ns, st.st_size, st.st_ino)
            except OSError as exc:
                signature = ("missing", str(exc))
            if signature != self._signature:
                self._signature = signature
                try:
                    self._config, self.problem = load_config(self.path), None
                except ConfigError as exc:
                    self.problem = str(exc)
            return self._config, self.problem


@dataclass
class StudioState:
    engine: EngineControl
    config_path: Path
    overrides: Mapping[str, object] = field(default_factory=dict)  # settings given on the command line
    catalog: PackCatalog = field(default_factory=PackCatalog)
    find_cameras: Callable[[], list[Camera]] | None = None
    session: SessionRecorder = field(default_factory=SessionRecorder)
    analyzer: ImageAnalyzer | None = None
    avatars: AvatarDrawing = field(default_factory=AvatarDrawing)
    session_log: SessionLog = field(default_factory=SessionLog)  # the live session, for its report
    reports: ReportShelf = field(default_factory=ReportShelf)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.hub = FrameHub(self.engine)
        self.settings = SettingsFile(self.config_path)
        if self.analyzer is None:
            self.analyzer = ImageAnalyzer(lambda: self.engine.config)
        if self.find_cameras is None:
            self.find_cameras = lambda: find_cameras(self.engine.config.output.virtual_camera_name)
        self._cameras: list[Camera] = []
        self._cameras_at: float | None = None
        self._camera_lock = threading.Lock()
        self._remove_recorder: Callable[[], None] | None = None
        self._remove_log: Callable[[], None] = lambda: None

    def attach(self) -> None:
        """Start recording the session (called when the server starts)."""
        if self._remove_recorder is None:
            self._remove_recorder = self.engine.add_frame_listener(self.session)
            self._remove_log = self.engine.add_frame_listener(self.session_log)

    def detach(self) -> None:
        """Stop listening to the engine and end every live stream (the server is stopping)."""
        if self._remove_recorder is not None:
            self._remove_recorder()
            self._remove_log()
            self._remove_recorder = None
        self.hub.close()

    def cameras(self) -> list[Camera]:
        with self._camera_lock:
            now = time.monotonic()
            stale = self._cameras_at is None or (platform.system() == "Linux"
                                                 and now - self._cameras_at >= CAMERA_RESCAN_S)
            if stale:
                self._cameras_at = now
                try:
                    self._cameras = list(self.find_cameras())
                except (OSError, EmojiCamError) as exc:
                    log.debug("camera scan failed: %s", exc)
            return list(self._cameras)
