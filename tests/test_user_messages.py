"""What a user who installed the wheel reads names only commands they have: no source-tree path, no `pip install -e .`.

Covers `--help` of every command, the virtual-camera fixes on every OS, `setup-vcam`'s steps, `doctor` on a machine
with nothing (no camera, no virtual camera), the train extra's install hint and the model errors.
"""

from __future__ import annotations

import argparse
import re

import pytest

from vcam_emoji import setup_vcam
from vcam_emoji.cli import build_parser
from vcam_emoji.config import ensure_config_file
from vcam_emoji.doctor import diagnose
from vcam_emoji.errors import ModelError
from vcam_emoji.models import load_model_spec
from vcam_emoji.onnx_session import create_session
from vcam_emoji.sink.virtual_camera import BackendStatus, plan_backends
from vcam_emoji.training.command import INSTALL_HINT

# A relative path into the repository (an absolute path of a real installed file is fine), an editable install, or
# "the sources".
SOURCE_TREE = re.compile(r"(?<![\w/.~-])(installers|scripts|models|emoji_packs|benchmarks|tests|tray)/"
                         r"|-e \.|\.\[(train|test|build-models)\]|Emoji Cam sources|build_models\.py|\.\./shared")


def assert_pip_user_text(text: str) -> None:
    match = SOURCE_TREE.search(text)
    assert match is None, f"names {match.group()!r} a pip user does not have:\n{text}"


def test_the_pattern_catches_what_it_is_for():
    for bad in ("run `sudo installers/linux/setup-v4l2loopback.sh`", "pip install torch==2.13.0 -e .[train]",
                "rebuild it with models/build_models.py", "see models/MODELS.md"):
        with pytest.raises(AssertionError):
            assert_pip_user_text(bad)
    assert_pip_user_text("see /home/me/.venv/lib/python3.11/site-packages/vcam_emoji/_data/models/MODELS.md")


def all_help(parser: argparse.ArgumentParser) -> list[str]:
    texts = [parser.format_help()]
    for action in parser._actions:  # argparse has no public way to walk the sub-commands
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                texts += all_help(sub)
    return texts


def test_every_help_text():
    texts = all_help(build_parser())
    assert len(texts) >= 9  # vcam-emoji, run, doctor, render, eval, packs (+2), setup-vcam, train
    for text in texts:
        assert_pip_user_text(text)


def test_the_train_extras_install_hint():
    assert INSTALL_HINT == 'pip install "vcam-emoji[train]" torch==2.13.0'
    assert_pip_user_text(INSTALL_HINT)


@pytest.mark.parametrize("system", ["Linux", "Windows", "Darwin", "Plan9"])
def test_virtual_camera_fixes_and_setup_steps(system, tmp_path):
    (tmp_path / "sys/class/video4linux").mkdir(parents=True)
    choices, fix = plan_backends(system, name="Emoji Cam", sys_root=tmp_path)
    assert_pip_user_text(fix)
    for choice in choices:
        assert_pip_user_text(choice.warning)
    if system == "Linux":
        assert "`vcam-emoji setup-vcam`" in fix
    steps = {"Windows": setup_vcam.windows_steps, "Darwin": setup_vcam.macos_steps}.get(system)
    if steps:
        assert_pip_user_text("\n".join(steps("Emoji Cam")))


def test_doctor_on_a_machine_with_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    config = ensure_config_file(tmp_path / "config.toml")
    _, fix = plan_backends("Linux", sys_root=tmp_path)
    report = diagnose(config, list_cameras=lambda **kw: [],
                      describe_backends=lambda **kw: [BackendStatus("v4l2loopback", False, "", fix)])
    text = "\n".join(report.lines())
    assert "vcam-emoji setup-vcam" in text
    assert_pip_user_text(text)


@pytest.mark.parametrize("environ", [{}, {"DISPLAY": ":1", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"},
                                     {"DISPLAY": ":1", "PYSTRAY_BACKEND": "xorg"}])
def test_the_tray_line_of_doctor(environ):
    from tray.backend import HostProbes, describe_tray_backend

    no = lambda: False  # noqa: E731
    report = describe_tray_backend(environ, "Linux", HostProbes(sni_watcher=no, xembed_tray=lambda: True, gtk=no,
                                                                appindicator=no))
    assert_pip_user_text(report.text() + "\n" + report.fix)


def test_model_errors(tmp_path):
    model = tmp_path / "mine.onnx"
    model.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError) as missing_manifest:
        load_model_spec(str(model))
    with pytest.raises(ModelError) as corrupt:
        create_session(model, providers="cpu")
    for error in (missing_manifest.value, corrupt.value):
        assert_pip_user_text(str(error))
