"""CameraSource against ScriptedCamera (no hardware), plus one real-webcam test marked needs_camera."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam_emoji.errors import DeviceError
from vcam_emoji.source.camera import (
    CameraSource,
    CameraState,
    capture_backends,
    is_black,
    list_cameras,
    resolve_device,
    scan_v4l2,
)
from vcam_emoji.source.scripted import Black, Busy, Frames, ManualClock, ScriptedCamera, Vanish, frame_number

NO_SYS = Path("/nonexistent-sys-root")


def fake_sys(root: Path, devices: dict[int, str], *, virtual: tuple[int, ...] = (), meta: tuple[int, ...] = ()) -> Path:
    """A fake /sys/class/video4linux under ``root``; ``virtual`` ones live under devices/virtual like v4l2loopback."""
    cls = root / "sys" / "class" / "video4linux"
    cls.mkdir(parents=True)
    for number, name in devices.items():
        parent = "virtual" if number in virtual else "pci0000:00/usb1/1-1"
        real = root / "sys" / "devices" / parent / "video4linux" / f"video{number}"
        real.mkdir(parents=True)
        (real / "name").write_text(name + "\n")
        (real / "index").write_text("1\n" if number in meta else "0\n")
        (cls / f"video{number}").symlink_to(real)
    return root


def make_source(camera, clock, **kw) -> CameraSource:
    kw.setdefault("system", "Linux")
    kw.setdefault("sys_root", NO_SYS)
    kw.setdefault("warmup_frames", 1)
    return CameraSource(0, (64, 48), 30, capture_factory=camera, clock=clock, **kw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(100.0)


# --- opening -------------------------------------------------------------------------------------------------------
def test_open_counts_only_after_frames_were_read(clock):
    # given a camera that opens but never delivers a frame
    camera = ScriptedCamera([], clock=clock, idle_wait_s=0.001)
    source = make_source(camera, clock, max_warmup_reads=5)
    # when / then: opening fails, saying no frames came, and the capture is released
    with pytest.raises(DeviceError, match="no frames came"):
        source.open()
    assert camera.captures[0].read_count == 5
    assert camera.captures[0].released


def test_open_needs_all_warmup_frames(clock):
    camera = ScriptedCamera([Frames(2)], clock=clock, idle_wait_s=0.001)
    with pytest.raises(DeviceError, match="no frames came"):
        make_source(camera, clock, warmup_frames=3, max_warmup_reads=6).open()
    assert camera.frames_made == 2


def test_open_succeeds_once_warmup_frames_arrive(clock):
    camera = ScriptedCamera([Frames(3)], clock=clock)
    source = make_source(camera, clock, warmup_frames=3)
    with source.open():
        assert camera.frames_made == 3
        first = source.latest(timeout=1.0)
        assert first is not None and frame_number(first.frame) == 3  # the last warmup frame is served first
        assert source.health().state is CameraState.OK
        assert source.backend == "V4L2"


def test_busy_camera_fails_with_advice(clock):
    camera = ScriptedCamera([Busy(10), Frames()], clock=clock)
    with pytest.raises(DeviceError, match="could not open it.*Close other apps"):
        make_source(camera, clock).open()


def test_windows_tries_msmf_then_dshow(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    tried = []

    def factory(device, api):
        tried.append(api)
        capture = camera(device, api)
        if api == cv2.CAP_MSMF:
            capture.opened = False  # MSMF cannot open this one
        return capture

    with make_source(factory, clock, system="Windows") as source:
        assert tried == [cv2.CAP_MSMF, cv2.CAP_DSHOW]
        assert source.backend == "DSHOW"


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("Windows", [cv2.CAP_MSMF, cv2.CAP_DSHOW]),
        ("Darwin", [cv2.CAP_AVFOUNDATION]),
        ("Linux", [cv2.CAP_V4L2]),
        ("FreeBSD", [cv2.CAP_ANY]),
    ],
)
def test_capture_backends_per_os(system, expected):
    assert [api for _, api in capture_backends(system)] == expected


def test_requests_mjpg_before_size_and_fps_on_v4l2(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    with CameraSource(0, (1280, 720), 25, capture_factory=camera, clock=clock, system="Linux", sys_root=NO_SYS,
                      warmup_frames=1) as source:
        props = [prop for prop, _ in camera.captures[0].set_calls]
        assert props[:4] == [cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT, cv2.CAP_PROP_FPS]
        assert camera.captures[0].set_calls[0][1] == cv2.VideoWriter_fourcc(*"MJPG")
        assert source.size_wh == (1280, 720)


def test_reports_the_size_the_camera_really_gives(clock):
    camera = ScriptedCamera([Frames()], size_wh=(320, 240), accepts_size=False, clock=clock)
    with CameraSource(0, (1280, 720), capture_factory=camera, clock=clock, system="Darwin", warmup_frames=1) as source:
        assert source.size_wh == (320, 240)
        assert camera.captures[0].set_calls[0][0] == cv2.CAP_PROP_FRAME_WIDTH  # no MJPG on AVFoundation


# --- grabbing ------------------------------------------------------------------------------------------------------
def test_newest_frame_wins(clock):
    camera = ScriptedCamera([Frames(1)], clock=clock)
    with make_source(camera, clock) as source:
        assert frame_number(source.latest(timeout=1.0).frame) == 1
        # when the camera delivers 10 frames before anyone asks
        camera.push(Frames(10))
        assert camera.wait_idle(timeout=5.0)
        # then only the newest is handed out, and nothing older afterwards
        newest = source.latest(timeout=1.0)
        assert frame_number(newest.frame) == 11
        assert newest.index == 11
        assert source.latest(timeout=0.0) is None


def test_black_frames_are_reported_and_recover(clock):
    camera = ScriptedCamera([Frames(1)], clock=clock)
    with make_source(camera, clock, black_frames=4) as source:
        camera.push(Black(3))
        assert camera.wait_idle()
        assert source.health().state is CameraState.OK  # 3 black frames are not yet "black"
        camera.push(Black(1))
        assert camera.wait_idle()
        assert source.health().state is CameraState.BLACK
        assert "black" in source.health().message
        camera.push(Frames(1))
        assert camera.wait_idle()
        assert source.health().state is CameraState.OK


def test_is_black_threshold():
    assert is_black(np.full((48, 64, 3), 2, np.uint8))
    assert not is_black(np.full((48, 64, 3), 4, np.uint8))


def test_no_frames_for_a_while_is_reported_with_the_clock(clock):
    camera = ScriptedCamera([Frames(2)], clock=clock)
    with make_source(camera, clock, no_frames_after_s=2.0) as source:
        assert camera.wait_idle()
        clock.advance(1.5)
        assert source.health().state is CameraState.OK
        clock.advance(1.0)
        health = source.health()
        assert health.state is CameraState.NO_FRAMES
        assert "for 2.5 s" in health.message


def test_vanished_camera_is_lost_and_read_raises(clock):
    camera = ScriptedCamera([Frames(1), Vanish(5.0)], clock=clock)
    with make_source(camera, clock) as source:
        assert source.latest(timeout=1.0) is not None
        assert source.latest(timeout=5.0) is None  # returns as soon as the device is gone
        assert source.health().state is CameraState.LOST
        with pytest.raises(DeviceError, match="disconnected"):
            source.read()


def test_close_is_idempotent_and_releases(clock):
    camera = ScriptedCamera([Frames()], clock=clock)
    source = make_source(camera, clock).open()
    source.close()
    source.close()
    assert camera.captures[0].released
    assert source.health().state is CameraState.CLOSED
    with pytest.raises(DeviceError, match="closed"):
        source.open()


# --- device names and our own virtual camera ---------------------------------------------------------------------
def test_scan_marks_loopback_and_metadata_nodes(tmp_path):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 1: "HD Webcam: HD Webcam", 2: "HD Webcam: HD Webcam", 5: "Loop"},
                    virtual=(0, 5), meta=(2,))
    devices = {d.number: d for d in scan_v4l2(root)}
    assert devices[0].is_loopback and devices[5].is_loopback
    assert not devices[1].is_loopback and devices[1].is_capture_node
    assert not devices[2].is_capture_node
    assert devices[1].path == "/dev/video1"


def test_auto_skips_our_virtual_camera_and_loopbacks(tmp_path):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 1: "Dummy video device (0x0000)", 2: "Integrated Camera"})
    assert resolve_device(None, system="Linux", sys_root=root) == 2
    assert resolve_device("auto", system="Linux", sys_root=root) == 2


def test_our_virtual_camera_is_never_opened_even_by_index(tmp_path, clock):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 2: "Integrated Camera"}, virtual=(0,))
    camera = ScriptedCamera([Frames()], clock=clock)
    source = CameraSource(0, capture_factory=camera, clock=clock, system="Linux", sys_root=root)
    with pytest.raises(DeviceError, match="our own output"):
        source.open()
    with pytest.raises(DeviceError, match="our own virtual camera"):
        resolve_device("emoji cam", system="Linux", sys_root=root)
    assert camera.open_calls == []


def test_only_virtual_cameras_is_a_clear_error(tmp_path):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 3: "OBS Virtual Camera"}, virtual=(0, 3))
    with pytest.raises(DeviceError, match="no real webcam found"):
        resolve_device(None, system="Linux", sys_root=root)


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        (2, 2),
        ("2", 2),
        ("/dev/video4", 4),
        ("Integrated Camera: Integrated C", 4),  # exact v4l2 name
        ("integrated", 4),  # case-insensitive part of the name
        ("HD Pro Webcam C920", 6),
    ],
)
def test_device_name_resolution_on_linux(tmp_path, device, expected):
    root = fake_sys(
        tmp_path,
        {0: "Emoji Cam", 4: "Integrated Camera: Integrated C", 5: "Integrated Camera: Integrated C",
         6: "HD Pro Webcam C920"},
        virtual=(0,),
        meta=(5,),
    )
    assert resolve_device(device, system="Linux", sys_root=root) == expected


def test_unknown_name_lists_the_cameras(tmp_path):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 2: "Integrated Camera"})
    with pytest.raises(DeviceError, match=r"no camera named 'Logitech'.*/dev/video2 'Integrated Camera'"):
        resolve_device("Logitech", system="Linux", sys_root=root)


@pytest.mark.parametrize("system", ["Windows", "Darwin"])
def test_names_need_an_index_elsewhere(system):
    with pytest.raises(DeviceError, match=f"names work only on Linux; on {system} give the camera's index"):
        resolve_device("Logitech C920", system=system)


def test_bad_indices_are_rejected():
    with pytest.raises(DeviceError, match="expected an index >= 0, got -1"):
        resolve_device(-1, system="Windows")
    with pytest.raises(DeviceError, match="expected an index"):
        resolve_device(True, system="Windows")


# --- listing -------------------------------------------------------------------------------------------------------
def test_list_cameras_on_linux_skips_virtual_and_reports_sizes(tmp_path, clock):
    root = fake_sys(tmp_path, {0: "Emoji Cam", 2: "Integrated Camera", 3: "Integrated Camera"},
                    virtual=(0,), meta=(3,))
    camera = ScriptedCamera([Frames()], clock=clock, read_pause_s=0)
    cameras = list_cameras(capture_factory=camera, system="Linux", sys_root=root, resolutions=((640, 480), (1280, 720)))
    assert [(c.index, c.name) for c in cameras] == [(0, "Emoji Cam"), (2, "Integrated Camera")]
    assert "our own virtual camera" in cameras[0].skipped and not cameras[0].usable
    assert cameras[1].resolutions == ((640, 480), (1280, 720))
    assert cameras[1].backend == "V4L2" and cameras[1].path == "/dev/video2"
    assert [device for device, _ in camera.open_calls] == [2]  # the virtual camera was never opened


def test_list_cameras_probes_indices_elsewhere(clock):
    cameras_by_index = {1: ScriptedCamera([Frames()], clock=clock, accepts_size=False, size_wh=(640, 480))}
    busy = ScriptedCamera([Busy(100)], clock=clock)

    def factory(device, api):
        return cameras_by_index.get(device, busy)(device, api)

    found = list_cameras(3, capture_factory=factory, system="Windows")
    assert [(c.index, c.name, c.backend, c.resolutions) for c in found] == [(1, "camera 1", "MSMF", ((640, 480),))]


# --- hardware ------------------------------------------------------------------------------------------------------
def _real_cameras() -> list[int]:
    if not glob.glob("/dev/video*") and os.name != "nt":
        return []
    return [c.index for c in list_cameras(max_index=4) if c.usable]


@pytest.mark.needs_camera
def test_real_camera_gives_fresh_frames():
    indices = _real_cameras()
    if not indices:
        pytest.skip("no real webcam here (no /dev/video* that gives frames); plug one in to run this test")
    with CameraSource(indices[0], (640, 480), 30) as source:
        first = source.read()
        second = source.read()
        assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
        assert (second.shape[1], second.shape[0]) == source.size_wh
        assert source.health().state in (CameraState.OK, CameraState.BLACK)
