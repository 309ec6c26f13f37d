"""Video writer figures: ms per frame and MB per hour for the live recording and render settings, per codec.

    python benchmarks/bench_video_writer.py [--frames 300] [--size 1280x720] [--fps 30]

Frames: the bundled demo clip, scaled to --size and looped, with an emoji-like moving patch so that the
encoder has motion to code. The live figures are what the headless fallback's size cap (sink/registry.py) means in
time. OpenCV's old mp4v writer is timed too, for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe  # noqa: E402

from vcam_emoji.source.demo import DEMO_CLIP  # noqa: E402
from vcam_emoji.video_writer import VideoWriter  # noqa: E402


def frames(n: int, size_wh: tuple[int, int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(DEMO_CLIP))
    clip = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        clip.append(cv2.resize(frame, size_wh))
    out = []
    for i in range(n):
        frame = clip[i % len(clip)].copy()
        x = (i * 7) % (size_wh[0] - 120)
        cv2.circle(frame, (x + 60, size_wh[1] // 3), 50, (0, 200, 255), -1)
        out.append(frame)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--fps", type=float, default=30.0)
    args = parser.parse_args()
    size_wh = tuple(int(v) for v in args.size.split("x"))
    data = frames(args.frames, size_wh)
    print(describe())
    print(f"{args.frames} frames {size_wh[0]}x{size_wh[1]} at {args.fps:g} fps")
    with tempfile.TemporaryDirectory() as folder:
        for suffix, codec, live in [(".mp4", "h264", True), (".mp4", "h264", False), (".webm", "vp9", True),
                                    (".avi", "mjpeg", True)]:
            path = Path(folder) / f"out{suffix}"
            start = time.perf_counter()
            with VideoWriter(path, size_wh, args.fps, codec=codec, live=live) as writer:
                for frame in data:
                    writer.write(frame)
            seconds = time.perf_counter() - start
            mb_per_hour = path.stat().st_size / 1e6 / (args.frames / args.fps) * 3600
            print(f"{codec:>5} {suffix:<5} {'live' if live else 'render':<6} {seconds / args.frames * 1000:6.1f} ms/frame"
                  f"  {mb_per_hour:7.0f} MB/h  (500 MB = {500 / mb_per_hour:.1f} h)")
        path = Path(folder) / "mp4v.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), args.fps, size_wh)
        start = time.perf_counter()
        for frame in data:
            writer.write(frame)
        writer.release()
        seconds = time.perf_counter() - start
        mb_per_hour = path.stat().st_size / 1e6 / (args.frames / args.fps) * 3600
        print(f" mp4v .mp4  opencv {seconds / args.frames * 1000:6.1f} ms/frame  {mb_per_hour:7.0f} MB/h (before)")


if __name__ == "__main__":
    main()
