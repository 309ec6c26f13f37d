"""Video out through PyAV (FFmpeg's libraries, bundled in the ``av`` wheel): H.264 in .mp4 unless asked otherwise, with
the input's audio track in the same pass. Used by ``render`` and by the live file sink.

    writer = VideoWriter(tmp, (1280, 720), 30.0, suffix=".mp4", audio_from=src)   # H.264 + the audio of src
    writer.write(frame_bgr)  ...  writer.close()                                      # writer.audio says what happened

Containers and codecs (the first codec of each is its default; ``codec=`` picks another):
  .mp4 .m4v .mov  H.264 (or VP9 in .mp4/.mkv, MJPEG in .mov/.mkv/.avi); audio AAC/MP3 copied, anything else to AAC
  .mkv            H.264, VP9, MJPEG; any audio copied that Matroska holds, else AAC
  .webm           VP9; Opus/Vorbis copied, else Opus
  .avi            MJPEG (as before) or H.264; MP3/AC-3/PCM copied, else MP3
H.264 is 4:2:0 (plays everywhere) when width and height are even; odd sizes keep their size as 4:4:4, which fewer
players support. ``live=True`` writes for recording: a key frame every 2 s, each packet flushed to the file and, in
.mp4/.m4v/.mov, fragmented MP4, so a file cut short by a kill plays up to its last 2 s (Matroska and WebM play after
a kill as they are). Otherwise .mp4/.m4v/.mov get ``faststart`` (the index first, for the web).
Sizes and speeds: benchmarks/bench_video_writer.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .errors import InputError, OutputError

log = logging.getLogger(__name__)

FRAGMENT_S = 2.0  # live recordings: one key frame (and one MP4 fragment) every FRAGMENT_S seconds
AUDIO_LEAD_S = 0.5  # audio is muxed this far ahead of the last video frame, so the file is interleaved


@dataclass(frozen=True)
class VideoCodec:
    name: str  # what the user types: --codec h264
    encoder: str  # FFmpeg's encoder
    render_options: dict[str, str]
    live_options: dict[str, str]
    pix_fmt: str = "yuv420p"


CODECS: dict[str, VideoCodec] = {
    "h264": VideoCodec("h264", "libx264", {"preset": "veryfast", "crf": "20"},
                       {"preset": "veryfast", "crf": "23"}),
    "vp9": VideoCodec("vp9", "libvpx-vp9", {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "4",
                                            "row-mt": "1"},
                      {"crf": "34", "b": "0", "deadline": "realtime", "cpu-used": "8", "row-mt": "1"}),
    "mjpeg": VideoCodec("mjpeg", "mjpeg", {"q:v": "3"}, {"q:v": "4"}, pix_fmt="yuvj420p"),
}


@dataclass(frozen=True)
class Container:
    format: str  # FFmpeg's muxer
    codecs: tuple[str, ...]  # allowed video codecs, the default first
    audio_copy: frozenset[str] | None  # input audio codecs copied as they are (None: whatever the muxer holds)
    audio_encoder: str  # for any other audio
    movflags: bool = False  # the MP4 family: faststart, or fragments when live


_MP4_AUDIO = frozenset({"aac", "mp3"})
CONTAINERS: dict[str, Container] = {
    ".mp4": Container("mp4", ("h264", "vp9"), _MP4_AUDIO, "aac", movflags=True),
    ".m4v": Container("mp4", ("h264",), _MP4_AUDIO, "aac", movflags=True),
    ".mov": Container("mov", ("h264", "mjpeg"), _MP4_AUDIO | {"alac", "pcm_s16le"}, "aac", movflags=True),
    ".mkv": Container("matroska", ("h264", "vp9", "mjpeg"), None, "aac"),
    ".webm": Container("webm", ("vp9",), frozenset({"opus", "vorbis"}), "libopus"),
    ".avi": Container("avi", ("mjpeg", "h264"), frozenset({"mp3", "ac3", "pcm_s16le"}), "libmp3lame"),
}
VIDEO_SUFFIXES = frozenset(CONTAINERS)


def container_for(path: str | Path, suffix: str | None = None, codec: str | None = None) -> tuple[Container, str]:
    """The container of ``suffix`` (else ``path``'s) and the codec to use; OutputError names what is allowed."""
    suffix = (suffix or Path(path).suffix).lower()
    if suffix not in CONTAINERS:
        what = f"cannot write {suffix} video" if suffix else "a video file needs an extension"
        raise OutputError(f"{path}: {what}; use one of {', '.join(sorted(CONTAINERS))} (.mp4 with H.264 plays "
                          "everywhere)")
    container = CONTAINERS[suffix]
    codec = container.codecs[0] if codec is None else codec.lower()
    if codec not in container.codecs:
        where = sorted(s for s, c in CONTAINERS.items() if codec in c.codecs)
        raise OutputError(f"{path}: {suffix} cannot hold {codec} video; use {' or '.join(container.codecs)} there"
                          + (f", or write {codec} to {', '.join(where)}" if where else
                             f" (known codecs: {', '.join(CODECS)})"))
    return container, codec


def _rate(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(100_000)


def _av():
    try:
        import av
    except ImportError as exc:  # a core dependency; only a broken installation lacks it
        raise OutputError(f"video output needs PyAV ({exc}); reinstall vcam-emoji: pip install vcam-emoji") from None
    return av


class VideoWriter:
    """Encodes BGR uint8 frames of exactly ``size_wh`` into ``path`` (whose suffix, or ``suffix``, picks the
    container), at a constant ``fps``, frame ``i`` at ``i / fps``. ``audio_from``: a file whose first audio track is
    copied (or re-encoded where the container cannot hold it) in the same pass; ``audio`` then says what happened.
    ``close`` finishes the file (idempotent); after an error, ``abort`` releases it without finishing."""

    def __init__(self, path: str | Path, size_wh: tuple[int, int], fps: float, *, suffix: str | None = None,
                 codec: str | None = None, audio_from: str | Path | None = None, live: bool = False) -> None:
        av = _av()
        self.path = Path(path)
        self.size_wh = (int(size_wh[0]), int(size_wh[1]))
        self.container_spec, self.codec = container_for(self.path, suffix, codec)
        if self.size_wh[0] < 1 or self.size_wh[1] < 1 or not fps > 0:
            raise OutputError(f"{self.path}: cannot write a {self.size_wh[0]}x{self.size_wh[1]} video at {fps} fps")
        self.rate = _rate(fps)
        self.frames_written = 0
        self.bytes_written = 0
        self.audio = "no audio asked for" if audio_from is None else "none in input"
        self._audio: _AudioTrack | None = None
        spec = CODECS[self.codec]
        w, h = self.size_wh
        pix_fmt = spec.pix_fmt
        if self.codec == "h264" and (w % 2 or h % 2):
            pix_fmt = "yuv444p"
            log.warning("%s: %dx%d has an odd side, so the H.264 video is 4:4:4 (fewer players show it); an even "
                        "size plays everywhere", self.path, w, h)
        self._i420 = pix_fmt in ("yuv420p", "yuvj420p") and not (w % 2 or h % 2)
        options: dict[str, str] = {}
        if self.container_spec.movflags:
            options["movflags"] = "frag_keyframe+empty_moov+default_base_moof" if live else "+faststart"
        if live:
            options["flush_packets"] = "1"  # each packet reaches the file at once, not when a 32 KB buffer fills
        try:
            self._out = av.open(str(self.path), "w", format=self.container_spec.format, options=options)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"{self.path}: cannot create the video file ({exc}); check the folder") from None
        try:
            stream = self._out.add_stream(spec.encoder, rate=self.rate)
            stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
            stream.options = dict(spec.live_options if live else spec.render_options)
            ctx = stream.codec_context
            if live:
                ctx.gop_size = max(1, round(float(self.rate) * FRAGMENT_S))
            if pix_fmt != "yuvj420p":  # BT.601, limited range: what OpenCV's conversion and decoders assume
                ctx.color_range, ctx.colorspace = 1, 6  # AVCOL_RANGE_MPEG, AVCOL_SPC_SMPTE170M
                ctx.color_primaries, ctx.color_trc = 6, 6  # SMPTE170M
            self._video = stream
            if audio_from is not None:
                try:
                    self._audio = _AudioTrack.open(av, Path(audio_from), self._out, self.container_spec)
                except InputError as exc:
                    log.warning("%s", exc)
                    self.audio = f"not copied ({exc})"
                else:
                    self.audio = self._audio.description if self._audio is not None else "none in input"
            self._out.start_encoding()
        except (av.FFmpegError, ValueError, OSError) as exc:
            self.abort()
            raise OutputError(f"{self.path}: cannot start the {self.codec} encoder ({exc})") from None
        self._closed = False

    def write(self, frame: np.ndarray) -> None:
        if self._closed:
            raise OutputError(f"{self.path}: the video file is already closed")
        h, w = frame.shape[:2]
        if (w, h) != self.size_wh or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a {self.size_wh[0]}x{self.size_wh[1]} BGR uint8 frame, got "
                             f"{w}x{h} {frame.dtype} with shape {frame.shape}")
        av = _av()
        if self._i420:  # OpenCV converts BGR to 4:2:0 about 10x faster than swscale does
            vf = av.VideoFrame.from_ndarray(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420), format="yuv420p")
        else:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
        vf.pts = self.frames_written
        self._mux(self._video.encode(vf))
        self.frames_written += 1
        if self._audio is not None:
            self._mux_audio(self.frames_written / self.rate + AUDIO_LEAD_S)

    def close(self) -> None:
        """Flush the encoder, write the rest of the audio and the file's index. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._mux(self._video.encode(None))
            if self._audio is not None:
                self._mux_audio(None)
            self._out.close()
        except BaseException:
            self.abort()
            raise
        finally:
            if self._audio is not None:
                self._audio.close()

    def abort(self) -> None:
        """Release the file without finishing it (after an error; the caller discards it)."""
        self._closed = True
        if self._audio is not None:
            self._audio.close()
        out = getattr(self, "_out", None)
        if out is not None:
            try:
                out.close()
            except Exception as exc:  # noqa: BLE001 - already failing; the first error is the one reported
                log.debug("closing %s after an error: %s", self.path, exc)

    def _mux(self, packets) -> None:
        for packet in packets:
            self.bytes_written += packet.size
            self._out.mux(packet)

    def _mux_audio(self, until_s: float | None) -> None:
        try:
            for packet in self._audio.packets(until_s):
                self._mux([packet])
        except _AudioFailed as exc:
            log.warning("%s: the audio track stops at %.1f s: %s", self.path, exc.at_s, exc)
            self.audio = f"{self._audio.description}, cut at {exc.at_s:.1f} s ({exc})"
            self._audio.close()
            self._audio = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class _AudioFailed(Exception):
    def __init__(self, message: str, at_s: float) -> None:
        super().__init__(message)
        self.at_s = at_s


class _AudioTrack:
    """The first audio track of an input, copied packet by packet (or decoded and re-encoded) into an output."""

    def __init__(self, av, source, in_stream, out_stream, copy: bool, offset_s: float, description: str) -> None:
        self._av, self._source, self._in, self._out_stream = av, source, in_stream, out_stream
        self._copy, self.description = copy, description
        self._offset = int(round(offset_s / in_stream.time_base)) if in_stream.time_base else 0
        self._demux: Iterator | None = source.demux(in_stream)
        self._held: list = []  # packets read past the last ``until``
        self._last_s = 0.0

    @classmethod
    def open(cls, av, path: Path, out, container: Container) -> "_AudioTrack | None":
        try:
            source = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"{path}: cannot read its audio track ({exc}); the video is written without sound") from None
        try:
            if not source.streams.audio:
                source.close()
                return None
            in_stream = source.streams.audio[0]
            name = in_stream.codec_context.name
            copyable = (name in container.audio_copy if container.audio_copy is not None
                        else name in out.supported_codecs)
            videos = source.streams.video
            start = videos[0].start_time if videos and videos[0].start_time is not None else None
            offset_s = float(start * videos[0].time_base) if start is not None and videos[0].time_base else 0.0
            if copyable:
                out_stream = out.add_stream_from_template(in_stream)
                return cls(av, source, in_stream, out_stream, True, offset_s, f"copied ({name})")
            encoder = container.audio_encoder
            rate = in_stream.codec_context.sample_rate or 48000
            if encoder == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000
            out_stream = out.add_stream(encoder, rate=rate)
            layout = in_stream.codec_context.layout
            if layout is not None and layout.nb_channels:
                out_stream.codec_context.layout = layout.name if layout.nb_channels <= 2 else "stereo"
            short = encoder.removeprefix("lib").removesuffix("lame")
            return cls(av, source, in_stream, out_stream, False, offset_s, f"re-encoded ({name} to {short})")
        except BaseException:
            source.close()
            raise

    def packets(self, until_s: float | None):
        """Output packets up to ``until_s`` seconds of the output (all that are left for None)."""
        av = self._av
        try:
            while True:
                packet = self._held.pop() if self._held else next(self._demux, None)
                if packet is None:
                    break
                if packet.pts is None or packet.size == 0:
                    continue
                t = float((packet.pts - self._offset) * packet.time_base)
                if until_s is not None and t > until_s:
                    self._held.append(packet)
                    return
                self._last_s = max(self._last_s, t)
                packet.pts -= self._offset
                if packet.dts is not None:
                    packet.dts -= self._offset
                if self._copy:
                    packet.stream = self._out_stream
                    yield packet
                else:
                    for frame in self._in.codec_context.decode(packet):
                        frame.pts = None  # the encoder numbers its samples itself
                        yield from self._out_stream.encode(frame)
            if until_s is None and not self._copy:
                yield from self._out_stream.encode(None)
        except (av.FFmpegError, ValueError) as exc:
            raise _AudioFailed(str(exc), self._last_s) from None

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None
