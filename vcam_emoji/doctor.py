"""`vcam-emoji doctor`: what Emoji Cam can see on this machine and what is missing, with how to fix it, per use.

Two uses need different things: live use in a meeting (``run``, ``emoji-cam``) needs a camera and a virtual camera
driver besides the models and packs; rendering and analysing recorded videos and photos need only the models, the
packs and valid settings. Each check says which uses it is needed for; ``Report.ok_for(use)`` is what ``doctor --for
USE`` exits on. ``diagnose`` returns plain data; only the CLI prints it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import gpu
from .app import classifier_spec
from .config import Config, load_config
from .errors import EmojiCamError
from .models import list_models, load_model_spec
from .onnx_session import create_session, import_onnxruntime
from .packs import discover_packs, user_packs_dir
from .sink.preview import display_available


LIVE, RENDER = "live", "render"
USES = {  # use -> (what it is, the commands), for the summary
    LIVE: ("live use in a meeting", "vcam-emoji run, emoji-cam"),
    RENDER: ("rendering and analysing recorded videos and photos", "vcam-emoji render"),
}
ALL_USES = frozenset(USES)
INFO = frozenset()  # a check that no use needs: shown, never fails doctor


@dataclass(frozen=True)
class Check:
    section: str  # "config", "camera", "virtual camera", "display", "tray", "models", "providers", "packs"
    ok: bool
    text: str
    fix: str = ""
    needed_for: frozenset[str] = ALL_USES  # the uses that cannot work while this check fails

    def blocks(self, use: str) -> bool:
        return not self.ok and use in self.needed_for


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...] = field(default_factory=tuple)

    def blocking(self, use: str) -> list[Check]:
        """The failed checks that stop ``use`` from working."""
        return [c for c in self.checks if c.blocks(use)]

    def ok_for(self, use: str) -> bool:
        return not self.blocking(use)

    @property
    def ok(self) -> bool:
        """Every use works."""
        return all(self.ok_for(use) for use in USES)

    def lines(self, use: str = LIVE) -> list[str]:
        """The checks by section: ``ok``, ``!!`` (stops ``use``) or ``--`` (missing, but ``use`` works without)."""
        out, section = [], None
        for c in self.checks:
            if c.section != section:
                section = c.section
                out.append(f"{section}:")
            mark = "ok " if c.ok else ("!! " if c.blocks(use) else "-- ")
            out.append(f"  {mark}{c.text}")
            if c.fix and not c.ok and c.fix not in c.text:
                out.append(f"       fix: {c.fix}")
        return out

    def summary(self, use: str = LIVE) -> list[str]:
        """One line per use (ready, or what stops it), then the verdict for ``use``."""
        out = []
        for name, (what, commands) in USES.items():
            blocking = self.blocking(name)
            state = "ready" if not blocking else "cannot work: " + "; ".join(_short(c.text) for c in blocking)
            out.append(f"{what} ({commands}): {state}")
        what = USES[use][0]
        if self.ok_for(use):
            return out + [f"Ready for {what}."]
        working = [USES[n][0] for n in USES if n != use and self.ok_for(n)]
        also = f" ({working[0]} works here: vcam-emoji doctor --for {RENDER})" if working and use == LIVE else ""
        return out + [f"Not ready for {what}: fix the lines marked !! above.{also}"]


def _short(text: str) -> str:
    return text.split(" (", 1)[0]


def needed_for(*uses: str) -> frozenset[str]:
    unknown = set(uses) - set(USES)
    if unknown:
        raise ValueError(f"unknown use(s) {sorted(unknown)}; uses: {', '.join(USES)}")
    return frozenset(uses)


def _config_checks(config_path: Path) -> tuple[list[Check], Config]:
    try:
        config = load_config(config_path)
    except EmojiCamError as exc:
        return [Check("config", False, f"{config_path}: invalid", str(exc))], Config()
    return [Check("config", True, f"{config_path}: valid")], config


def _camera_checks(config: Config, list_cameras: Callable[..., list]) -> list[Check]:
    cameras = list_cameras(virtual_camera_name=config.output.virtual_camera_name)
    checks = []
    for cam in cameras:
        where = f" {cam.path}" if cam.path else ""
        if cam.usable:
            sizes = ", ".join(f"{w}x{h}" for w, h in cam.resolutions)
            checks.append(Check("camera", True, f"{cam.index}: {cam.name}{where} via {cam.backend}: {sizes}"))
        else:
            checks.append(Check("camera", False, f"{cam.index}: {cam.name}{where}: {cam.skipped or 'no frames'}",
                                needed_for=INFO))
    if not any(c.ok for c in checks):
        checks.append(Check("camera", False, "no usable camera found (`vcam-emoji run` shows the demo clip instead)",
                            "plug in a webcam, close apps that hold it, and check camera permissions for this "
                            "terminal/app in the system settings", needed_for=needed_for(LIVE)))
    return checks


def _vcam_checks(config: Config, describe_backends: Callable[..., list]) -> list[Check]:
    statuses = describe_backends(name=config.output.virtual_camera_name, probe=True)
    checks = [Check("virtual camera", s.available, f"{s.backend}: apps show it as {s.shows_as!r}"
                    if s.shows_as and s.available else f"{s.backend}: not available", s.fix if s.available else "",
                    needed_for=INFO) for s in statuses]
    if not any(s.available for s in statuses):
        fix = next((s.fix for s in statuses if s.fix), "")
        checks.append(Check("virtual camera", False, "no virtual camera driver: meeting apps cannot see Emoji Cam "
                            "(`vcam-emoji run` falls back to a preview window or a file)", fix,
                            needed_for=needed_for(LIVE)))
    return checks


def _try_model(spec, config: Config) -> str:
    """Build the stage for ``spec`` the way the app does (checked against its manifest, run once on a blank input);
    returns how long that run took. Raises EmojiCamError with the reason."""
    import time

    from .classify import create_classifier
    from .detect import create_detector

    providers = config.runtime.execution_provider
    if spec.task == "face_detection":
        detector = create_detector(spec, providers=providers, threads=1)
        blank, start = np.zeros((480, 640, 3), np.uint8), time.perf_counter()
        detector(blank)
    else:
        classifier, _ = create_classifier(spec, providers=providers, threads=1)
        h, w = classifier.input.size_hw
        blank, start = np.zeros((1, h, w), np.uint8), time.perf_counter()
        classifier.predict_crops(blank)
    return f"{(time.perf_counter() - start) * 1000:.1f} ms"


def _model_checks(config: Config) -> list[Check]:
    """Every bundled model and the configured ones: manifest, sha256, then loaded and run once on a blank input."""
    checks = []
    try:
        names = list_models()
    except EmojiCamError as exc:
        return [Check("models", False, "bundled models folder missing", str(exc))]
    for name in names:
        try:
            spec = load_model_spec(name)
            took = _try_model(spec, config)
        except EmojiCamError as exc:
            checks.append(Check("models", False, f"{name}: broken", str(exc)))
            continue
        checks.append(Check("models", True, f"{name} ({spec.task}, {spec.license}): sha256 {spec.sha256[:16]}… "
                                            f"matches; loads and runs on a blank input ({took})"))
    for key, value, task in (("detector.model", config.detector.model, "face_detection"),
                             ("classifier.model", config.classifier.model, "expression_classification")):
        if value not in ("auto", "default") and value not in names:
            try:
                took = _try_model(load_model_spec(value, task=task), config)
                checks.append(Check("models", True, f"{key} = {value}: loads and runs on a blank input ({took})"))
            except EmojiCamError as exc:
                checks.append(Check("models", False, f"{key} = {value}: cannot be used", str(exc)))
    return checks


# in the order "auto" tries them (onnx_session), then the ones Emoji Cam never asks for
GPU_PROVIDERS = ("CUDAExecutionProvider", "DmlExecutionProvider", "CoreMLExecutionProvider",
                 "TensorrtExecutionProvider", "ROCMExecutionProvider", "MIGraphXExecutionProvider")


def _provider_checks(config: Config) -> list[Check]:
    ort = import_onnxruntime()
    wanted = config.runtime.execution_provider
    available = ort.get_available_providers()
    checks = [Check("execution providers", True, f"onnxruntime {ort.__version__} ({ort.get_device()} build) lists: "
                                                 f"{', '.join(available)}", needed_for=INFO)]
    try:
        spec = classifier_spec(config.classifier.model)
        _, used = create_session(spec.path, providers=wanted, threads=1)
    except EmojiCamError as exc:
        return checks + [Check("execution providers", False, f"cannot create a session: {exc}")]
    gpu_asked = wanted not in ("cpu",)
    gpu_listed = [p for p in GPU_PROVIDERS if p in available]
    on_gpu = any(p in GPU_PROVIDERS for p in used)
    if not gpu_asked or on_gpu:
        fix = ""
    elif gpu_listed:
        fix = (f"{gpu_listed[0]} is listed but could not start (see the CUDA line); the CPU path is used and is fast "
               "enough for one or two faces")
    elif wanted != "auto":
        fix = (f"this onnxruntime build has no {wanted} provider: `vcam-emoji setup-runtime cuda` (NVIDIA) or "
               "`vcam-emoji setup-runtime directml` (Windows) installs one")
    else:
        fix = ""  # a CPU build asked for "auto": the CPU is what it has
    checks.append(Check("execution providers", not fix, f"asked for {wanted!r}, a session actually uses: "
                        f"{', '.join(used)}", fix, needed_for=INFO))
    cuda = gpu.cuda_report(ort, session_on_cuda="CUDAExecutionProvider" in used if gpu_asked else None)
    installed = gpu.installed_distributions()
    return checks + runtime_checks(installed, used, cuda, system=platform.system(),
                                   gpu_size_mb=gpu.distribution_size("onnxruntime-gpu") / 1e6)


def runtime_checks(installed: dict[str, str], used: list[str], cuda: gpu.CudaReport | None, *, system: str,
                   gpu_size_mb: float) -> list[Check]:
    """The onnxruntime distributions installed, the CUDA line, and how a CPU-only machine slims the install."""
    checks = []
    names = ", ".join(f"{name} {version}" for name, version in installed.items())
    if len(installed) > 1:
        checks.append(Check("execution providers", False, f"{names} are installed together: they overwrite each "
                            "other's onnxruntime files", "`vcam-emoji setup-runtime cpu|cuda|directml` uninstalls "
                            "them all and installs the one you choose"))
    elif installed:
        checks.append(Check("execution providers", True, f"installed: {names}", needed_for=INFO))
    if cuda is not None:
        fix = cuda.fix
        if system == "Windows" and not cuda.ready:
            fix += "; for an AMD or Intel GPU: `vcam-emoji setup-runtime directml`"
        checks.append(Check("execution providers", cuda.ready, cuda.text, fix, needed_for=INFO))
    if "onnxruntime-gpu" in installed and "CUDAExecutionProvider" not in used and gpu_size_mb > 0:
        checks.append(Check("execution providers", False, "slimmer install for a CPU-only machine: `vcam-emoji "
                            f"setup-runtime cpu` swaps onnxruntime-gpu ({gpu_size_mb:.0f} MB here) for onnxruntime "
                            "(about a fifth of that)", needed_for=INFO))
    return checks


def _pack_checks(config: Config) -> list[Check]:
    packs, errors = discover_packs()
    checks = [Check("packs", True, f"{p.name} ({'built-in' if p.builtin else 'user'}, {p.license})")
              for p in sorted(packs.values(), key=lambda p: p.name)]
    checks += [Check("packs", False, str(e), "fix the file named, or remove the folder", needed_for=INFO)
               for e in errors]
    if config.pack.name not in packs:
        checks.append(Check("packs", False, f"pack.name = {config.pack.name!r} is not installed",
                            f"choose one of {', '.join(sorted(packs))}, or add it to {user_packs_dir()}"))
    return checks


def _tray_checks(describe_tray: Callable[[], object] | None) -> Iterable[Check]:
    if describe_tray is None:
        return []
    tray = describe_tray()  # a tray.backend.TrayReport: backend, has_menu, reason, fix, text()
    return [Check("tray", tray.has_menu, tray.text(), tray.fix, needed_for=INFO)]


def diagnose(config_path: Path, *, list_cameras: Callable[..., list] | None = None,
             describe_backends: Callable[..., list] | None = None,
             describe_tray: Callable[[], object] | None = None) -> Report:
    """Check everything; ``describe_tray`` (the tray package's ``describe_tray_backend``, which the CLI finds
    through the ``vcam_emoji.doctor`` entry point, as the engine imports no UI) adds which tray ``emoji-cam`` would show and how to get its menu."""
    if list_cameras is None:
        from .source.camera import list_cameras
    if describe_backends is None:
        from .sink.virtual_camera import describe_backends
    checks, config = _config_checks(config_path)
    checks += _camera_checks(config, list_cameras)
    checks += _vcam_checks(config, describe_backends)
    checks.append(Check("display", display_available(), f"{platform.system()}: "
                        + ("a display is available (preview window, tray)" if display_available() else
                           "no display (no preview window or tray; output goes to the virtual camera or a file)"),
                        needed_for=INFO))
    checks += _tray_checks(describe_tray)
    checks += _model_checks(config)
    checks += _provider_checks(config)
    checks += _pack_checks(config)
    return Report(tuple(checks))
