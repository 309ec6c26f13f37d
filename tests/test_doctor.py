from pathlib import Path

import pytest

from vcam_emoji.cli import main
from vcam_emoji.config import ensure_config_file
from vcam_emoji.doctor import diagnose
from vcam_emoji.sink.virtual_camera import BackendStatus
from vcam_emoji.source.camera import CameraInfo

WEBCAM = CameraInfo(0, "Integrated Webcam", "/dev/video0", "V4L2", ((640, 480), (1280, 720)))
OWN = CameraInfo(2, "Emoji Cam", "/dev/video2", None, (), "our own virtual camera: never used as input")


def cams(*found):
    return lambda **kw: list(found)


def backends(available):
    return lambda **kw: [BackendStatus("v4l2loopback", available, "Emoji Cam", "" if available else "install it")]


@pytest.fixture
def config_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return ensure_config_file(tmp_path / "config.toml")


def test_all_present_is_ok(config_path):
    report = diagnose(config_path, list_cameras=cams(WEBCAM, OWN), describe_backends=backends(True))
    text = "\n".join(report.lines())
    assert report.ok
    assert "Integrated Webcam /dev/video0 via V4L2: 640x480, 1280x720" in text
    assert "our own virtual camera" in text and "apps show it as 'Emoji Cam'" in text
    assert "sha256" in text and "twemoji" in text
    assert "a session actually uses: CPUExecutionProvider" in text


@pytest.mark.parametrize("cameras,vcam,missing", [
    ((OWN,), True, "no usable camera"),
    ((WEBCAM,), False, "no virtual camera driver"),
])
def test_missing_hardware_is_named_with_a_fix(config_path, cameras, vcam, missing):
    report = diagnose(config_path, list_cameras=cams(*cameras), describe_backends=backends(vcam))
    text = "\n".join(report.lines())
    assert not report.ok and missing in text and "fix:" in text


def test_invalid_config_and_missing_pack_are_reported(config_path):
    Path(config_path).write_text('[pack]\nname = "nope"\n[smoothing]\ntime_constant_ms = -1\n')
    report = diagnose(config_path, list_cameras=cams(WEBCAM), describe_backends=backends(True))
    text = "\n".join(report.lines())
    assert not report.ok and "smoothing.time_constant_ms" in text


def test_pack_not_installed(config_path):
    Path(config_path).write_text('[pack]\nname = "nope"\n')
    report = diagnose(config_path, list_cameras=cams(WEBCAM), describe_backends=backends(True))
    assert not report.ok and "pack.name = 'nope' is not installed" in "\n".join(report.lines())


def test_cli_doctor_on_this_machine(config_path, capsys):
    code = main(["doctor", "--config", str(config_path)])
    out = capsys.readouterr().out
    assert "models:" in out and "packs:" in out and "camera:" in out
    # a machine without a webcam or a virtual camera driver (CI) must say so and exit 1
    assert code == (0 if "Everything Emoji Cam needs is here" in out else 1)
