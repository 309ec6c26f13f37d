"""The real VirtualCameraSink driven through fake pyvirtualcam backends (pyvirtualcam.register_backend).

One hardware test (needs_vcam) sends frames into a real v4l2loopback "Emoji Cam" device and reads them back.
"""

from __future__ import annotations

import glob
import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam

from vcam_emoji.errors import DeviceError
from vcam_emoji.sink.virtual_camera import VirtualCameraSink, describe_backends, plan_backends

W, H = 32, 24
FPS = 200.0  # fast pacing keeps the tests quick; nothing asserts on timing
WAIT = 5.0  # generous bound for thread hand-offs


class FakeDevice:
    """What a fake backend writes to: frames received (as (H, W, 3) arrays), opens and closes."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.cond = threading.Condition()
        self.opened: list[dict] = []
        self.closed = 0
        self.gate: threading.Event | None = None  # when set to an unset Event, send() waits on it
        self.sending = threading.Event()  # set when a send() has started
        self.fail_open: dict[str, str] = {}  # backend name -> error raised in __init__
        self.fail_send: Exception | None = None

    def wait_for(self, count: int) -> bool:
        deadline = time.monotonic() + WAIT
        with self.cond:
            while len(self.frames) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(remaining)
            return True

    def numbers(self) -> list[int]:
        """Frame numbers received (red channel of pixel 0,0 after BGR->RGB), consecutive repeats merged."""
        with self.cond:
            values = [int(f[0, 0, 0]) for f in self.frames]
        return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


def backend_class(device: FakeDevice, backend_name: str):
    class FakeBackend:
        def __init__(self, *, width, height, fps, fourcc, device=None, **kw):  # noqa: ARG002 - pyvirtualcam's API
            if backend_name in state.fail_open:
                raise RuntimeError(state.fail_open[backend_name])
            self._shape = (height, width, 3)
            self._device = device or f"/dev/fake-{backend_name}"
            state.opened.append({"backend": backend_name, "device": device, "fourcc": fourcc, "fps": fps})

        def send(self, frame):
            state.sending.set()
            if state.gate is not None:
                state.gate.wait(WAIT)
            if state.fail_send is not None:
                raise state.fail_send
            with state.cond:
                state.frames.append(frame.reshape(self._shape).copy())
                state.cond.notify_all()

        def close(self):
            state.closed += 1

        def device(self):
            return self._device

        def native_fourcc(self):
            return None

    state = device
    return FakeBackend


@pytest.fixture
def fake():
    """Registers fake backends under the real names and a test name; restores pyvirtualcam's registry after."""
    device = FakeDevice()
    names = ("emoji-test", "v4l2loopback", "unitycapture", "obs")
    saved = {name: pyvirtualcam.camera.BACKENDS.get(name) for name in names}
    for name in names:
        pyvirtualcam.register_backend(name, backend_class(device, name))
    yield device
    for name, original in saved.items():
        if original is None:
            pyvirtualcam.camera.BACKENDS.pop(name, None)
        else:
            pyvirtualcam.register_backend(name, original)


def numbered(n: int) -> np.ndarray:
    """A BGR frame whose red channel carries ``n`` (so after conversion to RGB it is channel 0)."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[..., 2] = n
    frame[..., 1] = 77
    frame[..., 0] = 5
    return frame


def open_sink(**kw) -> VirtualCameraSink:
    kw.setdefault("backend", "emoji-test")
    return VirtualCameraSink((W, H), FPS, **kw)


def fake_sys(root: Path, devices: dict[int, str], virtual: tuple[int, ...]) -> Path:
    cls = root / "sys" / "class" / "video4linux"
    cls.mkdir(parents=True)
    for number, name in devices.items():
        parent = "virtual" if number in virtual else "pci0000:00/usb1"
        real = root / "sys" / "devices" / parent / "video4linux" / f"video{number}"
        real.mkdir(parents=True)
        (real / "name").write_text(name + "\n")
        (cls / f"video{number}").symlink_to(real)
    return root


# --- frames --------------------------------------------------------------------------------------------------------
def test_frames_arrive_in_order_as_rgb(fake):
    with open_sink() as sink:
        for n in (1, 2, 3):
            sink.send(numbered(n))
            assert fake.wait_for(1)
            with fake.cond:
                received = len(fake.frames)
            # wait until frame n itself is out before sending the next one
            while fake.numbers()[-1] != n:
                assert fake.wait_for(received + 1)
                received += 1
    assert fake.numbers() == [1, 2, 3]
    assert tuple(fake.frames[0][0, 0]) == (1, 77, 5)  # BGR (5, 77, 1) arrived as RGB
    assert fake.opened[0]["fourcc"] == pyvirtualcam.util.encode_fourcc(pyvirtualcam.PixelFormat.RGB.value)


def test_last_frame_is_resent_when_the_producer_stalls(fake):
    with open_sink() as sink:
        sink.send(numbered(9))
        # the producer sends nothing more, yet the camera keeps getting frames
        assert fake.wait_for(4)
    # (counters are read after close: the sender updates them just after each device send)
    assert sink.frames_resent >= 3 and sink.frames_sent == sink.frames_resent + 1
    assert fake.numbers() == [9]
    assert all(np.array_equal(f, fake.frames[0]) for f in fake.frames)


def test_queue_holds_two_and_the_newest_wins(fake):
    fake.gate = threading.Event()
    with open_sink() as sink:
        sink.send(numbered(1))
        assert fake.sending.wait(WAIT)  # the sender is stuck inside send(frame 1)
        for n in (2, 3, 4, 5):
            sink.send(numbered(n))  # never blocks, although the device is stuck
        assert sink.frames_dropped == 2
        fake.gate.set()
        assert fake.wait_for(3)
        while len(fake.numbers()) < 3:
            assert fake.wait_for(len(fake.frames) + 1)
    assert fake.numbers()[:3] == [1, 4, 5]


def test_send_copies_so_the_caller_may_reuse_its_buffer(fake):
    fake.gate = threading.Event()
    with open_sink() as sink:
        buffer = numbered(1)
        sink.send(buffer)
        assert fake.sending.wait(WAIT)
        buffer[...] = 0  # the engine draws the next frame into the same buffer
        fake.gate.set()
        assert fake.wait_for(1)
    assert fake.frames[0][0, 0, 0] == 1


def test_wrong_frame_is_rejected_with_expected_and_got(fake):
    with open_sink() as sink:
        with pytest.raises(ValueError, match=r"expected uint8 array of shape \(24, 32, 3\), got uint8 \(48, 64, 3\)"):
            sink.send(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(ValueError, match="got float32"):
            sink.send(np.zeros((H, W, 3), np.float32))


def test_close_is_idempotent_and_releases_once(fake):
    sink = open_sink()
    sink.send(numbered(1))
    assert fake.wait_for(1)
    sink.close()
    sink.close()
    assert fake.closed == 1
    with pytest.raises(DeviceError, match="closed"):
        sink.send(numbered(2))


def test_a_failing_device_is_reported_by_the_next_send(fake):
    fake.fail_send = OSError("device removed")
    sink = open_sink()
    sink.send(numbered(1))
    deadline = time.monotonic() + WAIT
    while sink.error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(DeviceError, match="stopped working: device removed"):
        sink.send(numbered(2))
    sink.close()
    assert fake.closed == 1


# --- choosing the backend ------------------------------------------------------------------------------------------
def test_linux_uses_the_device_named_emoji_cam(fake, tmp_path):
    root = fake_sys(tmp_path, {0: "Integrated Camera", 3: "Dummy video device (0x0000)", 7: "Emoji Cam"}, (3, 7))
    with VirtualCameraSink((W, H), FPS, system="Linux", sys_root=root) as sink:
        assert (sink.backend, sink.device, sink.shows_as) == ("v4l2loopback", "/dev/video7", "Emoji Cam")


def test_linux_falls_back_to_another_loopback_with_a_warning(fake, tmp_path, caplog):
    root = fake_sys(tmp_path, {0: "Integrated Camera", 3: "Dummy video device (0x0000)"}, (3,))
    with caplog.at_level(logging.WARNING), VirtualCameraSink((W, H), FPS, system="Linux", sys_root=root) as sink:
        assert sink.device == "/dev/video3"
    assert "no v4l2loopback device is named 'Emoji Cam'" in caplog.text
    assert "run `vcam-emoji setup-vcam`" in caplog.text


def test_linux_without_loopback_says_what_to_install(fake, tmp_path):
    root = fake_sys(tmp_path, {0: "Integrated Camera"}, ())
    with pytest.raises(DeviceError, match=r"no virtual camera available.*run `vcam-emoji setup-vcam`"):
        VirtualCameraSink((W, H), FPS, system="Linux", sys_root=root)
    assert fake.opened == []


def test_windows_prefers_unity_capture_named_emoji_cam_then_obs(fake):
    with VirtualCameraSink((W, H), FPS, system="Windows") as sink:
        assert (sink.backend, sink.shows_as) == ("unitycapture", "Emoji Cam")
        assert fake.opened[0]["device"] == "Emoji Cam"
    fake.fail_open["unitycapture"] = "device not found"
    with VirtualCameraSink((W, H), FPS, system="Windows") as sink:
        assert (sink.backend, sink.shows_as) == ("obs", "OBS Virtual Camera")


def test_when_no_backend_works_the_error_joins_all_reasons_and_the_fix(fake):
    fake.fail_open.update({"unitycapture": "device not found", "obs": "OBS Virtual Camera is not installed"})
    with pytest.raises(DeviceError) as caught:
        VirtualCameraSink((W, H), FPS, system="Windows")
    message = str(caught.value)
    assert "unitycapture (Emoji Cam): device not found" in message
    assert "obs (default device): OBS Virtual Camera is not installed" in message
    assert "/i:UnityCaptureName=Emoji Cam" in message


def test_macos_uses_obs_and_says_the_name_is_fixed(fake):
    choices, fix = plan_backends("Darwin")
    assert [(c.backend, c.shows_as) for c in choices] == [("obs", "OBS Virtual Camera")]
    assert "cannot be changed" in fix


def test_describe_backends_for_doctor(fake, tmp_path):
    empty = fake_sys(tmp_path / "empty", {0: "Integrated Camera"}, ())
    [status] = describe_backends("Linux", sys_root=empty)
    assert (status.backend, status.available) == ("v4l2loopback", False)
    assert "vcam-emoji setup-vcam" in status.fix
    ready = fake_sys(tmp_path / "ready", {5: "Emoji Cam"}, (5,))
    [status] = describe_backends("Linux", sys_root=ready, probe=True)
    assert (status.available, status.shows_as, status.fix) == (True, "Emoji Cam", "")
    fake.fail_open["obs"] = "not installed"
    statuses = describe_backends("Windows", probe=True)
    assert [(s.backend, s.available) for s in statuses] == [("unitycapture", True), ("obs", False)]
    assert "not installed" in statuses[1].fix


# --- hardware ------------------------------------------------------------------------------------------------------
def _emoji_cam_device() -> str | None:
    for name_file in glob.glob("/sys/class/video4linux/video*/name"):
        if Path(name_file).read_text().strip() == "Emoji Cam":
            return "/dev/" + Path(name_file).parent.name
    return None


@pytest.mark.needs_vcam
def test_frames_reach_a_real_v4l2loopback_emoji_cam():
    device = _emoji_cam_device()
    if device is None:
        pytest.skip("no v4l2loopback device named 'Emoji Cam'; run `vcam-emoji setup-vcam` first")
    size = (640, 480)
    # A frame with large flat colour areas, so YUV conversion and chroma subsampling barely change it.
    frame = np.zeros((size[1], size[0], 3), np.uint8)
    frame[:, : size[0] // 2] = (200, 60, 20)  # BGR: blue-ish left half
    frame[:, size[0] // 2 :] = (30, 180, 230)  # BGR: orange right half
    with VirtualCameraSink(size, 30, system="Linux") as sink:
        assert sink.device == device
        sink.send(frame)
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2)
        try:
            assert capture.isOpened(), f"cannot open {device} for reading"
            got = None
            for _ in range(60):
                sink.send(frame)
                ok, image = capture.read()
                if ok and image is not None and image.mean() > 10:
                    got = image
                    break
            assert got is not None, "no frame came back from the loopback device"
        finally:
            capture.release()
    assert got.shape == frame.shape
    left = got[:, 40 : size[0] // 2 - 40].reshape(-1, 3).mean(axis=0)
    right = got[:, size[0] // 2 + 40 : -40].reshape(-1, 3).mean(axis=0)
    assert np.abs(left - (200, 60, 20)).max() < 25
    assert np.abs(right - (30, 180, 230)).max() < 25
