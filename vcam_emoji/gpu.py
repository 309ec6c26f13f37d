"""What the GPU path needs and what is there: the onnxruntime distribution, the CUDA libraries, the NVIDIA driver.

``onnxruntime-gpu`` (installed on Windows/Linux x86_64) carries the CUDA execution provider but not the CUDA and cuDNN
libraries it loads. The ``cuda`` extra (``pip install "vcam-emoji[cuda]"``) installs them as NVIDIA's wheels; they
live in site-packages, where the dynamic loader does not look, so :func:`preload_cuda` calls
``onnxruntime.preload_dlls()`` once before the first CUDA session: with it, only the NVIDIA driver has to be
installed on the machine. :func:`cuda_report` says, for ``doctor``, which of the three parts is missing and the exact
fix. Nothing here imports onnxruntime at import time, and nothing downloads anything.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

log = logging.getLogger(__name__)

# The onnxruntime distributions: each installs the same `onnxruntime` module, so exactly one may be installed.
RUNTIMES = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml")
CUDA_EXTRA = 'pip install "vcam-emoji[cuda]"'
# The oldest driver for each CUDA major version (NVIDIA's CUDA toolkit release notes: 525 for 12.x, 580 for 13.x).
MIN_DRIVER = {12: "525", 13: "580"}

_preloaded: dict[str, object] = {}  # the one preload of this process (the libraries stay loaded)


def installed_distributions(names: tuple[str, ...] = RUNTIMES) -> dict[str, str]:
    """{distribution: version} of those installed, e.g. ``{"onnxruntime-gpu": "1.31.1"}``."""
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def nvidia_libraries() -> dict[str, str]:
    """{distribution: version} of NVIDIA's CUDA/cuDNN wheels installed here (what the ``cuda`` extra brings)."""
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if name.startswith("nvidia-") and name not in found:
            found[name] = dist.version
    return dict(sorted(found.items()))


def distribution_size(name: str) -> int:
    """Bytes on the disk of an installed distribution's files (its RECORD); 0 if it is not installed."""
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return 0
    total = 0
    for file in dist.files or ():
        path = Path(dist.locate_file(file))
        with contextlib.suppress(OSError):
            if path.is_file():
                total += path.stat().st_size
    return total


def preload_cuda(ort, *, system: str | None = None, libraries: Callable[[], Mapping[str, str]] = nvidia_libraries,
                 driver_version: Callable[[str], int | None] | None = None) -> list[str]:
    """Load the CUDA/cuDNN libraries of the ``cuda`` extra before a CUDA session is created (once per process).

    Does nothing (returns []) where it cannot help: not Windows/Linux, an onnxruntime without ``preload_dlls``
    (before 1.21) or without CUDA, no NVIDIA wheels installed (then a system-wide CUDA on the library path is what
    onnxruntime finds by itself), or no NVIDIA driver (CUDA cannot start anyway). ``preload_dlls`` prints what fails
    to load; those lines are returned and logged, never printed on our stdout.
    """
    if "messages" in _preloaded:
        return _preloaded["messages"]  # type: ignore[return-value]
    system = system or platform.system()
    driver_version = driver_version or cuda_driver_version
    messages: list[str] = []
    if (system in ("Windows", "Linux") and hasattr(ort, "preload_dlls")
            and "CUDAExecutionProvider" in ort.get_available_providers() and libraries()
            and driver_version(system) is not None):  # without the driver CUDA cannot start: load nothing
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                ort.preload_dlls()
        except Exception as exc:  # onnxruntime raises RuntimeError for a bad directory; never stop the app for this
            messages.append(f"preload_dlls failed: {exc}")
        messages += [line for line in out.getvalue().splitlines() if line.strip()]
        log.info("loaded the CUDA/cuDNN libraries of the cuda extra (onnxruntime.preload_dlls)%s",
                 "; " + "; ".join(messages) if messages else "")
    _preloaded["messages"] = messages
    return messages


def _driver_library(system: str) -> str | None:
    return {"Linux": "libcuda.so.1", "Windows": "nvcuda.dll"}.get(system)


def cuda_driver_version(system: str | None = None, load: Callable[[str], object] = ctypes.CDLL) -> int | None:
    """The CUDA version the NVIDIA driver supports (e.g. 13000 for 13.0), or None when no driver is installed."""
    name = _driver_library(system or platform.system())
    if name is None:
        return None
    try:
        library = load(name)
        version = ctypes.c_int(0)
        if library.cuDriverGetVersion(ctypes.byref(version)) != 0:
            return None
    except (OSError, AttributeError):
        return None
    return int(version.value)


def build_cuda_version(ort) -> str:
    """The CUDA version onnxruntime-gpu was built for, e.g. "13.0" ("" if unknown)."""
    return str(getattr(ort, "cuda_version", "") or "")  # onnxruntime-gpu's module attribute (1.21 and later)


@dataclass(frozen=True)
class CudaReport:
    """What the CUDA provider needs here: ``ready`` when all three parts are there; ``fix`` says what to do."""

    text: str
    ready: bool
    fix: str


def cuda_report(ort, *, system: str | None = None, driver_version: int | None | str = "probe",
                libraries: Mapping[str, str] | None = None, session_on_cuda: bool | None = None) -> CudaReport | None:
    """The CUDA line of ``doctor``, or None where onnxruntime has no CUDA provider (CPU, DirectML, CoreML builds).

    ``session_on_cuda``: whether a real session started on CUDA (None: not tried).
    """
    system = system or platform.system()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return None
    built = build_cuda_version(ort)
    major = int(built.split(".")[0]) if built[:1].isdigit() else None
    driver = cuda_driver_version(system) if driver_version == "probe" else driver_version
    libraries = nvidia_libraries() if libraries is None else libraries
    need_driver = f"{MIN_DRIVER[major]} or newer" if major in MIN_DRIVER else "a recent one"
    driver_text = "none found" if driver is None else f"supports CUDA {driver // 1000}.{driver % 1000 // 10}"
    parts = [f"onnxruntime {ort.__version__} built for CUDA {built or '?'}", f"NVIDIA driver: {driver_text}",
             "CUDA/cuDNN libraries: " + (f"the cuda extra ({len(libraries)} NVIDIA wheels)" if libraries else
                                         "not from the cuda extra")]
    text = "CUDA: " + "; ".join(parts)
    if driver is None:
        return CudaReport(text, False, f"no NVIDIA GPU driver here: with an NVIDIA GPU, install its driver "
                                       f"({need_driver} for CUDA {built}) and run {CUDA_EXTRA}; without one the CPU "
                                       "is used")
    if major is not None and driver // 1000 < major:
        return CudaReport(text, False, f"the NVIDIA driver is too old for CUDA {built}: update it to {need_driver}")
    if not libraries and not session_on_cuda:
        return CudaReport(text, False, f"{CUDA_EXTRA} installs the CUDA {built} and cuDNN 9 libraries onnxruntime "
                                       "needs, as wheels (or install them system-wide on the library path)")
    if session_on_cuda is False:
        gpu = (f"; this CUDA {built} build needs a GPU of compute capability 7.5 or newer (Turing: GTX 16xx, RTX 20xx "
               "and later)" if major is not None and major >= 13 else "")
        return CudaReport(text, False, f"driver and libraries are here but the CUDA provider did not start{gpu}; "
                                       "`vcam-emoji render --provider cuda IN OUT` shows onnxruntime's own error")
    return CudaReport(text, True, "")
