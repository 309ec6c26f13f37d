"""`vcam-emoji setup-vcam [--dry-run]`: install the virtual camera that meeting apps pick.

On Linux it runs the set-up script that ships inside the package (``installers/setup-v4l2loopback.sh``: installs
v4l2loopback, creates the camera under the configured name, loads it), through ``sudo`` when it is not already root.
On Windows and macOS no script can do it for the user (a driver or an app to install from its own site), so it prints
the exact steps instead.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .cli_types import int_range
from .errors import DeviceError

SCRIPT = Path(__file__).resolve().parent / "installers" / "setup-v4l2loopback.sh"
PROG = "vcam-emoji setup-vcam"
EXIT_OK, EXIT_FAIL = 0, 1


def windows_steps(name: str) -> list[str]:
    return [
        f"Windows: Emoji Cam sends to Unity Capture, registered under the name {name!r} (or to OBS's camera).",
        "  1. Download Unity Capture: https://github.com/schellingb/UnityCapture (Code > Download ZIP), unzip it.",
        "  2. Open a Command Prompt as administrator in its Install folder and run:",
        f'       regsvr32 UnityCaptureFilter64.dll "/i:UnityCaptureName={name}"',
        f'       regsvr32 UnityCaptureFilter32.dll "/i:UnityCaptureName={name}"   (for 32-bit apps)',
        "  Or: winget install OBSProject.OBSStudio, start OBS and click Start Virtual Camera once; meeting apps then",
        "  show the camera as 'OBS Virtual Camera'.",
    ]


def macos_steps(name: str) -> list[str]:
    return [
        "macOS: Emoji Cam sends to OBS Studio's virtual camera (OBS 30 or newer).",
        "  1. brew install --cask obs   (or download it from https://obsproject.com)",
        "  2. Start OBS, click Start Virtual Camera once and allow its system extension in System Settings >",
        "     Privacy & Security; then quit OBS.",
        f"  Meeting apps show it as 'OBS Virtual Camera' (macOS does not let Emoji Cam name it {name!r}).",
    ]


def linux_command(script_args: Sequence[str], *, dry_run: bool, is_root: bool,
                  which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The command that runs the packaged script: through sudo unless root or a dry run. Raises DeviceError."""
    bash = which("bash")
    if bash is None:
        raise DeviceError(f"the virtual-camera set-up is a bash script ({SCRIPT}) and there is no bash here; "
                          "install bash, or set up v4l2loopback by hand")
    command = [bash, str(SCRIPT), "--prog", PROG, *script_args]
    if dry_run or is_root:
        return command
    sudo = which("sudo")
    if sudo is None:
        shown = " ".join(f"'{part}'" if " " in part else part for part in command)
        raise DeviceError(f"installing v4l2loopback needs root and there is no sudo here; as root run: {shown}")
    return [sudo, *command]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "setup-vcam", help="install the virtual camera meeting apps pick (Linux: v4l2loopback, asks for sudo; "
        "Windows/macOS: prints the steps)",
        description="Install the virtual camera that Zoom, Teams, Meet and browsers pick. Linux: runs the set-up "
        "script that ships with Emoji Cam (installs v4l2loopback-dkms/utils or Fedora's akmod, creates the camera, "
        "loads it), through sudo. Windows and macOS: prints the exact steps.")
    p.add_argument("--dry-run", action="store_true", help="print every command and file; change nothing")
    p.add_argument("--name", help="the camera name apps show (default: the config's output.virtual_camera_name)")
    p.add_argument("--video-nr", type=int_range(0, 255), metavar="N",
                   help="Linux: the camera becomes /dev/videoN, 0..255 (default: 10)")
    p.add_argument("--skip-install", action="store_true", help="Linux: v4l2loopback is installed already")
    p.add_argument("--config", metavar="PATH", help="settings file (for the camera name)")
    p.set_defaults(func=run)
    return p


def _camera_name(args: argparse.Namespace) -> str:
    if args.name:
        return args.name
    from .cli import load_settings

    config, _ = load_settings(args.config)
    return config.output.virtual_camera_name or "Emoji Cam"


def run(args: argparse.Namespace, *, system: str | None = None, is_root: bool | None = None,
        runner: Callable[[list[str]], int] | None = None) -> int:
    system = system or platform.system()
    name = _camera_name(args)
    if system != "Linux":
        steps = windows_steps(name) if system == "Windows" else macos_steps(name) if system == "Darwin" else [
            f"{system}: Emoji Cam has no virtual camera here; use `vcam-emoji run --sink preview` or a video file."]
        print("\n".join(steps))
        if args.dry_run:
            return EXIT_OK
        print(f"\nvcam-emoji: nothing was installed: on {system} the steps above are yours to do; "
              "then `vcam-emoji doctor` shows whether the camera is found.", file=sys.stderr)
        return EXIT_FAIL
    script_args = ["--name", name]
    script_args += ["--video-nr", str(args.video_nr)] if args.video_nr is not None else []
    script_args += ["--dry-run"] if args.dry_run else []
    script_args += ["--skip-install"] if args.skip_install else []
    if is_root is None:
        is_root = os.geteuid() == 0
    command = linux_command(script_args, dry_run=args.dry_run, is_root=is_root)
    if not (args.dry_run or is_root):
        print("vcam-emoji: installing v4l2loopback needs root: running the set-up script with sudo (it may ask "
              "for your password)", file=sys.stderr)
    runner = runner or (lambda cmd: subprocess.run(cmd, check=False).returncode)
    code = runner(command)
    if code == 0 and not args.dry_run:
        print("vcam-emoji: done; `vcam-emoji doctor` checks it, `vcam-emoji run` or emoji-cam uses it",
              file=sys.stderr)
    return code
