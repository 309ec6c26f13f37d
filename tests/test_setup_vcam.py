"""`vcam-emoji setup-vcam`: runs the set-up script shipped in the package (Linux), or prints the steps elsewhere."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

import vcam_emoji
from test_setup_script import fake_path
from vcam_emoji import setup_vcam
from vcam_emoji.cli import main
from vcam_emoji.errors import DeviceError


def args(**kw) -> argparse.Namespace:
    values = dict(dry_run=False, name="Emoji Cam", video_nr=None, skip_install=False, config=None)
    return argparse.Namespace(**{**values, **kw})


def test_the_script_ships_inside_the_package():
    assert setup_vcam.SCRIPT.is_file()
    assert setup_vcam.SCRIPT.resolve().parent.parent == Path(vcam_emoji.__file__).resolve().parent


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_dry_run_runs_the_packaged_script_and_changes_nothing(tmp_path, monkeypatch, capfd):
    # Given a PATH whose apt-get and modprobe only log their calls
    path, log = fake_path(tmp_path, {"apt-get": "", "apt-cache": "", "modprobe": ""})
    monkeypatch.setenv("PATH", path)
    # When the user asks what the set-up would do
    code = main(["setup-vcam", "--dry-run", "--name", "Party Cam"])
    # Then the packaged script prints every command and file, under the command the user typed, and runs nothing
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "would run: apt-get install -y v4l2loopback-dkms v4l2loopback-utils" in out
    assert 'card_label="Party Cam" exclusive_caps=1' in out
    assert "# Written by Emoji Cam (vcam-emoji setup-vcam)." in out
    assert not log.exists()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_scripts_messages_name_the_command_the_user_ran(tmp_path, monkeypatch, capfd):
    path, _ = fake_path(tmp_path, {})  # no apt-get, no dnf
    monkeypatch.setenv("PATH", path)
    assert main(["setup-vcam", "--dry-run", "--name", "Emoji Cam"]) == 1
    err = capfd.readouterr().err
    assert "no apt-get or dnf here" in err and "then run vcam-emoji setup-vcam --skip-install" in err


def which_from(tools: dict[str, str]):
    return lambda name: tools.get(name)


@pytest.mark.parametrize("dry_run, is_root, sudo_first", [(False, False, True), (False, True, False),
                                                          (True, False, False)])
def test_root_is_asked_for_with_sudo_only_when_needed(dry_run, is_root, sudo_first):
    command = setup_vcam.linux_command(["--name", "Emoji Cam"], dry_run=dry_run, is_root=is_root,
                                       which=which_from({"bash": "/bin/bash", "sudo": "/usr/bin/sudo"}))
    rest = ["/bin/bash", str(setup_vcam.SCRIPT), "--prog", "vcam-emoji setup-vcam", "--name", "Emoji Cam"]
    assert command == (["/usr/bin/sudo", *rest] if sudo_first else rest)


def test_without_sudo_it_names_the_command_to_run_as_root():
    with pytest.raises(DeviceError, match="needs root and there is no sudo here; as root run: /bin/bash .*"
                                          "setup-v4l2loopback.sh --prog 'vcam-emoji setup-vcam'"):
        setup_vcam.linux_command([], dry_run=False, is_root=False, which=which_from({"bash": "/bin/bash"}))


def test_options_reach_the_script():
    ran = []
    code = setup_vcam.run(args(name="Party Cam", video_nr="12", skip_install=True, dry_run=True), system="Linux",
                          is_root=False, runner=lambda cmd: ran.append(cmd) or 0)
    assert code == 0
    (command,) = ran
    assert command[1:] == [str(setup_vcam.SCRIPT), "--prog", "vcam-emoji setup-vcam", "--name", "Party Cam",
                           "--video-nr", "12", "--dry-run", "--skip-install"]


def test_the_scripts_failure_is_the_commands_exit_code():
    assert setup_vcam.run(args(), system="Linux", is_root=True, runner=lambda cmd: 1) == 1


@pytest.mark.parametrize("system, expected", [
    ("Windows", ['regsvr32 UnityCaptureFilter64.dll "/i:UnityCaptureName=Party Cam"', "OBS"]),
    ("Darwin", ["brew install --cask obs", "Start Virtual Camera", "'OBS Virtual Camera'"]),
])
def test_elsewhere_it_prints_the_exact_steps(system, expected, capsys):
    ran = []
    code = setup_vcam.run(args(name="Party Cam"), system=system, runner=ran.append)
    out, err = capsys.readouterr()
    assert ran == []  # nothing can be installed from here on this system
    assert code == 1 and "nothing was installed" in err
    for text in expected:
        assert text in out
    assert setup_vcam.run(args(name="Party Cam", dry_run=True), system=system, runner=ran.append) == 0
