"""Emojify a recorded video or a photo: read, run the pipeline on every frame, write under fileio's rule.

Every output (the video or image, the timeline) is checked before the first frame is read: it must not be the input
or the other output, and it must not exist unless ``replace`` (``--force``). Each is written to a temporary file
beside its target and renamed at the end, so a failure, Ctrl-C or SIGTERM never leaves a half-written file (nor a
temporary one). Video goes out through PyAV (video_writer.py): H.264 in .mp4 unless another codec is asked for, with
the input's audio track copied in the same pass.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .errors import InputError, OutputError
from .fileio import AtomicFile, check_output
from .pipeline import Pipeline
from .source.image import IMAGE_SUFFIXES, ImageSource, is_image_path
from .source.video_file import VideoFileSource
from .timeline import TimelineWriter
from .video_writer import VIDEO_SUFFIXES, VideoWriter, container_for

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderSummary:
    frames: int
    size_wh: tuple[int, int]
    fps: float
    faces_drawn: int
    frames_with_faces: int
    audio: str  # "copied (aac)", "re-encoded (pcm_s16le to aac)", "none in input", "off", "not applicable"
    video: str = ""  # "h264 in .mp4"; "" for a photo


def _check_paths(input_path: Path, output_path: Path, timeline_path: Path | None, replace: bool,
                 codec: str | None) -> bool:
    """Validate the input and both outputs before anything is read or written; return True for a still image."""
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file; check the path")
    if not input_path.is_file():
        raise InputError(f"{input_path}: not a file")
    if not os.access(input_path, os.R_OK):
        raise InputError(f"{input_path}: not readable (permissions)")
    check_output(output_path, inputs=[input_path], replace=replace)
    if timeline_path is not None:
        check_output(timeline_path, inputs=[input_path], outputs=[output_path], replace=replace, what="timeline")
    image_in = is_image_path(input_path)
    suffix = output_path.suffix.lower()
    if image_in:
        if suffix not in IMAGE_SUFFIXES:
            raise OutputError(f"{output_path}: the input is a photo, so the output must be an image "
                              f"({', '.join(sorted(IMAGE_SUFFIXES))})")
        if codec is not None:
            raise OutputError(f"{output_path}: --codec is for videos; a photo is written as {suffix}")
    elif suffix not in VIDEO_SUFFIXES:
        raise OutputError(f"{output_path}: the output of a video must be a video file "
                          f"({', '.join(sorted(VIDEO_SUFFIXES))})")
    else:
        container_for(output_path, codec=codec)
    return image_in


def render(
    input_path: str | Path,
    output_path: str | Path,
    pipeline: Pipeline,
    timeline_path: str | Path | None = None,
    on_frame: Callable[[int, int | None], None] | None = None,
    copy_audio: bool = True,
    *,
    replace: bool = False,
    codec: str | None = None,
) -> RenderSummary:
    """Emojify ``input_path`` into ``output_path`` (and optionally a JSONL timeline). ``replace``: existing outputs
    may be replaced (``--force``); ``codec``: the video codec (default: the container's, H.264 for .mp4). Raises
    EmojiCamError subclasses."""
    input_path, output_path = Path(input_path), Path(output_path)
    timeline_path = Path(timeline_path) if timeline_path is not None else None
    image_in = _check_paths(input_path, output_path, timeline_path, replace, codec)
    source = ImageSource(input_path) if image_in else VideoFileSource(input_path)
    total = 1 if image_in else getattr(source, "frame_count_hint", None)
    frames = faces_drawn = frames_with_faces = 0
    writer: VideoWriter | None = None
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        out_file = stack.enter_context(AtomicFile(output_path, replace=replace, inputs=[input_path]))
        timeline = None
        if timeline_path is not None:
            tl_file = stack.enter_context(AtomicFile(timeline_path, replace=replace, inputs=[input_path],
                                                     outputs=[output_path], what="timeline"))
            timeline = TimelineWriter(stack.enter_context(open(tl_file.tmp, "w", encoding="utf-8")))
        if not image_in:
            writer = stack.enter_context(VideoWriter(out_file.tmp, source.size_wh, source.fps,
                                                     suffix=output_path.suffix, codec=codec,
                                                     audio_from=input_path if copy_audio else None))
        fps = source.fps
        while (frame := source.read()) is not None:
            out, result = pipeline.process(frame, frames / fps)
            if timeline is not None:
                timeline.write(result)
            if writer is None:
                _write_image(out_file.tmp, out, output_path)
            elif frame.shape[:2] != (source.size_wh[1], source.size_wh[0]):
                raise InputError(f"{input_path}: frame {frames} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"the video started at {source.size_wh[0]}x{source.size_wh[1]}")
            else:
                writer.write(out)
            frames += 1
            faces_drawn += len(result.faces)
            frames_with_faces += bool(result.faces)
            if on_frame is not None:
                on_frame(frames, total)
        if writer is not None:
            writer.close()  # before the ExitStack commits the files
    if writer is None:
        return RenderSummary(frames, source.size_wh, fps, faces_drawn, frames_with_faces, "not applicable")
    audio = writer.audio if copy_audio else "off"
    return RenderSummary(frames, source.size_wh, fps, faces_drawn, frames_with_faces, audio,
                         f"{writer.codec} in {output_path.suffix.lower()}")


def _write_image(tmp: Path, frame: np.ndarray, target: Path) -> None:
    ok, data = cv2.imencode(target.suffix.lower(), frame)
    if not ok:
        raise OutputError(f"{target}: OpenCV cannot encode {target.suffix} images")
    tmp.write_bytes(data.tobytes())
