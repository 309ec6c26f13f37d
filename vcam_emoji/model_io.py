"""A loaded model against its manifest: the session's input and output tensors, and running it with a clear error.

The stages (classify.py, detect.py) say what their manifest implies (names, ranks, fixed dimensions, element types)
and check the session with :func:`tensor_problems` when they are built, then run it once on a blank input, so that a
model that does not match its manifest is refused when it is loaded (``doctor``, ``render``, a live settings edit
that keeps the running model) instead of failing on the first face. Dimensions onnxruntime reports as names
(``"batch"``) or ``None`` are free; only the fixed ones are compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .errors import ModelError

FLOAT_TYPES = ("tensor(float)",)
FLOAT_OUTPUT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)")


def shape_text(shape: Sequence[Any] | None) -> str:
    if shape is None:
        return "[unknown]"
    return "[" + ", ".join(str(d) if isinstance(d, int) else (str(d) if d else "?") for d in shape) + "]"


def fixed(dim: Any) -> int | None:
    """The dimension as an int when the model fixes it, else None (a name such as "batch", or unknown)."""
    return int(dim) if isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 else None


def tensor_problems(what: str, tensor: Any, *, rank: int, dims: Mapping[int, int] | None = None,
                    types: Sequence[str] = FLOAT_TYPES) -> list[str]:
    """What is wrong with one session input or output (an onnxruntime NodeArg: name, shape, type).

    ``dims`` maps axis -> the size the manifest implies; a fixed dimension of another size is a problem.
    """
    shape = getattr(tensor, "shape", None)
    kind = getattr(tensor, "type", None)
    name = getattr(tensor, "name", "?")
    problems = []
    if kind not in types:
        problems.append(f"{what} {name!r} holds {kind}, expected {' or '.join(types)}")
    if shape is None or len(shape) != rank:
        problems.append(f"{what} {name!r} has shape {shape_text(shape)}, expected {rank} dimensions")
        return problems
    for axis, size in (dims or {}).items():
        if fixed(shape[axis]) is not None and fixed(shape[axis]) != size:
            expected = ["?"] * rank
            for a, s in (dims or {}).items():
                expected[a] = str(s)
            problems.append(f"{what} {name!r} has shape {shape_text(shape)}, the manifest implies "
                            f"[{', '.join(expected)}]")
            break
    return problems


def refuse(source: str, problems: Sequence[str], fix: str) -> None:
    """Raise one ModelError naming every problem, if there are any."""
    if problems:
        raise ModelError(f"{source}: the model does not match its manifest: {'; '.join(problems)}; {fix}")


def run_model(session: Any, output_names: list[str] | None, feeds: Mapping[str, np.ndarray], source: str) -> list:
    """``session.run``, with onnxruntime's own errors (a shape or type the model refuses) as one ModelError."""
    try:
        return session.run(output_names, dict(feeds))
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # onnxruntime raises its own (non-public) exception types
        text = str(exc).strip()
        first_line = text.splitlines()[0][:300] if text else type(exc).__name__
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in feeds.items())
        raise ModelError(f"{source}: onnxruntime cannot run the model on {shapes} ({first_line}); the model does not "
                         "match its manifest — fix the manifest or use another model") from None
