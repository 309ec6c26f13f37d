"""The interface every frame source implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Source(Protocol):
    """Gives BGR uint8 frames. ``read`` returns None at the end of a finite stream."""

    @property
    def fps(self) -> float: ...

    @property
    def size_wh(self) -> tuple[int, int]: ...

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...
