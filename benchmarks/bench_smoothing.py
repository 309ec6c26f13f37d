"""Expression safety of the smoothing on recorded clips: flicker, and negative emojis on faces the model calls neutral.

    .venv/bin/python benchmarks/bench_smoothing.py [CLIP_OR_PHOTO ...] [--detector auto|centerface|blazeface_full]

Runs detection, tracking and the classifier once over each input (every frame, as `vcam-emoji render` does), then
replays the smoother with several settings on the same classifier outputs and prints, per input and in total:

- raw flips: frames where the classifier's top class differs from its top class in the previous frame of that face;
- shown switches: frames where the drawn emoji changes;
- negative on neutral: frames drawing angry, disgust, fear or sad on a face whose classifier output that frame has
  neutral on top (the meeting error: a crying emoji on a neutral colleague);
- negative frames: all frames drawing a negative emoji;
- disagree: frames whose drawn emoji is not the classifier's top class of that frame.

Defaults: the shared clips and photos in ../shared/media. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.app import build_pipeline  # noqa: E402
from vcam_emoji.config import Config  # noqa: E402
from vcam_emoji.source.image import ImageSource, is_image_path  # noqa: E402
from vcam_emoji.source.video_file import VideoFileSource  # noqa: E402
from vcam_emoji.smooth import ExpressionSmoother, SmoothingParams  # noqa: E402
from vcam_emoji.types import Expression  # noqa: E402

MEDIA = REPO.parent / "shared" / "media"
NEGATIVE = {Expression.ANGRY, Expression.DISGUST, Expression.FEAR, Expression.SAD}

SETTINGS = {
    "before (no neutral rule)": SmoothingParams(250, 0.15, 300, neutral_margin=0.15, neutral_hold_ms=300),
    **{f"neutral {m:.2f} / {h:.0f} ms": SmoothingParams(250, 0.15, 300, neutral_margin=m, neutral_hold_ms=h)
       for m in (0.0, 0.03, 0.06, 0.1) for h in (0, 100, 200, 300)},
}


@dataclass
class Counts:
    frames: int = 0
    raw_flips: int = 0
    switches: int = 0
    negative_on_neutral: int = 0
    negative: int = 0
    disagree: int = 0

    def add(self, other: "Counts") -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def classify_input(path: Path, detector: str) -> list[tuple[int, float, np.ndarray]]:
    """(track_id, t_seconds, probs) for every face of every frame."""
    config = Config().with_changes({"detector.model": detector, "runtime.execution_provider": "cpu"})
    pipeline, _ = build_pipeline(config, purpose="video")
    source = ImageSource(path) if is_image_path(path) else VideoFileSource(path)
    out = []
    try:
        i = 0
        while (frame := source.read()) is not None:
            _, result = pipeline.process(frame, i / source.fps)
            out.extend((r.face.track_id, result.t_seconds, r.probs) for r in result.faces)
            i += 1
    finally:
        source.close()
    return out


def replay(faces: list[tuple[int, float, np.ndarray]], params: SmoothingParams) -> Counts:
    smoother = ExpressionSmoother(params)
    counts = Counts()
    last_raw: dict[int, int] = {}
    last_shown: dict[int, Expression] = {}
    for track_id, t, probs in faces:
        raw = int(np.argmax(probs))
        _, shown = smoother.update(track_id, probs, t)
        counts.frames += 1
        counts.raw_flips += track_id in last_raw and last_raw[track_id] != raw
        counts.switches += track_id in last_shown and last_shown[track_id] != shown
        counts.negative += shown in NEGATIVE
        counts.negative_on_neutral += shown in NEGATIVE and raw == Expression.NEUTRAL
        counts.disagree += shown != raw
        last_raw[track_id], last_shown[track_id] = raw, shown
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="*", type=Path)
    ap.add_argument("--detector", default="auto", help="auto = centerface, as render uses")
    args = ap.parse_args()
    inputs = args.inputs or sorted(p for p in MEDIA.iterdir() if p.suffix.lower() in (".mp4", ".jpg", ".jpeg", ".png"))
    if not inputs:
        sys.exit(f"no inputs given and none in {MEDIA}")
    per_input = {p: classify_input(p, args.detector) for p in inputs}
    width = max(len(k) for k in SETTINGS)
    header = f"{'setting':<{width}}  frames  raw flips  switches  neg-on-neutral  negative  disagree"
    totals = {}
    for path, faces in per_input.items():
        print(f"\n{path.name}: {len(faces)} face-frames, {len({f[0] for f in faces})} track(s)")
        print(header)
        for name, params in SETTINGS.items():
            c = replay(faces, params)
            totals.setdefault(name, Counts()).add(c)
            print(f"{name:<{width}}  {c.frames:6d}  {c.raw_flips:9d}  {c.switches:8d}  {c.negative_on_neutral:14d}  "
                  f"{c.negative:8d}  {c.disagree:8d}")
    print("\nall inputs")
    print(header)
    for name, c in totals.items():
        print(f"{name:<{width}}  {c.frames:6d}  {c.raw_flips:9d}  {c.switches:8d}  {c.negative_on_neutral:14d}  "
              f"{c.negative:8d}  {c.disagree:8d}")


if __name__ == "__main__":
    main()
