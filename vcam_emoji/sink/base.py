"""The interface every frame sink implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Sink(Protocol):
    """Takes BGR uint8 frames of one fixed size. ``close`` is idempotent."""

    def send(self, frame: np.ndarray) -> None: ...

    def close(self) -> None: ...
