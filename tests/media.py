"""Test clips made with PyAV (the shared clips have no sound): video from given frames, a sine tone as the audio
track, optional rotation metadata; and probing what a written file holds."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


def make_clip(path: Path, frames: list[np.ndarray], fps: int = 10, *, audio: str | None = "aac",
              sample_rate: int = 44100, video_codec: str = "mpeg4", pix_fmt: str = "yuv420p",
              tone_hz: float = 440.0) -> Path:
    """Write BGR ``frames`` at ``fps`` with a mono sine tone of the same length encoded as ``audio`` (None: silent
    clip, no audio track)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        video = out.add_stream(video_codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, pix_fmt
        sound = None
        if audio is not None:
            sound = out.add_stream(audio, rate=sample_rate)
            sound.codec_context.layout = "mono"
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="bgr24")
            vf.pts = i
            out.mux(video.encode(vf))
        out.mux(video.encode(None))
        if sound is not None:
            n = int(sample_rate * len(frames) / fps)
            tone = (0.3 * np.sin(2 * np.pi * tone_hz * np.arange(n) / sample_rate)).astype(np.float32)
            fmt = sound.codec_context.format.name
            for start in range(0, n, 1024):
                chunk = tone[start:start + 1024][None, :]
                if fmt.startswith("s16"):
                    af = av.AudioFrame.from_ndarray((chunk * 32767).astype(np.int16), format=fmt, layout="mono")
                else:
                    af = av.AudioFrame.from_ndarray(chunk, format="fltp" if fmt == "fltp" else fmt, layout="mono")
                af.sample_rate, af.pts = sample_rate, start
                out.mux(sound.encode(af))
            out.mux(sound.encode(None))
    return path


def set_mp4_rotation(path: Path, degrees: int) -> Path:
    """Give the first track of an .mp4/.mov a display rotation (what phones write), by setting its tkhd matrix:
    players and OpenCV then show the picture turned by ``degrees``."""
    data = bytearray(path.read_bytes())
    at = data.index(b"tkhd")
    version = data[at + 4]
    matrix_at = at + 8 + (32 if version == 1 else 20) + 16
    one = 0x10000
    a, b, c, d = {90: (0, one, -one, 0), 180: (-one, 0, 0, -one), 270: (0, -one, one, 0)}[degrees]
    struct.pack_into(">9i", data, matrix_at, a, b, 0, c, d, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


@dataclass(frozen=True)
class Probe:
    container: str
    video_codec: str
    pix_fmt: str
    size_wh: tuple[int, int]
    frames: int
    audio_codec: str | None
    audio_seconds: float
    audio_peak_hz: float | None


def probe(path: Path) -> Probe:
    """What PyAV finds in ``path``: codecs, frames decoded, and the audio's length and dominant frequency."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        vname, pix, size = v.codec_context.name, v.codec_context.pix_fmt, (v.codec_context.width,
                                                                           v.codec_context.height)
        frames = sum(1 for _ in c.decode(v))
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return Probe(c.format.name, vname, pix, size, frames, None, 0.0, None)
        a = c.streams.audio[0]
        samples = [f.to_ndarray().astype(np.float64).reshape(len(f.layout.channels), -1)[0] for f in c.decode(a)]
        rate = a.codec_context.sample_rate
        pcm = np.concatenate(samples)
        spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
        peak = float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])
        return Probe(c.format.name, vname, pix, size, frames, a.codec_context.name, len(pcm) / rate, peak)
