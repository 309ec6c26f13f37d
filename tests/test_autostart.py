"""Start at login: the XDG entry is really written (in a temp home); the Windows Run key and the macOS LaunchAgent are
checked by their generated content and location, with an injected platform and a fake registry."""

from __future__ import annotations

import configparser
import plistlib
from pathlib import Path

import pytest

from tray.autostart import RUN_KEY, RUN_VALUE, Autostart, desktop_entry, launch_command

COMMAND = ["/opt/emoji cam/bin/python", "-m", "tray"]


class FakeRegistry:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, key, name):
        return self.values.get((key, name))

    def set(self, key, name, value):
        self.values[(key, name)] = value

    def delete(self, key, name):
        self.values.pop((key, name), None)


def test_linux_writes_and_removes_the_xdg_autostart_entry(tmp_path: Path):
    auto = Autostart(system="Linux", environ={}, home=tmp_path, command=COMMAND)
    entry = tmp_path / ".config" / "autostart" / "emoji-cam.desktop"
    assert not auto.is_enabled()
    auto.set_enabled(True)
    assert auto.is_enabled() and entry.is_file()
    parsed = configparser.ConfigParser(interpolation=None)
    parsed.read_string(entry.read_text())
    desktop = parsed["Desktop Entry"]
    assert (desktop["Type"], desktop["Name"], desktop["Terminal"]) == ("Application", "Emoji Cam", "false")
    assert desktop["Exec"] == '"/opt/emoji cam/bin/python" -m tray'
    auto.set_enabled(False)
    assert not auto.is_enabled() and not entry.exists()


def test_linux_honours_xdg_config_home(tmp_path: Path):
    auto = Autostart(system="Linux", environ={"XDG_CONFIG_HOME": str(tmp_path / "cfg")}, home=tmp_path / "home",
                     command=COMMAND)
    auto.set_enabled(True)
    assert (tmp_path / "cfg" / "autostart" / "emoji-cam.desktop").is_file()
    assert not (tmp_path / "home").exists()


def test_relative_xdg_config_home_is_ignored_as_the_spec_says(tmp_path: Path):
    auto = Autostart(system="Linux", environ={"XDG_CONFIG_HOME": "relative/cfg"}, home=tmp_path, command=COMMAND)
    assert auto.plan().location == str(tmp_path / ".config" / "autostart" / "emoji-cam.desktop")


@pytest.mark.parametrize("arg, quoted", [("plain", "plain"), ("a b", '"a b"'), ('say "hi"', '"say \\"hi\\""'),
                                          ("$HOME", '"\\$HOME"'), ("100%", "100%%")])
def test_desktop_exec_quoting(arg, quoted):
    assert f"Exec=x {quoted}\n" in desktop_entry(["x", arg])


def test_windows_uses_the_per_user_run_key():
    registry = FakeRegistry()
    auto = Autostart(system="Windows", home=Path("C:/Users/me"), command=[r"C:\Program Files\Py\pythonw.exe", "-m",
                                                                          "tray"], registry=registry)
    plan = auto.plan()
    assert plan.location == r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run\Emoji Cam"
    auto.set_enabled(True)
    assert registry.values == {(RUN_KEY, RUN_VALUE): r'"C:\Program Files\Py\pythonw.exe" -m tray'}
    assert auto.is_enabled()
    auto.set_enabled(False)
    assert registry.values == {} and not auto.is_enabled()


def test_macos_launch_agent_content_and_path(tmp_path: Path):
    auto = Autostart(system="Darwin", home=tmp_path, command=["/Applications/Emoji Cam/bin/emoji-cam"])
    plan = auto.plan()
    assert plan.location == str(tmp_path / "Library" / "LaunchAgents" / "org.emojicam.emoji-cam.plist")
    agent = plistlib.loads(plan.content)
    assert agent == {"Label": "org.emojicam.emoji-cam", "ProgramArguments": ["/Applications/Emoji Cam/bin/emoji-cam"],
                     "RunAtLoad": True, "ProcessType": "Interactive"}
    auto.set_enabled(True)
    assert plistlib.loads(Path(plan.location).read_bytes()) == agent and auto.is_enabled()


def test_unsupported_system_says_so():
    auto = Autostart(system="Haiku", home=Path("/h"), command=COMMAND)
    assert auto.problem() == "starting at login is not supported on Haiku"
    assert not auto.is_enabled()
    with pytest.raises(OSError, match="not supported on Haiku"):
        auto.set_enabled(True)


def test_launch_command_falls_back_to_python_m_tray(monkeypatch):
    monkeypatch.setattr("tray.autostart.shutil.which", lambda name: None)
    assert launch_command("Linux", executable="/venv/bin/python") == ["/venv/bin/python", "-m", "tray"]
