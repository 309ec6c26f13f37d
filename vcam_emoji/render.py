"""Emojify a recorded video or a photo: read, run the pipeline on every frame, write atomically.

Outputs are written to a temporary file beside the target and renamed at the end, so a failure never leaves a
half-written video or timeline. Audio is copied from the input when an ffmpeg is available (imageio-ffmpeg ships one).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from .errors import InputError, OutputError
from .pipeline import Pipeline
from .sink.video_file import FOURCC_BY_SUFFIX, VideoFileSink
from .source.image import IMAGE_SUFFIXES, ImageSource, is_image_path
from .source.video_file import VideoFileSource
from .timeline import TimelineWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderSummary:
    frames: int
    size_wh: tuple[int, int]
    fps: float
    faces_drawn: int
    frames_with_faces: int
    audio: str  # "copied", "none in input", "no ffmpeg", ...


def find_ffmpeg() -> str | None:
    """An ffmpeg executable: imageio-ffmpeg's bundled one, else one on PATH, else None."""
    try:
        import imageio_ffmpeg  # optional dependency (the "audio" extra)

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: the folder {folder} does not exist; create it first")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".partial{path.suffix}", dir=folder)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {folder} ({exc.strerror}); choose a writable folder") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_paths(input_path: Path, output_path: Path) -> bool:
    """Validate the pair; return True for a still image."""
    if not input_path.exists():
        raise InputError(f"{input_path}: no such file; check the path")
    if not input_path.is_file():
        raise InputError(f"{input_path}: not a file")
    if not os.access(input_path, os.R_OK):
        raise InputError(f"{input_path}: not readable (permissions)")
    if input_path.resolve() == output_path.resolve():
        raise OutputError(f"{output_path}: the output must not overwrite the input")
    image_in = is_image_path(input_path)
    suffix = output_path.suffix.lower()
    if image_in and suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"{output_path}: the input is a photo, so the output must be an image "
                          f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    if not image_in and suffix not in FOURCC_BY_SUFFIX:
        raise OutputError(f"{output_path}: the output of a video must be a video file "
                          f"({', '.join(sorted(FOURCC_BY_SUFFIX))})")
    return image_in


def render(
    input_path: str | Path,
    output_path: str | Path,
    pipeline: Pipeline,
    timeline_path: str | Path | None = None,
    on_frame: Callable[[int, int | None], None] | None = None,
    copy_audio: bool = True,
) -> RenderSummary:
    """Emojify ``input_path`` into ``output_path`` (and optionally a JSONL timeline). Raises EmojiCamError subclasses."""
    input_path, output_path = Path(input_path), Path(output_path)
    image_in = _check_paths(input_path, output_path)
    source = ImageSource(input_path) if image_in else VideoFileSource(input_path)
    total = 1 if image_in else getattr(source, "frame_count_hint", None)
    frames = faces_drawn = frames_with_faces = 0
    with contextlib.ExitStack() as stack:
        stack.callback(source.close)
        out_tmp = stack.enter_context(atomic_output(output_path))
        timeline = None
        if timeline_path is not None:
            tl_tmp = stack.enter_context(atomic_output(Path(timeline_path)))
            timeline = TimelineWriter(stack.enter_context(open(tl_tmp, "w", encoding="utf-8")))
        sink = None if image_in else stack.enter_context(VideoFileSink(out_tmp, source.size_wh, source.fps,
                                                                      suffix=output_path.suffix))
        fps = source.fps
        while (frame := source.read()) is not None:
            out, result = pipeline.process(frame, frames / fps)
            if timeline is not None:
                timeline.write(result)
            if image_in:
                _write_image(out_tmp, out, output_path)
            elif frame.shape[:2] != (source.size_wh[1], source.size_wh[0]):
                raise InputError(f"{input_path}: frame {frames} is {frame.shape[1]}x{frame.shape[0]}, "
                                 f"the video started at {source.size_wh[0]}x{source.size_wh[1]}")
            else:
                sink.send(out)
            frames += 1
            faces_drawn += len(result.faces)
            frames_with_faces += bool(result.faces)
            if on_frame is not None:
                on_frame(frames, total)
        if sink is not None:
            sink.close()
        audio = "not applicable" if image_in else (_mux_audio(input_path, out_tmp) if copy_audio else "off")
    return RenderSummary(frames, source.size_wh, fps, faces_drawn, frames_with_faces, audio)


def _write_image(tmp: Path, frame: np.ndarray, target: Path) -> None:
    ok, data = cv2.imencode(target.suffix.lower(), frame)
    if not ok:
        raise OutputError(f"{target}: OpenCV cannot encode {target.suffix} images")
    tmp.write_bytes(data.tobytes())


def _mux_audio(input_path: Path, video_tmp: Path) -> str:
    """Copy the input's audio track into ``video_tmp`` in place. Returns what happened, for the summary."""
    ffmpeg = find_ffmpeg()
    if ffmpeg is None:
        return "dropped (no ffmpeg: pip install imageio-ffmpeg)"
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(input_path)], capture_output=True, text=True)
    if "Audio:" not in probe.stderr:
        return "none in input"
    muxed = video_tmp.with_name(video_tmp.stem + ".audio" + video_tmp.suffix)
    cmd = [ffmpeg, "-hide_banner", "-v", "error", "-y", "-i", str(video_tmp), "-i", str(input_path),
           "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", str(muxed)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            log.warning("could not copy the audio track (%s); the video is written without sound",
                        done.stderr.strip()[:300])
            return "dropped (ffmpeg failed)"
        os.replace(muxed, video_tmp)
        return "copied"
    finally:
        muxed.unlink(missing_ok=True)
