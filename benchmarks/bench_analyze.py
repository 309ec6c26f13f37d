"""`vcam-emoji analyze` throughput: seconds of video analysed per second of wall time, for 1 and 2 jobs, and how the
wall time grows with the number of files (copies of one clip). Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_analyze.py [--clip PATH] [--copies 1,4,16] [--jobs 1,2]

Each run is a whole ``analyze()`` call as the command makes it: worker start-up and model loading, every file
decoded and analysed, the report (JSON, CSV, three plots, HTML) written. "per-file work" adds up the time spent
inside the files (analysis_s in report.json); the rest is start-up and the report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _machine import describe  # noqa: E402  (benchmarks/_machine.py)

from vcam_emoji.analytics import AnalysisSettings, analyze  # noqa: E402
from vcam_emoji.config import Config  # noqa: E402

DEFAULT_CLIP = REPO.parent / "shared" / "media" / "intel_head-pose-face-detection-male.mp4"


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help=f"the clip to copy (default {DEFAULT_CLIP.name})")
    ap.add_argument("--copies", type=ints, default=[1, 4, 16], help="numbers of files (default 1,4,16)")
    ap.add_argument("--jobs", type=ints, default=[1, 2], help="jobs to compare (default 1,2)")
    args = ap.parse_args()
    if not args.clip.is_file():
        sys.exit(f"bench_analyze: {args.clip} is missing (../shared/media beside the repository, or --clip PATH)")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    print(describe())
    settings = AnalysisSettings(config=Config())
    used = settings.to_json()  # the model names "auto"/"default" stand for on this install
    print(f"clip: {args.clip.name}; default settings: detector {used['detector']}, classifier {used['classifier']}, "
          f"runtime.threads {used['threads']} per model ({used['execution_provider']}), samples every "
          f"{used['every_ms']:g} ms")
    print(f"{'files':>5} {'jobs':>4} {'video s':>8} {'wall s':>7} {'video s / wall s':>17} {'per-file work s':>16} "
          f"{'start-up + report s':>20}")
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i in range(max(args.copies)):
            shutil.copy(args.clip, folder / f"copy{i:03d}{args.clip.suffix}")
        copies = sorted(folder.iterdir())
        for n in args.copies:
            for jobs in args.jobs:
                out = Path(tmp) / f"out-{n}-{jobs}"
                started = time.perf_counter()
                outcome = analyze(copies[:n], out, settings, jobs=jobs)
                wall = time.perf_counter() - started
                ok = outcome.report.ok_files
                video = sum(f.duration_s for f in ok)
                work = sum(f.analysis_s for f in ok)
                overhead = wall - work / min(jobs, n)
                print(f"{n:>5} {jobs:>4} {video:>8.1f} {wall:>7.2f} {video / wall:>17.2f} {work:>16.2f} "
                      f"{overhead:>20.2f}", flush=True)
                shutil.rmtree(out)


if __name__ == "__main__":
    main()
