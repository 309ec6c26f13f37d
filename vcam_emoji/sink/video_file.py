"""Records the live output to a video file: the same writer as ``render`` (H.264 in .mp4 by default), under the
write rule of fileio.py.

The recording goes to ``NAME.partial-<8 random hex digits>.EXT`` beside the target (e.g. ``rec.partial-eab91dba.mp4``)
and takes the target's name when it stops; an existing file is never replaced unless ``replace`` (``--force``), and
with ``numbered`` (names the program picks) a taken name becomes ``NAME-2.EXT``, ``NAME-3.EXT``, ... It is written as
fragmented MP4 (or Matroska, WebM), so if the process is killed the partial file plays up to its last two seconds.
``max_bytes`` stops the recording at that size: the file is finished and kept, and later frames are dropped (the
caller is told once, through the log). A recording closed before its first frame leaves no file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..fileio import AtomicFile, PathLike, check_output
from ..video_writer import VideoWriter, container_for

log = logging.getLogger(__name__)


class VideoFileSink:
    """``send`` appends a BGR frame of exactly ``size_wh``; ``close`` finishes the file and gives it its name
    (idempotent). ``path`` is the name it has (or will have); ``stopped_at_cap`` says the size cap was reached."""

    def __init__(
        self,
        path: PathLike,
        size_wh: tuple[int, int],
        fps: float,
        *,
        replace: bool = False,
        numbered: bool = False,
        inputs: Iterable[PathLike | None] = (),
        outputs: Iterable[PathLike | None] = (),
        max_bytes: int | None = None,
        codec: str | None = None,
    ) -> None:
        target = Path(path)
        inputs, outputs = list(inputs), list(outputs)
        check_output(target, inputs=inputs, outputs=outputs, replace=True, what="recording")  # a folder, an input
        container_for(target, codec=codec)  # an unknown suffix or codec is refused before a file is made
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.size_wh = (int(size_wh[0]), int(size_wh[1]))
        self.max_bytes = max_bytes
        self.numbered = numbered
        self._pending = AtomicFile(target, replace=replace, numbered=numbered, inputs=inputs, outputs=outputs,
                                   what="recording",
                                   hidden=False)
        self.path = self._pending.target
        try:
            self._writer: VideoWriter | None = VideoWriter(self._pending.tmp, self.size_wh, fps, suffix=target.suffix,
                                                           codec=codec, live=True)
        except BaseException:
            self._pending.discard()
            raise
        self.codec = self._writer.codec
        self.frames_written = 0
        self.frames_dropped = 0
        self.stopped_at_cap = False
        self._closed = False

    @property
    def partial_path(self) -> Path:
        """Where the recording is while it runs (what a kill would leave)."""
        return self._pending.tmp

    def send(self, frame: np.ndarray) -> None:
        if self._closed:
            raise OutputError(f"{self.path}: the video file is already closed")
        if self._writer is None:  # stopped at the size cap
            self.frames_dropped += 1
            return
        h, w = frame.shape[:2]
        if (w, h) != self.size_wh:
            raise ValueError(f"frame size {w}x{h} does not match the video size {self.size_wh[0]}x{self.size_wh[1]}")
        self._writer.write(frame)
        self.frames_written += 1
        if self.max_bytes is not None and self._writer.bytes_written >= self.max_bytes:
            self._finish()
            self.stopped_at_cap = True
            log.warning("%s reached its size cap of %s after %d frames: recording stopped (the file is complete); "
                        "later frames are not recorded", self.path, format_size(self.max_bytes), self.frames_written)

    def _finish(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        if self.frames_written == 0:  # stopped before the first frame (an error elsewhere): leave nothing behind
            writer.abort()
            self._pending.discard()
            log.info("%s: nothing was recorded, so no file was written", self.path)
            return
        try:
            writer.close()
        except Exception as exc:  # keep what was recorded: the fragments written so far play
            log.error("%s: finishing the recording failed (%s); keeping what was recorded", self.path, exc)
            self.path = self._pending.commit()
            raise OutputError(f"{self.path}: finishing the recording failed ({exc}); what was recorded until then "
                              "is kept") from None
        self.path = self._pending.commit()
        log.info("recording saved: %s (%d frames)", self.path, self.frames_written)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finish()

    def __enter__(self) -> "VideoFileSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def format_size(n_bytes: int) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:g} {unit}"
    return f"{n_bytes} bytes"
