"""One line naming the machine a benchmark ran on: ms figures are only comparable on the same CPU and instructions.

int8 models in particular ran 2–4x faster on a CPU with AVX-512 VNNI than on one with AVX2 alone (models/MODELS.md).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")


def describe() -> str:
    name, flags = platform.processor() or platform.machine(), []
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        info = ""
    for line in info.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            name = value.strip()
        elif key.strip() == "flags":
            have = set(value.split())
            flags = [f for f in _FLAGS if f in have]
            break
    try:
        from vcam_emoji.onnx_session import import_onnxruntime

        ort = f"onnxruntime {import_onnxruntime().__version__}"
    except Exception:  # not installed, or broken (import_onnxruntime says so with a ModelError)
        ort = "no onnxruntime"
    isa = ", ".join(flags) if flags else "instruction sets not listed"
    return f"machine: {name}, {os.cpu_count()} cores ({isa}); {ort}"
