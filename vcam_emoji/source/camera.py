"""Webcam input through OpenCV: the right capture backend per OS, a grabber thread that keeps only the newest frame,
and a health state (ok / no frames / black frames / lost / closed).

A camera counts as open only after frames were actually read. On Linux the configured device may be a v4l2 name
(``/sys/class/video4linux/*/name``), and our own virtual camera (or any v4l2loopback device) is never opened as input:
that would feed our output back into itself. Everything that creates a capture goes through ``capture_factory``
(``cv2.VideoCapture`` by default), so tests can script it (see ``source/scripted.py``).
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..errors import DeviceError

log = logging.getLogger(__name__)

DEFAULT_VIRTUAL_CAMERA_NAME = "Emoji Cam"
# Names v4l2loopback devices get when nobody set card_label, and other common loopback labels.
LOOPBACK_NAME_MARKERS = ("dummy video device", "v4l2loopback", "loopback")
DOCTOR_HINT = "run `vcam-emoji doctor` to list the cameras it can see"


class Capture(Protocol):
    """The part of cv2.VideoCapture we use."""

    def isOpened(self) -> bool: ...  # noqa: N802

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def set(self, prop: int, value: float) -> bool: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[int | str, int], Capture]


def opencv_capture_factory(device: int | str, api_preference: int) -> Capture:
    """The real factory: ``cv2.VideoCapture(device, api_preference)``."""
    return cv2.VideoCapture(device, api_preference)


def capture_backends(system: str) -> list[tuple[str, int]]:
    """OpenCV capture APIs to try, in order, for ``system`` (``platform.system()`` spelling)."""
    if system == "Windows":
        return [("MSMF", cv2.CAP_MSMF), ("DSHOW", cv2.CAP_DSHOW)]
    if system == "Darwin":
        return [("AVFOUNDATION", cv2.CAP_AVFOUNDATION)]
    if system == "Linux":
        return [("V4L2", cv2.CAP_V4L2)]
    return [("ANY", cv2.CAP_ANY)]


# --- Linux device discovery ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class V4L2Device:
    """One /dev/videoN node as described by /sys/class/video4linux/videoN."""

    number: int
    name: str
    path: str  # /dev/videoN
    is_loopback: bool  # a v4l2loopback (virtual) device
    is_capture_node: bool  # the node's "index" is 0: the main node, not a metadata node


def scan_v4l2(sys_root: Path = Path("/")) -> list[V4L2Device]:
    """The video4linux devices under ``sys_root``/sys/class/video4linux, sorted by number ([] if none)."""
    base = Path(sys_root) / "sys" / "class" / "video4linux"
    if not base.is_dir():
        return []
    devices = []
    for entry in base.iterdir():
        if not entry.name.startswith("video") or not entry.name[5:].isdigit():
            continue
        name = _read_text(entry / "name")
        node_index = _read_text(entry / "index")
        # v4l2loopback devices live under /sys/devices/virtual; real cameras under a bus (usb, pci, ...).
        resolved = str(entry.resolve()) if entry.is_symlink() else ""
        by_name = any(marker in name.lower() for marker in LOOPBACK_NAME_MARKERS)
        devices.append(
            V4L2Device(
                number=int(entry.name[5:]),
                name=name,
                path=f"/dev/{entry.name}",
                is_loopback=by_name or "/devices/virtual/" in resolved,
                is_capture_node=node_index in ("", "0"),
            )
        )
    return sorted(devices, key=lambda d: d.number)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def is_own_virtual_camera(device: V4L2Device, virtual_camera_name: str = DEFAULT_VIRTUAL_CAMERA_NAME) -> bool:
    return device.name.strip().casefold() == virtual_camera_name.strip().casefold()


def resolve_device(
    device: int | str | None,
    *,
    system: str,
    sys_root: Path = Path("/"),
    virtual_camera_name: str = DEFAULT_VIRTUAL_CAMERA_NAME,
) -> int:
    """Turn the configured camera (index, "2", "/dev/video2", a v4l2 name, or None/"auto") into an index.

    Raises DeviceError when the device is our own virtual camera, a name cannot be found, or names are used where
    the OS gives OpenCV no names (Windows, macOS).
    """
    if isinstance(device, bool):
        raise DeviceError(f"camera: expected an index (0, 1, ...) or a name, got {device!r}")
    linux_devices = scan_v4l2(sys_root) if system == "Linux" else []
    if device is None or (isinstance(device, str) and device.strip().lower() in ("", "auto")):
        return _auto_device(linux_devices, virtual_camera_name)
    if isinstance(device, str):
        text = device.strip()
        if text.isdigit():
            device = int(text)
        elif text.startswith("/dev/video") and text[len("/dev/video"):].isdigit():
            device = int(text[len("/dev/video"):])
    if isinstance(device, int):
        if device < 0:
            raise DeviceError(f"camera: expected an index >= 0, got {device}")
        for dev in linux_devices:
            if dev.number == device and is_own_virtual_camera(dev, virtual_camera_name):
                raise DeviceError(
                    f"camera {device} ({dev.path}) is the {virtual_camera_name!r} virtual camera, our own output; "
                    f"choose your real webcam instead ({DOCTOR_HINT})"
                )
        return device
    if system != "Linux":
        raise DeviceError(
            f"camera {device!r}: camera names work only on Linux; on {system} give the camera's index "
            f"(0 is usually the built-in one) - {DOCTOR_HINT}"
        )
    wanted = device.strip().casefold()
    if wanted == virtual_camera_name.strip().casefold():
        raise DeviceError(
            f"camera {device!r} is our own virtual camera; choose your real webcam instead ({DOCTOR_HINT})"
        )
    candidates = [d for d in linux_devices if d.is_capture_node and not is_own_virtual_camera(d, virtual_camera_name)]
    for match in (
        [d for d in candidates if d.name.casefold() == wanted],
        [d for d in candidates if wanted in d.name.casefold()],
    ):
        if match:
            if len(match) > 1:
                log.info("camera name %r matches %s; using %s", device, [d.path for d in match], match[0].path)
            return match[0].number
    names = ", ".join(f"{d.path} {d.name!r}" for d in candidates) or "none found"
    raise DeviceError(f"no camera named {device!r}; cameras: {names}. Give a name or an index ({DOCTOR_HINT})")


def _auto_device(linux_devices: Sequence[V4L2Device], virtual_camera_name: str) -> int:
    if not linux_devices:
        return 0
    for dev in linux_devices:
        if dev.is_capture_node and not dev.is_loopback and not is_own_virtual_camera(dev, virtual_camera_name):
            return dev.number
    found = ", ".join(f"{d.path} {d.name!r}" for d in linux_devices)
    raise DeviceError(
        f"no real webcam found, only virtual cameras ({found}); plug in a webcam or give its index ({DOCTOR_HINT})"
    )


# --- the camera source -----------------------------------------------------------------------------------------------
class CameraState(str, Enum):
    OK = "ok"
    NO_FRAMES = "no_frames"  # open, but no frame for a while
    BLACK = "black"  # frames arrive but are all black (lens cover, privacy shutter, camera taken by another app)
    LOST = "lost"  # the device went away (unplugged)
    CLOSED = "closed"


@dataclass(frozen=True)
class CameraHealth:
    state: CameraState
    message: str
    seconds_since_frame: float | None
    frames_read: int

    @property
    def ok(self) -> bool:
        return self.state is CameraState.OK


@dataclass(frozen=True)
class CapturedFrame:
    frame: np.ndarray  # BGR uint8 (H, W, 3)
    index: int  # 1, 2, ... counts every frame the camera gave, including dropped ones
    t: float  # clock time when it was read


def is_black(frame: np.ndarray, threshold: float = 3.0) -> bool:
    """True if the mean brightness (on a coarse subsample) is below ``threshold``."""
    return float(frame[::8, ::8].mean()) < threshold


class CameraSource:
    """A webcam as a :class:`~vcam_emoji.source.base.Source`; call :meth:`open` (or use ``with``) first.

    After opening, a grabber thread reads continuously and keeps only the newest frame, so latency never builds up.
    :meth:`latest` gives the newest frame not yet returned; :meth:`health` says whether the camera still works.
    """

    def __init__(
        self,
        device: int | str | None = None,
        size_wh: tuple[int, int] = (1280, 720),
        fps: float = 30.0,
        *,
        mjpg: bool | None = None,
        virtual_camera_name: str = DEFAULT_VIRTUAL_CAMERA_NAME,
        capture_factory: CaptureFactory = opencv_capture_factory,
        clock: Callable[[], float] = time.monotonic,
        system: str | None = None,
        sys_root: Path = Path("/"),
        open_timeout_s: float = 3.0,
        warmup_frames: int = 2,
        max_warmup_reads: int = 60,
        no_frames_after_s: float = 2.0,
        black_threshold: float = 3.0,
        black_frames: int = 30,
    ) -> None:
        if size_wh[0] < 1 or size_wh[1] < 1:
            raise ValueError(f"size_wh: expected positive (width, height), got {size_wh}")
        if fps <= 0:
            raise ValueError(f"fps: expected > 0, got {fps}")
        if warmup_frames < 1 or max_warmup_reads < warmup_frames:
            raise ValueError(
                f"warmup_frames/max_warmup_reads: expected 1 <= warmup_frames <= max_warmup_reads, "
                f"got {warmup_frames}/{max_warmup_reads}"
            )
        self.device = device
        self.requested_size_wh = (int(size_wh[0]), int(size_wh[1]))
        self.requested_fps = float(fps)
        self.mjpg = mjpg
        self.virtual_camera_name = virtual_camera_name
        self._factory = capture_factory
        self._clock = clock
        self._system = system or platform.system()
        self._sys_root = Path(sys_root)
        self.open_timeout_s = open_timeout_s
        self.warmup_frames = warmup_frames
        self.max_warmup_reads = max_warmup_reads
        self.no_frames_after_s = no_frames_after_s
        self.black_threshold = black_threshold
        self.black_frames = black_frames

        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._capture: Capture | None = None
        self._latest: CapturedFrame | None = None
        self._returned_index = 0
        self._frames_read = 0
        self._last_frame_t: float | None = None
        self._black_streak = 0
        self._lost = False
        self._closed = False
        self.backend: str | None = None
        self.index: int | None = None
        self._size_wh = self.requested_size_wh
        self._fps = self.requested_fps

    # --- Source protocol ----------------------------------------------------------------------------------------------
    @property
    def fps(self) -> float:
        return self._fps

    @property
    def size_wh(self) -> tuple[int, int]:
        """The size the camera actually delivers (known after :meth:`open`), else the requested one."""
        return self._size_wh

    def read(self, timeout: float = 5.0) -> np.ndarray:
        """The next new frame; raises DeviceError if the camera stops working or gives nothing within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            captured = self.latest(timeout=min(0.1, max(0.0, deadline - time.monotonic())))
            if captured is not None:
                return captured.frame
            health = self.health()
            if health.state in (CameraState.LOST, CameraState.CLOSED, CameraState.NO_FRAMES):
                raise DeviceError(health.message)
            if time.monotonic() >= deadline:
                raise DeviceError(f"camera gave no frame within {timeout:.1f} s: {health.message}")

    def close(self) -> None:
        """Stop the grabber and release the camera. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            self._cond.notify_all()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=3.0)
            if thread.is_alive():
                log.warning("camera grabber thread did not stop within 3 s; it will release the camera when it does")
        elif self._capture is not None:
            self._capture.release()
        self._capture = None

    def __enter__(self) -> "CameraSource":
        if self._thread is None:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- opening -----------------------------------------------------------------------------------------------------
    def describe(self) -> str:
        where = f"camera {self.device!r}" if self.device is not None else "the default camera"
        return where if self.index is None or self.index == self.device else f"{where} (index {self.index})"

    def open(self) -> "CameraSource":
        """Open the camera and start the grabber; raises DeviceError saying what to do if no frames come."""
        if self._closed:
            raise DeviceError("this camera source was closed; create a new one")
        if self._thread is not None:
            return self
        self.index = resolve_device(
            self.device, system=self._system, sys_root=self._sys_root, virtual_camera_name=self.virtual_camera_name
        )
        failures = []
        for backend_name, api in capture_backends(self._system):
            capture = self._factory(self.index, api)
            if not capture.isOpened():
                capture.release()
                failures.append(f"{backend_name}: could not open it")
                continue
            self._configure(capture, backend_name)
            frames = self._warmup(capture)
            if not frames:
                capture.release()
                failures.append(f"{backend_name}: opened, but no frames came within {self.open_timeout_s:.0f} s")
                continue
            self._start(capture, backend_name, frames[-1])
            return self
        raise DeviceError(
            f"cannot use {self.describe()}: {'; '.join(failures)}. Close other apps that may be using it "
            f"(Zoom, Teams, a browser tab), check that it is plugged in, or choose another camera ({DOCTOR_HINT})"
        )

    def _configure(self, capture: Capture, backend_name: str) -> None:
        want_mjpg = self.mjpg if self.mjpg is not None else backend_name in ("V4L2", "DSHOW")
        if want_mjpg:
            # The fourcc must be set before the size: many UVC cameras offer 720p/1080p at 30 fps only as MJPG.
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        w, h = self.requested_size_wh
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, w)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
        capture.set(cv2.CAP_PROP_FPS, self.requested_fps)
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
        fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)) if code > 0 else "?"
        log.debug("%s via %s: asked MJPG=%s, fourcc now %r", self.describe(), backend_name, want_mjpg, fourcc)

    def _warmup(self, capture: Capture) -> list[np.ndarray]:
        frames: list[np.ndarray] = []
        deadline = self._clock() + self.open_timeout_s
        for _ in range(self.max_warmup_reads):
            ok, frame = capture.read()
            if ok and _valid(frame):
                frames.append(frame)
                if len(frames) >= self.warmup_frames:
                    break
            elif not capture.isOpened() or self._clock() >= deadline:
                break
        return frames if len(frames) >= self.warmup_frames else []

    def _start(self, capture: Capture, backend_name: str, first: np.ndarray) -> None:
        now = self._clock()
        self._capture = capture
        self.backend = backend_name
        self._size_wh = (int(first.shape[1]), int(first.shape[0]))
        reported_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._fps = reported_fps if 0 < reported_fps <= 240 else self.requested_fps
        self._frames_read = 1
        self._latest = CapturedFrame(first, 1, now)
        self._last_frame_t = now
        self._black_streak = 1 if is_black(first, self.black_threshold) else 0
        if self._size_wh != self.requested_size_wh:
            log.info("%s gives %dx%d (asked for %dx%d)", self.describe(), *self._size_wh, *self.requested_size_wh)
        log.info("opened %s via %s at %dx%d, %.0f fps", self.describe(), backend_name, *self._size_wh, self._fps)
        self._thread = threading.Thread(target=self._grab_loop, name="camera-grabber", daemon=True)
        self._thread.start()

    # --- grabbing ----------------------------------------------------------------------------------------------------
    def _grab_loop(self) -> None:
        capture = self._capture
        if capture is None:
            return
        try:
            while not self._stop.is_set():
                ok, frame = capture.read()
                now = self._clock()
                if ok and _valid(frame):
                    black = is_black(frame, self.black_threshold)
                    with self._cond:
                        self._frames_read += 1
                        self._latest = CapturedFrame(frame, self._frames_read, now)
                        self._last_frame_t = now
                        self._black_streak = self._black_streak + 1 if black else 0
                        self._cond.notify_all()
                    continue
                if not capture.isOpened():
                    with self._cond:
                        self._lost = True
                        self._cond.notify_all()
                    log.warning("%s went away (read failed, device closed)", self.describe())
                    return
                self._stop.wait(0.01)  # a failed read: do not spin
        except Exception:  # noqa: BLE001 - a driver error must end in a health state, not a dead silent thread
            log.exception("camera grabber failed")
            with self._cond:
                self._lost = True
                self._cond.notify_all()
        finally:
            capture.release()

    def latest(self, timeout: float = 0.0) -> CapturedFrame | None:
        """The newest frame not returned before, waiting up to ``timeout`` seconds (real time) for one.

        Returns None if no new frame came in time, or as soon as the camera is lost or closed.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while True:
                latest = self._latest
                if latest is not None and latest.index > self._returned_index:
                    self._returned_index = latest.index
                    return latest
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._lost or self._closed:
                    return None
                self._cond.wait(remaining)

    def health(self, now: float | None = None) -> CameraHealth:
        now = self._clock() if now is None else now
        with self._cond:
            since = None if self._last_frame_t is None else max(0.0, now - self._last_frame_t)
            frames = self._frames_read
            if self._closed:
                return CameraHealth(CameraState.CLOSED, f"{self.describe()} is closed", since, frames)
            if self._thread is None:
                return CameraHealth(CameraState.CLOSED, f"{self.describe()} is not open yet", since, frames)
            if self._lost:
                return CameraHealth(
                    CameraState.LOST, f"{self.describe()} disconnected (unplugged, or taken by another app)", since,
                    frames,
                )
            if since is not None and since > self.no_frames_after_s:
                return CameraHealth(
                    CameraState.NO_FRAMES, f"no frames from {self.describe()} for {since:.1f} s", since, frames
                )
            if self._black_streak >= self.black_frames:
                return CameraHealth(
                    CameraState.BLACK,
                    f"{self.describe()} sends only black frames (lens cover or privacy shutter closed?)",
                    since,
                    frames,
                )
            return CameraHealth(CameraState.OK, "ok", since, frames)


def _valid(frame: object) -> bool:
    return (
        isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        and frame.size > 0
    )


# --- listing cameras --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CameraInfo:
    """A camera as ``doctor`` and the tray show it."""

    index: int
    name: str
    path: str | None  # /dev/videoN on Linux
    backend: str | None  # the OpenCV API that worked
    resolutions: tuple[tuple[int, int], ...] = field(default_factory=tuple)  # sizes it actually delivered
    skipped: str = ""  # why it was not opened (e.g. our own virtual camera)

    @property
    def usable(self) -> bool:
        return not self.skipped and bool(self.resolutions)


def list_cameras(
    max_index: int = 10,
    *,
    resolutions: Sequence[tuple[int, int]] = ((640, 480), (1280, 720), (1920, 1080)),
    capture_factory: CaptureFactory = opencv_capture_factory,
    system: str | None = None,
    sys_root: Path = Path("/"),
    virtual_camera_name: str = DEFAULT_VIRTUAL_CAMERA_NAME,
    reads_per_try: int = 5,
) -> list[CameraInfo]:
    """Probe cameras by really reading frames at each of ``resolutions``.

    On Linux the devices come from /sys (names included) and loopback devices are listed but never opened; elsewhere
    indices ``0 .. max_index-1`` are probed and named "camera N" (OpenCV gives no names there).
    """
    system = system or platform.system()
    backends = capture_backends(system)
    linux_devices = scan_v4l2(sys_root) if system == "Linux" else []
    if linux_devices:
        targets = [(d.number, d.name, d.path, d) for d in linux_devices if d.is_capture_node]
    else:
        targets = [(i, f"camera {i}", None, None) for i in range(max_index)]
    found = []
    for index, name, path, dev in targets:
        if dev is not None and (dev.is_loopback or is_own_virtual_camera(dev, virtual_camera_name)):
            own = is_own_virtual_camera(dev, virtual_camera_name)
            reason = "our own virtual camera" if own else "a virtual (loopback) camera"
            found.append(CameraInfo(index, name, path, None, (), f"{reason}: never used as input"))
            continue
        for backend_name, api in backends:
            sizes = _probe(capture_factory, index, api, resolutions, reads_per_try)
            if sizes:
                found.append(CameraInfo(index, name, path, backend_name, sizes))
                break
        else:
            if dev is not None:
                found.append(CameraInfo(index, name, path, None, (), "could not read frames (busy or not a camera)"))
    return found


def _probe(
    factory: CaptureFactory, index: int, api: int, resolutions: Sequence[tuple[int, int]], reads_per_try: int
) -> tuple[tuple[int, int], ...]:
    capture = factory(index, api)
    try:
        if not capture.isOpened():
            return ()
        sizes: list[tuple[int, int]] = []
        for w, h in resolutions:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, w)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, h)
            for _ in range(reads_per_try):
                ok, frame = capture.read()
                if ok and _valid(frame):
                    size = (int(frame.shape[1]), int(frame.shape[0]))
                    if size not in sizes:
                        sizes.append(size)
                    break
        return tuple(sorted(sizes))
    finally:
        capture.release()
