"""One line naming the machine a benchmark ran on: ms figures are only comparable on the same CPU and instructions.

int8 models in particular ran 2–4x faster on a CPU with AVX-512 VNNI than on one with AVX2 alone (models/MODELS.md).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def describe() -> str:
    name, flags, family, model, mhz = platform.processor() or platform.machine(), [], "", "", ""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "model name" and value:
            name = value
        elif key == "cpu family":
            family = value
        elif key == "model":
            model = value
        elif key == "cpu MHz":
            mhz = value.split(".")[0]
        elif key == "flags":
            have = set(value.split())
            flags = [f for f in _FLAGS if f in have]
            break
    try:
        from vcam_emoji.onnx_session import import_onnxruntime

        ort = f"onnxruntime {import_onnxruntime().__version__}"
    except Exception:  # not installed, or broken (import_onnxruntime says so with a ModelError)
        ort = "no onnxruntime"
    isa = ", ".join(flags) if flags else "instruction sets not listed"
    # A vague model name ("AMD EPYC") hides the generation: family 23 model 1 (Zen 1, 2 GHz) ran our models about
    # twice as slow as the EPYC of the earlier AVX2 figures, so family, model and clock go into the line too.
    detail = ", ".join(part for part in (family and f"family {family} model {model}", mhz and f"{mhz} MHz") if part)
    return f"machine: {name}{f' ({detail})' if detail else ''}, {os.cpu_count()} cores ({isa}); {ort}"
