"""The one place that creates onnxruntime sessions: provider policy, CPU tuning, and a clear error for bad files.

Policy: ``"auto"`` uses the first available GPU provider (CUDA, then DirectML, then CoreML) with CPU as fallback;
``"cpu"`` uses only the CPU; ``"cuda"``/``"directml"``/``"coreml"`` ask for that provider (CPU stays as fallback).
``get_available_providers()`` lists CUDA even where the session silently falls back to CPU, so the providers that the
session really uses are read back with ``session.get_providers()``, logged and returned.

Telemetry: onnxruntime builds since 1.29 send usage events to Microsoft (DNS lookups and HTTPS uploads to
mobile.events.data.microsoft.com about 10 s after start, every few seconds after) and keep a device id and an event
queue under ``~/.cache/Microsoft/DeveloperTools/.onnxruntime``. Both start when ``onnxruntime`` is imported, and the
only switch that stops both is ``ORT_DISABLE_TELEMETRY=1`` in the environment *before* that import:
``onnxruntime.disable_telemetry_events()`` after the import stops neither (measured with strace on
onnxruntime-gpu 1.31.1). So every import of onnxruntime in Emoji Cam goes through :func:`import_onnxruntime`.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from .errors import ModelError

log = logging.getLogger(__name__)

PROVIDER_NAMES = {
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_AUTO_ORDER = ("cuda", "directml", "coreml")
_CPU = PROVIDER_NAMES["cpu"]
# GPU providers that failed to start in this process: "auto" does not try them again (each failed attempt costs
# time and prints onnxruntime's own error to stderr). Explicit requests still try.
_failed_providers: set[str] = set()
TELEMETRY_SWITCH = "ORT_DISABLE_TELEMETRY"
_TRUE_WORDS = ("1", "true", "yes", "on")


def disable_onnxruntime_telemetry() -> bool:
    """Set ``ORT_DISABLE_TELEMETRY=1`` (whatever it was), so that onnxruntime sends nothing and writes nothing under
    ``~/.cache/Microsoft`` when it is imported. Every entry point calls this first; :func:`import_onnxruntime` too.

    Returns False (and warns) when onnxruntime was already imported by someone else without the switch: its
    telemetry then runs for this process, and only setting ``ORT_DISABLE_TELEMETRY=1`` before starting it helps.
    """
    was_on = os.environ.get(TELEMETRY_SWITCH, "").strip().lower() in _TRUE_WORDS
    os.environ[TELEMETRY_SWITCH] = "1"
    if "onnxruntime" in sys.modules and not was_on:
        log.warning("onnxruntime was imported before Emoji Cam could switch its telemetry off, so it may contact "
                    "Microsoft from this process; set %s=1 in the environment before starting Python",
                    TELEMETRY_SWITCH)
        return False
    return True


def import_onnxruntime():
    """The onnxruntime module, imported with its telemetry switched off (see the module docstring)."""
    disable_onnxruntime_telemetry()
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - a broken installation
        raise ModelError(
            f"onnxruntime cannot be imported ({exc}); reinstall vcam-emoji (it installs onnxruntime or "
            f"onnxruntime-gpu)"
        ) from exc
    return onnxruntime


def requested_providers(providers: str, available: list[str]) -> list[str]:
    """The provider list passed to onnxruntime for a policy name, given ``get_available_providers()``."""
    key = providers.strip().lower()
    if key == "auto":
        chosen = [PROVIDER_NAMES[k] for k in _AUTO_ORDER
                  if PROVIDER_NAMES[k] in available and PROVIDER_NAMES[k] not in _failed_providers]
        return chosen[:1] + [_CPU]
    if key == "cpu":
        return [_CPU]
    if key in PROVIDER_NAMES:
        name = PROVIDER_NAMES[key]
        if name not in available:
            log.warning(
                "execution provider %r was requested but this onnxruntime build does not have %s "
                "(available: %s); using the CPU. For a GPU: `vcam-emoji setup-runtime cuda` (NVIDIA, Windows/Linux) "
                "or `vcam-emoji setup-runtime directml` (Windows); `vcam-emoji doctor` says what is there.",
                key, name, ", ".join(available)
            )
            return [_CPU]
        return [name, _CPU]
    allowed = ", ".join(["auto", *PROVIDER_NAMES])
    raise ModelError(f"providers: expected one of {allowed}, got {providers!r}")


def create_session(model_path: str | Path, providers: str = "auto", threads: int = 0):
    """Create an InferenceSession for ``model_path``.

    ``threads`` = 0 lets onnxruntime choose (all cores); a positive number sets ``intra_op_num_threads``.
    Returns ``(session, providers_used)`` where ``providers_used`` is ``session.get_providers()``.
    """
    ort = import_onnxruntime()
    path = Path(model_path)
    if not isinstance(threads, int) or threads < 0:
        raise ModelError(f"threads: expected an integer >= 0 (0 = automatic), got {threads!r}")
    if not path.is_file():
        raise ModelError(f"{path}: model file not found; check the path or reinstall vcam-emoji")
    available = list(ort.get_available_providers())
    wanted = requested_providers(providers, available)
    if PROVIDER_NAMES["cuda"] in wanted:
        from .gpu import preload_cuda

        preload_cuda(ort)  # the cuda extra's libraries, so that only the NVIDIA driver has to be installed

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # onnxruntime's own warnings (e.g. unused initialisers) stay out of our logs

    quiet_probe = providers.strip().lower() == "auto" and wanted[0] != _CPU
    if quiet_probe:
        # "auto" only probes the GPU: onnxruntime's own multi-line error when the CUDA libraries are missing would
        # read like a failure. The outcome is logged below from session.get_providers().
        ort.set_default_logger_severity(4)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=wanted)
    except Exception as exc:  # onnxruntime raises its own (non-public) exception types for bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: onnxruntime cannot load this model ({first_line}); the file is corrupt, truncated or not an "
            f"ONNX model — reinstall vcam-emoji (pip install --force-reinstall --no-deps vcam-emoji)"
        ) from exc
    finally:
        if quiet_probe:
            ort.set_default_logger_severity(3)
    used = list(session.get_providers())
    log.info("onnxruntime session for %s uses %s (threads=%s)", path.name, ", ".join(used), threads or "auto")
    gpu_wanted = [p for p in wanted if p != _CPU]
    if gpu_wanted and gpu_wanted[0] not in used:
        _failed_providers.add(gpu_wanted[0])
        level = logging.WARNING if providers.strip().lower() != "auto" else logging.INFO
        log.log(level, "%s was requested for %s but the session fell back to %s (driver or library missing?)",
                gpu_wanted[0], path.name, ", ".join(used))
    return session, used
