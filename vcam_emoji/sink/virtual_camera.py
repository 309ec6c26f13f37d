"""The virtual camera meeting apps pick ("Emoji Cam"), through pyvirtualcam.

Backends per OS: Windows - Unity Capture registered as "Emoji Cam", else OBS; Linux - the v4l2loopback device named
"Emoji Cam" (else another loopback device, with a warning); macOS - OBS (always shown as "OBS Virtual Camera").

A sender thread owns the camera: ``send`` converts BGR to RGB once and puts the frame in a queue of at most 2 (the
newest wins), and never waits. The thread paces with ``sleep_until_next_frame`` and re-sends the last frame when no
new one comes, so meeting apps never see the camera freeze or vanish while the engine stalls.
"""

from __future__ import annotations

import logging
import platform
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pyvirtualcam

from ..errors import DeviceError
from ..source.camera import scan_v4l2

log = logging.getLogger(__name__)

DEFAULT_NAME = "Emoji Cam"
SETUP_COMMAND = "vcam-emoji setup-vcam"  # runs the set-up script shipped in the package, with sudo
QUEUE_SIZE = 2


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # pyvirtualcam backend name
    device: str | None  # pyvirtualcam device argument (None: the backend's default)
    shows_as: str  # the camera name meeting apps show
    warning: str = ""  # said when this choice is used


@dataclass(frozen=True)
class BackendStatus:
    """One line of ``doctor``: a backend, whether it can be used, the name apps would show, how to fix it."""

    backend: str
    available: bool
    shows_as: str
    fix: str


def _linux_fix(name: str) -> str:
    return (
        f"install v4l2loopback and create the {name!r} camera: run `{SETUP_COMMAND}` (it asks for sudo; "
        f"`{SETUP_COMMAND} --dry-run` shows every command; packages v4l2loopback-dkms and v4l2loopback-utils on "
        f"Debian/Ubuntu)"
    )


def _windows_fix(name: str) -> str:
    return (
        f"install Unity Capture (github.com/schellingb/UnityCapture) under the name {name!r}: as administrator run "
        f'`regsvr32 UnityCaptureFilter64.dll "/i:UnityCaptureName={name}"` - or install OBS Studio 26+ and '
        f"start its Virtual Camera once (`{SETUP_COMMAND}` prints the steps)"
    )


MACOS_FIX = (
    "install OBS Studio 30+ and start its Virtual Camera once (this installs the camera system extension); "
    "on macOS the camera is always called 'OBS Virtual Camera', its name cannot be changed "
    f"(`{SETUP_COMMAND}` prints the steps)"
)


def plan_backends(
    system: str | None = None, *, name: str = DEFAULT_NAME, sys_root: Path = Path("/")
) -> tuple[list[BackendChoice], str]:
    """The backends to try, in order, and the fix to tell the user if none works."""
    system = system or platform.system()
    if system == "Windows":
        choices = [
            BackendChoice("unitycapture", name, name),
            BackendChoice(
                "obs", None, "OBS Virtual Camera", f"apps show the camera as 'OBS Virtual Camera', not {name!r}"
            ),
        ]
        return choices, _windows_fix(name)
    if system == "Darwin":
        return [BackendChoice("obs", None, "OBS Virtual Camera")], MACOS_FIX
    if system == "Linux":
        devices = scan_v4l2(sys_root)
        named = [d for d in devices if d.name.strip().casefold() == name.strip().casefold()]
        others = [d for d in devices if d.is_loopback and d not in named]
        choices = [BackendChoice("v4l2loopback", d.path, d.name) for d in named]
        choices += [
            BackendChoice(
                "v4l2loopback",
                d.path,
                d.name,
                f"no v4l2loopback device is named {name!r}; using {d.path}, which apps show as {d.name!r} "
                f"(run `{SETUP_COMMAND}` to get {name!r})",
            )
            for d in others
        ]
        return choices, _linux_fix(name)
    return [], f"virtual cameras are not supported on {system}; use the preview window or write a video file"


CameraFactory = Callable[..., "pyvirtualcam.Camera"]


class VirtualCameraSink:
    """A :class:`~vcam_emoji.sink.base.Sink` that sends BGR frames to the virtual camera. Opens on construction."""

    def __init__(
        self,
        size_wh: tuple[int, int],
        fps: float = 30.0,
        *,
        name: str = DEFAULT_NAME,
        backend: str | None = None,
        device: str | None = None,
        system: str | None = None,
        sys_root: Path = Path("/"),
        camera_factory: CameraFactory = pyvirtualcam.Camera,
        resend_after_s: float | None = None,
    ) -> None:
        w, h = int(size_wh[0]), int(size_wh[1])
        if w < 1 or h < 1:
            raise ValueError(f"size_wh: expected positive (width, height), got {size_wh}")
        if fps <= 0:
            raise ValueError(f"fps: expected > 0, got {fps}")
        self.size_wh = (w, h)
        self.fps = float(fps)
        self.resend_after_s = resend_after_s if resend_after_s is not None else 1.0 / self.fps
        if backend is not None:
            choices, fix = [BackendChoice(backend, device, device or name)], "check the backend and device given"
        else:
            choices, fix = plan_backends(system, name=name, sys_root=sys_root)
        self._camera, self.choice = _open_first(choices, fix, w, h, self.fps, camera_factory)
        self.backend = self.choice.backend
        self.device = str(self._camera.device)
        self.shows_as = self.choice.shows_as
        if self.choice.warning:
            log.warning("virtual camera: %s", self.choice.warning)
        log.info("virtual camera: %s backend, device %s, apps show it as %r", self.backend, self.device, self.shows_as)

        self._cond = threading.Condition()
        self._queue: deque[np.ndarray] = deque(maxlen=QUEUE_SIZE)
        self._closed = False
        self._error: DeviceError | None = None
        self.frames_sent = 0  # every frame handed to the device, re-sends included
        self.frames_resent = 0
        self.frames_dropped = 0  # replaced in the queue by a newer one before they were sent
        self._thread = threading.Thread(target=self._run, name="vcam-sender", daemon=True)
        self._thread.start()

    # --- Sink protocol ---------------------------------------------------------------------------------------------
    def send(self, frame: np.ndarray) -> None:
        """Queue a BGR uint8 (H, W, 3) frame; never waits. Raises DeviceError if the camera has stopped."""
        w, h = self.size_wh
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.shape != (h, w, 3):
            got = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
            raise ValueError(f"frame: expected uint8 array of shape ({h}, {w}, 3), got {got}")
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)  # converts once, and copies: the caller may reuse its buffer
        with self._cond:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise DeviceError("the virtual camera was closed")
            if len(self._queue) == QUEUE_SIZE:
                self.frames_dropped += 1
            self._queue.append(rgb)
            self._cond.notify_all()

    def close(self) -> None:
        """Stop the sender and release the device. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)
        if self._thread.is_alive():
            log.warning("virtual camera sender did not stop within 5 s; it releases the device when it does")

    def __enter__(self) -> "VirtualCameraSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def error(self) -> DeviceError | None:
        """Why the sender stopped, if it failed."""
        return self._error

    # --- the sender thread -------------------------------------------------------------------------------------------
    def _run(self) -> None:
        camera = self._camera
        last: np.ndarray | None = None
        try:
            while True:
                with self._cond:
                    if not self._queue and not self._closed:
                        self._cond.wait(self.resend_after_s)
                    if self._closed:
                        return
                    fresh = self._queue.popleft() if self._queue else None
                frame = fresh if fresh is not None else last
                if frame is None:
                    continue  # nothing sent yet: nothing to repeat
                camera.send(frame)
                with self._cond:
                    self.frames_sent += 1
                    if fresh is None:
                        self.frames_resent += 1
                last = frame
                camera.sleep_until_next_frame()
        except Exception as exc:  # noqa: BLE001 - any device failure ends here and is reported by the next send()
            log.exception("virtual camera failed")
            with self._cond:
                self._error = DeviceError(f"the virtual camera {self.shows_as!r} stopped working: {exc}")
        finally:
            camera.close()


def _open_first(
    choices: list[BackendChoice], fix: str, w: int, h: int, fps: float, factory: CameraFactory
) -> tuple["pyvirtualcam.Camera", BackendChoice]:
    errors = []
    for choice in choices:
        try:
            camera = factory(w, h, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=choice.device, backend=choice.backend)
        except KeyError:
            errors.append(f"{choice.backend}: not available in this pyvirtualcam build")
        except Exception as exc:  # noqa: BLE001 - pyvirtualcam raises RuntimeError/ValueError; all mean "not here"
            text = str(exc).replace("\n", " ").removeprefix(f"'{choice.backend}' backend: ")  # pyvirtualcam's prefix
            errors.append(f"{choice.backend} ({choice.device or 'default device'}): {text}")
        else:
            return camera, choice
    tried = "; ".join(errors) if errors else "no virtual camera device found"
    raise DeviceError(f"no virtual camera available ({tried}). To fix: {fix}")


def describe_backends(
    system: str | None = None,
    *,
    name: str = DEFAULT_NAME,
    sys_root: Path = Path("/"),
    probe: bool = False,
    camera_factory: CameraFactory = pyvirtualcam.Camera,
) -> list[BackendStatus]:
    """What ``doctor`` shows. Without ``probe`` only drivers we can see are reported; with it each is opened briefly."""
    system = system or platform.system()
    choices, fix = plan_backends(system, name=name, sys_root=sys_root)
    registered = set(pyvirtualcam.camera.BACKENDS)
    statuses = []
    for choice in choices:
        available = choice.backend in registered
        problem = "" if available else f"pyvirtualcam has no {choice.backend!r} backend on this system"
        if available and probe:
            try:
                camera = camera_factory(640, 480, 30, device=choice.device, backend=choice.backend)
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                available = False
                problem = str(exc).replace("\n", " ").removeprefix(f"'{choice.backend}' backend: ")
            else:
                camera.close()
        hint = choice.warning if available else f"{problem}; {fix}"
        statuses.append(BackendStatus(choice.backend, available, choice.shows_as, hint))
    if not choices:
        if system == "Linux":
            statuses.append(BackendStatus("v4l2loopback", False, name, f"no v4l2loopback device; {fix}"))
        else:
            statuses.append(BackendStatus("none", False, "", fix))
    return statuses
