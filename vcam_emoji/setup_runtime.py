"""`vcam-emoji setup-runtime cpu|cuda|directml [--dry-run]`: switch the onnxruntime that runs the models.

onnxruntime, onnxruntime-gpu and onnxruntime-directml all install the same ``onnxruntime`` module, so they overwrite
each other, and a pip extra can only add a distribution, never remove one: ``pip install onnxruntime-directml`` on top
of onnxruntime-gpu leaves a mix of both. This command does the switch honestly, with this Python's pip: it downloads
the one asked for into a temporary folder first (so that no network, a proxy or a missing wheel stops it before
anything is changed), then uninstalls every onnxruntime distribution that is installed and installs the downloaded
one from that folder only; should that last step still fail, it puts the earlier runtime back.

- ``cpu``: onnxruntime (the CPU build, a fraction of onnxruntime-gpu's size), for machines without a GPU;
- ``cuda``: onnxruntime-gpu with the CUDA/cuDNN wheels of the ``cuda`` extra (Windows/Linux x86_64, NVIDIA driver);
- ``directml``: onnxruntime-directml (Windows: any DirectX 12 GPU, AMD and Intel too).

vcam-emoji's own metadata still names the platform's default runtime (onnxruntime-gpu on Windows/Linux x86_64), so
``pip check`` reports it missing after a switch away from it, and upgrading vcam-emoji brings it back: run this
command again after an upgrade. ``vcam-emoji doctor`` reports which distributions are installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata

from packaging.markers import default_environment
from packaging.requirements import Requirement

from .errors import EmojiCamError
from .gpu import RUNTIMES, installed_distributions

DISTRIBUTION = "vcam-emoji"
# onnxruntime-directml is Windows-only and is released on its own schedule: the newest release, pinned.
DIRECTML = "onnxruntime-directml==1.24.4"
CHOICES = ("cpu", "cuda", "directml")
EXIT_OK = 0


def _requirements(extra: str | None, environment: Mapping[str, str], requires: list[str]) -> list[Requirement]:
    """vcam-emoji's requirements for ``extra`` (None: the core ones) that apply on ``environment``."""
    chosen = []
    for line in requires:
        requirement = Requirement(line)
        marker = requirement.marker
        in_extra = marker is not None and "extra" in str(marker)
        if (extra is None) == in_extra:
            continue
        if marker is None or marker.evaluate({**environment, "extra": extra or ""}):
            chosen.append(requirement)
    return chosen


def _pinned(requirement: Requirement) -> str:
    extras = f"[{','.join(sorted(requirement.extras))}]" if requirement.extras else ""
    return f"{requirement.name}{extras}{requirement.specifier}"


def default_runtime(environment: Mapping[str, str], requires: list[str]) -> str | None:
    """The onnxruntime distribution vcam-emoji's metadata installs on this platform."""
    for requirement in _requirements(None, environment, requires):
        if requirement.name in RUNTIMES:
            return requirement.name
    return None


def plan(target: str, *, installed: Mapping[str, str], system: str, environment: Mapping[str, str],
         requires: list[str], wheels: str = "WHEELS") -> list[list[str]]:
    """The pip argument lists that switch to ``target``: download it (and what it needs) into the folder ``wheels``,
    uninstall every installed runtime, then install it from ``wheels`` alone.

    Uninstalling the target too (when it is installed) matters: the files the runtimes share may already be another
    runtime's, and pip would call the target "already satisfied". Raises EmojiCamError where ``target`` cannot work.
    """
    if target == "cpu":
        version = next(iter(installed.values()), "")
        install = [f"onnxruntime=={version}" if version else "onnxruntime"]
    elif target == "cuda":
        install = [_pinned(r) for r in _requirements("cuda", environment, requires)]
        if not install:
            raise EmojiCamError(f"onnxruntime-gpu has CUDA wheels for Windows and Linux on x86_64 only, not for "
                                f"{system} on {environment.get('platform_machine', '?')}; use cpu"
                                + (" (on macOS onnxruntime uses the GPU through CoreML by itself)"
                                   if system == "Darwin" else ""))
    elif target == "directml":
        if system != "Windows":
            raise EmojiCamError(f"DirectML exists on Windows only, not on {system}; for an NVIDIA GPU use cuda")
        install = [DIRECTML]
    else:
        raise EmojiCamError(f"unknown runtime {target!r}; choose one of {', '.join(CHOICES)}")
    steps = [["download", "--dest", wheels, *install]]
    if installed:
        steps.append(["uninstall", "-y", *installed])
    return steps + [["install", "--no-index", "--find-links", wheels, *install]]


def _shown(steps: list[list[str]]) -> str:
    return "\n".join("  " + " ".join(f'"{part}"' if any(c in part for c in " [<>") else part
                                      for part in [sys.executable, "-m", "pip", *step]) for step in steps)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "setup-runtime", help="switch the onnxruntime that runs the models: cpu (smallest), cuda (NVIDIA), directml "
        "(Windows GPUs); it uninstalls the others first",
        description="Switch the onnxruntime build with this Python's pip: uninstall every onnxruntime distribution, "
        "then install the one asked for. cpu: onnxruntime, the smallest install, for machines without a GPU; cuda: "
        "onnxruntime-gpu with the CUDA and cuDNN wheels (only the NVIDIA driver is then needed); directml: "
        "onnxruntime-directml (Windows, any DirectX 12 GPU). Quit emoji-cam first. After a vcam-emoji upgrade, run it "
        "again.")
    p.add_argument("runtime", choices=CHOICES)
    p.add_argument("--dry-run", action="store_true", help="print the pip commands; change nothing")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace, *, system: str | None = None, installed: Mapping[str, str] | None = None,
        requires: list[str] | None = None, runner: Callable[[list[str]], int] | None = None,
        has_pip: bool | None = None) -> int:
    system = system or platform.system()
    installed = installed_distributions() if installed is None else installed
    if requires is None:
        try:
            requires = metadata.requires(DISTRIBUTION) or []
        except metadata.PackageNotFoundError:
            raise EmojiCamError(f"{DISTRIBUTION} is not installed as a distribution here; install it with pip "
                                "first") from None
    environment = dict(default_environment())
    if args.dry_run:
        steps = plan(args.runtime, installed=installed, system=system, environment=environment, requires=requires,
                     wheels="<a temporary folder>")
        print("would run:\n" + _shown(steps))
        return EXIT_OK
    if has_pip is None:
        has_pip = importlib.util.find_spec("pip") is not None
    runner = runner or (lambda command: subprocess.run(command, check=False).returncode)
    with tempfile.TemporaryDirectory(prefix="vcam-emoji-runtime-") as wheels:
        steps = plan(args.runtime, installed=installed, system=system, environment=environment, requires=requires,
                     wheels=wheels)
        if not has_pip:
            raise EmojiCamError("this Python has no pip; run the same with your installer (e.g. uv pip), with a "
                                "folder of your own for the downloads:\n" + _shown(steps))
        for step in steps:
            print("vcam-emoji: pip " + " ".join(step), file=sys.stderr, flush=True)
            code = runner([sys.executable, "-m", "pip", *step])
            if code == 0:
                continue
            if step[0] == "download":
                raise EmojiCamError(f"pip download failed (exit {code}; its message is above); nothing was changed. "
                                    "Check the network or proxy (pip needs PyPI for this), then run `vcam-emoji "
                                    f"setup-runtime {args.runtime}` again")
            if step[0] == "install" and installed:
                back = [f"{name}=={version}" for name, version in installed.items()]
                print("vcam-emoji: putting back " + " ".join(back), file=sys.stderr, flush=True)
                restored = runner([sys.executable, "-m", "pip", "install", *back]) == 0
                state = ("the earlier runtime is back" if restored else
                         f"putting the earlier one back failed too (run `pip install {' '.join(back)}`)")
                raise EmojiCamError(f"pip install failed (exit {code}); {state}; quit emoji-cam and anything else "
                                    f"using onnxruntime, then run `vcam-emoji setup-runtime {args.runtime}` again")
            raise EmojiCamError(f"pip {step[0]} failed (exit {code}); quit emoji-cam and anything else using "
                                f"onnxruntime, then run `vcam-emoji setup-runtime {args.runtime}` again")
    target = {"cpu": "onnxruntime", "cuda": "onnxruntime-gpu", "directml": "onnxruntime-directml"}[args.runtime]
    default = default_runtime(environment, requires)
    print(f"vcam-emoji: {target} installed; `vcam-emoji doctor` shows the execution provider a session really uses",
          file=sys.stderr)
    if default and default != target:
        print(f"vcam-emoji: note: vcam-emoji's metadata asks for {default}, so `pip check` reports it missing and "
              f"upgrading vcam-emoji installs it again; run `vcam-emoji setup-runtime {args.runtime}` after an "
              "upgrade", file=sys.stderr)
    return EXIT_OK
