"""Start Emoji Cam at login, the way each OS expects it:

    Linux    an XDG autostart entry: $XDG_CONFIG_HOME/autostart/emoji-cam.desktop (default ~/.config/autostart)
    Windows  the per-user Run key: HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run, value "Emoji Cam"
    macOS    a LaunchAgent: ~/Library/LaunchAgents/org.emojicam.emoji-cam.plist (RunAtLoad)

The platform, home folder, environment, command and registry are injected, so the content and paths of all three are
tested on any OS without touching a real registry.
"""

from __future__ import annotations

import logging
import os
import platform
import plistlib
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

APP_NAME = "Emoji Cam"
DESKTOP_FILE = "emoji-cam.desktop"
LAUNCH_AGENT_LABEL = "org.emojicam.emoji-cam"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
RUN_VALUE = APP_NAME


def launch_command(system: str | None = None, executable: str = sys.executable) -> list[str]:
    """How to start the tray: the installed ``emoji-cam`` script if it is on PATH, else ``python -m tray`` (with
    pythonw.exe on Windows, so no console window opens)."""
    system = system or platform.system()
    script = shutil.which("emoji-cam")
    if script:
        return [str(Path(script).resolve())]
    python = executable
    if system == "Windows":
        windowed = Path(executable).with_name("pythonw.exe")
        if windowed.exists():
            python = str(windowed)
    return [python, "-m", "tray"]


def _desktop_quote(arg: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec asks."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`="):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def desktop_entry(command: Sequence[str]) -> str:
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Comment=Puts an emoji matching your expression over your face in video calls",
        "Exec=" + " ".join(_desktop_quote(a) for a in command),
        "Icon=camera-web",
        "Terminal=false",
        "Categories=AudioVideo;Video;",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])


def launch_agent(command: Sequence[str]) -> bytes:
    return plistlib.dumps({"Label": LAUNCH_AGENT_LABEL, "ProgramArguments": list(command), "RunAtLoad": True,
                           "ProcessType": "Interactive"})


def windows_run_value(command: Sequence[str]) -> str:
    """The Run key value: a command line with each argument quoted where needed (CreateProcess rules)."""
    import subprocess

    return subprocess.list2cmdline(list(command))


class Registry(Protocol):
    """The per-user Run key (winreg in real use)."""

    def get(self, key: str, name: str) -> str | None: ...

    def set(self, key: str, name: str, value: str) -> None: ...

    def delete(self, key: str, name: str) -> None: ...


class WinRegistry:
    """HKEY_CURRENT_USER through winreg (Windows only)."""

    def __init__(self) -> None:
        import winreg

        self._winreg = winreg

    def get(self, key: str, name: str) -> str | None:
        winreg = self._winreg
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                value, _ = winreg.QueryValueEx(handle, name)
        except FileNotFoundError:
            return None
        return str(value)

    def set(self, key: str, name: str, value: str) -> None:
        winreg = self._winreg
        with winreg.CreateKeyEx(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
            winreg.SetValueEx(handle, name, 0, winreg.REG_SZ, value)

    def delete(self, key: str, name: str) -> None:
        winreg = self._winreg
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key, 0, winreg.KEY_SET_VALUE) as handle:
                winreg.DeleteValue(handle, name)
        except FileNotFoundError:
            pass


@dataclass(frozen=True)
class AutostartPlan:
    mechanism: str  # "xdg", "run-key", "launch-agent" or "none"
    location: str  # the file, or the registry key and value
    content: bytes  # what is written there
    problem: str = ""  # why it cannot be used here ("" when it can)


class Autostart:
    def __init__(self, *, system: str | None = None, environ: Mapping[str, str] | None = None,
                 home: Path | None = None, command: Sequence[str] | None = None,
                 registry: Registry | None = None) -> None:
        self.system = system or platform.system()
        self._environ = os.environ if environ is None else environ
        self._home = home if home is not None else Path.home()
        self._command = list(command) if command is not None else launch_command(self.system)
        self._registry = registry

    def plan(self) -> AutostartPlan:
        if self.system == "Windows":
            return AutostartPlan("run-key", f"HKCU\\{RUN_KEY}\\{RUN_VALUE}",
                                 windows_run_value(self._command).encode("utf-8"))
        if self.system == "Darwin":
            path = self._home / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT_LABEL}.plist"
            return AutostartPlan("launch-agent", str(path), launch_agent(self._command))
        if self.system in ("Linux", "FreeBSD", "OpenBSD", "NetBSD"):
            config_home = self._environ.get("XDG_CONFIG_HOME", "").strip()
            base = Path(config_home) if config_home and Path(config_home).is_absolute() else self._home / ".config"
            return AutostartPlan("xdg", str(base / "autostart" / DESKTOP_FILE),
                                 desktop_entry(self._command).encode("utf-8"))
        return AutostartPlan("none", "", b"", f"starting at login is not supported on {self.system}")

    def problem(self) -> str:
        return self.plan().problem

    def _registry_or_real(self) -> Registry:
        if self._registry is None:
            self._registry = WinRegistry()
        return self._registry

    def is_enabled(self) -> bool:
        plan = self.plan()
        if plan.mechanism == "run-key":
            return self._registry_or_real().get(RUN_KEY, RUN_VALUE) is not None
        if plan.mechanism in ("xdg", "launch-agent"):
            return Path(plan.location).is_file()
        return False

    def set_enabled(self, enabled: bool) -> None:
        """Create or remove the entry; raises OSError (with the path) when that fails."""
        plan = self.plan()
        if plan.problem:
            raise OSError(plan.problem)
        if plan.mechanism == "run-key":
            registry = self._registry_or_real()
            if enabled:
                registry.set(RUN_KEY, RUN_VALUE, plan.content.decode("utf-8"))
            else:
                registry.delete(RUN_KEY, RUN_VALUE)
        else:
            path = Path(plan.location)
            if enabled:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_bytes(plan.content)
                os.replace(tmp, path)
            else:
                path.unlink(missing_ok=True)
        log.info("start at login %s: %s", "on" if enabled else "off", plan.location)
