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
    assert code == (0 if out.rstrip().endswith("Ready for live use in a meeting.") else 1)


@pytest.fixture
def no_hardware(monkeypatch):
    """A machine with no webcam and no virtual camera driver (fakes for the two hardware probes doctor calls)."""
    from vcam_emoji.sink import virtual_camera
    from vcam_emoji.source import camera

    monkeypatch.setattr(camera, "list_cameras", cams(OWN))
    monkeypatch.setattr(virtual_camera, "describe_backends", backends(False))


def test_render_needs_no_camera(config_path, no_hardware, capsys):
    # Given no webcam and no virtual camera, when doctor is asked about rendering
    code = main(["doctor", "--for", "render", "--config", str(config_path)])
    out = capsys.readouterr().out
    # Then it exits 0, still shows what is missing for live use (marked --, not !!), and says which use is ready
    assert code == 0
    assert "  -- no usable camera found" in out and "!!" not in out
    assert "rendering and analysing recorded videos and photos (vcam-emoji render): ready" in out
    assert "live use in a meeting (vcam-emoji run, emoji-cam): cannot work: no usable camera found; no virtual " \
           "camera driver" in out
    assert out.rstrip().endswith("Ready for rendering and analysing recorded videos and photos.")


def test_live_without_camera_fails_with_the_fix(config_path, no_hardware, capsys):
    code = main(["doctor", "--config", str(config_path)])  # --for live is the default
    out = capsys.readouterr().out
    assert code == 1
    assert "  !! no usable camera found" in out and "  !! no virtual camera driver" in out
    assert "fix: plug in a webcam" in out and "fix: install it" in out
    assert out.rstrip().endswith("Not ready for live use in a meeting: fix the lines marked !! above. (rendering and "
                                 "analysing recorded videos and photos works here: vcam-emoji doctor --for render)")
    assert main(["doctor", "--for", "live", "--config", str(config_path)]) == 1


def test_a_broken_config_stops_every_use(config_path, no_hardware, capsys):
    Path(config_path).write_text("[smoothing]\ntime_constant_ms = -1\n")
    assert main(["doctor", "--for", "render", "--config", str(config_path)]) == 1
    out = capsys.readouterr().out
    assert "  !! " in out and out.rstrip().endswith("Not ready for rendering and analysing recorded videos and "
                                                    "photos: fix the lines marked !! above.")


def test_with_everything_both_uses_are_ready(config_path):
    report = diagnose(config_path, list_cameras=cams(WEBCAM), describe_backends=backends(True))
    assert report.ok_for("live") and report.ok_for("render")
    assert report.summary("live")[-1] == "Ready for live use in a meeting."


def test_the_tray_backend_and_how_to_get_its_menu(config_path):
    from tray.backend import TrayReport

    tray = TrayReport("xorg", False, "XEmbed system tray found", "install PyGObject with AppIndicator")
    report = diagnose(config_path, list_cameras=cams(WEBCAM), describe_backends=backends(True),
                      describe_tray=lambda: tray)
    text = "\n".join(report.lines())
    assert f"tray:\n  -- {tray.text()}\n       fix: install PyGObject with AppIndicator" in text
    assert report.ok_for("live")  # the tray is a convenience: `vcam-emoji run` needs none
