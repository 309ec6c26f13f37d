"""Argparse ``type=`` functions for numeric options: finite, in range, or a usage error (exit 2) that says so.

``float("inf")``, ``float("nan")`` and ``-1`` parse as floats, so ``type=float`` lets them through to code that hangs
(a timer that never fires) or quietly does nothing. Every numeric option of every command uses one of these instead::

    p.add_argument("--seconds", type=positive_seconds)
    p.add_argument("--jobs", type=int_range(0, 256, note="0 = one per CPU core"))

A bad value ends the parse with argparse's usage line and, e.g.,
``argument --seconds: must be a finite number above 0 and at most 2592000 (30 days), got 'inf'``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_SECONDS = 30 * 24 * 3600  # a timer must fit every platform's threading.TIMEOUT_MAX (Windows: ~49 days)
MAX_SEED = 2**32 - 1  # numpy's seed range; torch and random take it too


def _bound(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _describe(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """'above 0', '0 or more', 'from 0 to 1', 'above 0 and at most 30', 'from 0 to below 1', ..."""
    if low is not None and high is not None:
        if not low_open and not high_open:
            return f"from {_bound(low)} to {_bound(high)}"
        start = f"above {_bound(low)}" if low_open else f"at least {_bound(low)}"
        end = f"below {_bound(high)}" if high_open else f"at most {_bound(high)}"
        return f"{start} and {end}"
    if low is not None:
        return f"above {_bound(low)}" if low_open else f"{_bound(low)} or more"
    if high is not None:
        return f"below {_bound(high)}" if high_open else f"{_bound(high)} or less"
    return ""


def number_type(
    low: float | None = None,
    high: float | None = None,
    *,
    integer: bool = False,
    low_open: bool = False,
    high_open: bool = False,
    note: str = "",
    name: str | None = None,
) -> Callable[[str], float | int]:
    """A ``type=`` function: the text as a finite float (or a whole number with ``integer``) within ``low``..``high``
    (``None``: no bound; ``low_open``/``high_open``: the bound itself is excluded), else ArgumentTypeError, which
    argparse turns into ``argument --X: must be ...`` and exit 2. ``note`` is said in brackets, e.g. "0 = off"."""
    kind = "a whole number" if integer else "a finite number"
    wanted = " ".join(part for part in (kind, _describe(low, high, low_open, high_open)) if part)
    if note:
        wanted += f" ({note})"

    def parse(text: str) -> float | int:
        try:
            value: float | int = int(text) if integer else float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if not integer and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        if ((low is not None and (value <= low if low_open else value < low))
                or (high is not None and (value >= high if high_open else value > high))):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    parse.__name__ = name or ("int" if integer else "float")  # argparse names the type in some of its messages
    return parse


def float_range(low: float | None, high: float | None, *, low_open: bool = False, high_open: bool = False,
                note: str = "") -> Callable[[str], float]:
    """A finite float within ``low``..``high`` (bounds included unless ``*_open``)."""
    return number_type(low, high, low_open=low_open, high_open=high_open, note=note)  # type: ignore[return-value]


def int_range(low: int | None, high: int | None, *, note: str = "") -> Callable[[str], int]:
    """A whole number within ``low``..``high`` (both included; ``None``: no bound)."""
    return number_type(low, high, integer=True, note=note)  # type: ignore[return-value]


finite_float = number_type(name="finite_float")
"""Any finite float."""

non_negative_float = number_type(0.0, name="non_negative_float")
"""A finite float, 0 or more."""

positive_float = number_type(0.0, low_open=True, name="positive_float")
"""A finite float above 0."""

positive_int = number_type(1, integer=True, name="positive_int")
"""A whole number, 1 or more."""

non_negative_int = number_type(0, integer=True, name="non_negative_int")
"""A whole number, 0 or more."""

positive_seconds = number_type(0.0, MAX_SECONDS, low_open=True, note="30 days", name="positive_seconds")
"""A duration for a timer: above 0 and at most :data:`MAX_SECONDS`."""

seed = number_type(0, MAX_SEED, integer=True, name="seed")
"""A random seed: 0 .. 2**32 - 1."""

port = number_type(0, 65535, integer=True, note="0 = any free port", name="port")
"""A TCP port: 0 .. 65535."""
