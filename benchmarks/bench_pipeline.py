"""Milliseconds per pipeline stage for a 1280x720 frame with one face. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_pipeline.py [--frames 200] [--threads 0] [--detector auto|NAME] [--purpose live]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.app import build_pipeline  # noqa: E402
from vcam_emoji.config import Config  # noqa: E402
from _machine import describe  # noqa: E402  (benchmarks/_machine.py)


def webcam_like_frame() -> np.ndarray:
    """A 1280x720 frame with one real face about 300 px tall (a person at a laptop)."""
    shared = REPO.parent / "shared" / "media" / "skimage_astronaut.png"
    img = cv2.imread(str(shared if shared.is_file() else REPO / "tests" / "fixtures" / "astronaut_256.jpg"))
    img = cv2.resize(img, (720, 720), interpolation=cv2.INTER_CUBIC)
    frame = np.full((720, 1280, 3), 60, np.uint8)
    frame[:, 280:1000] = img
    return frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads per model (0 = automatic)")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--classifier", default="default")
    ap.add_argument("--purpose", default="live", choices=["live", "video"])
    ap.add_argument("--detect-every", type=int, default=1)
    args = ap.parse_args()
    print(describe())

    config = Config().with_changes({"detector.model": args.detector, "classifier.model": args.classifier,
                                    "runtime.threads": args.threads, "runtime.execution_provider": "cpu",
                                    "detector.every_n_frames": args.detect_every})
    pipeline, info = build_pipeline(config, purpose=args.purpose)
    frame = webcam_like_frame()
    for i in range(10):  # warm-up: sessions, sprite cache
        pipeline.process(frame, i / 30)
    stages: dict[str, list[float]] = {}
    totals = []
    faces = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(args.frames):
        t0 = time.perf_counter()
        _, result = pipeline.process(frame, (10 + i) / 30)
        totals.append((time.perf_counter() - t0) * 1000)
        faces.append(len(result.faces))
        for k, v in result.stage_ms.items():
            stages.setdefault(k, []).append(v)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    print(f"pipeline on a 1280x720 frame, one face; detector {info.detector}, classifier {info.classifier}, "
          f"pack {info.pack}, threads {args.threads or 'auto'}, {os.cpu_count()} cores, {args.frames} frames")
    print(f"faces found per frame: min {min(faces)}, max {max(faces)}")
    print(f"{'stage':<10} {'mean ms':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for k, v in list(stages.items()) + [("total", totals)]:
        a = np.array(v)
        print(f"{k:<10} {a.mean():8.2f} {np.percentile(a, 50):8.2f} {np.percentile(a, 99):8.2f}")
    print(f"throughput {args.frames / wall:.1f} frames/s single-threaded loop; CPU use {100 * cpu / wall:.0f}% "
          f"of one core")


if __name__ == "__main__":
    main()
