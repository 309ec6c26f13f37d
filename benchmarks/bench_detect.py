#!/usr/bin/env python3
"""Face detector benchmark: recall and false positives on ../shared/media, speed on 1280x720 frames.

    python benchmarks/bench_detect.py [--runs 40] [--detectors blazeface_short blazeface_full centerface]

Prints, per detector:
  - photos: faces found vs expected (1 per photo), misses and extra detections;
  - clips: every frame of the two Intel clips (male: 1 face per frame; female-and-male: 2 per frame, both are visible
    throughout); a frame counts its found faces up to the expected number, extra ones are false positives;
  - the smallest face (box width in pixels) found in a 1280x720 frame, and recall on the photos rescaled so that the
    face is 60..270 px wide inside a 1280x720 frame (a 70° webcam at roughly 2.4 m .. 0.5 m);
  - ms per 1280x720 frame (the astronaut photo letterboxed into it; whole call: resize, inference, decoding) with
    1 thread and with onnxruntime's default threads.
Then the mini-Xception expression baseline: ms per face (batch 1 and batch 8), and its accuracy on FER-2013 PublicTest
when ../shared/data is present, plus the BlazeFace box-to-FER-crop calibration behind its manifest's crop margin.
No asserts: this prints figures for models/MODELS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.detect import create_detector  # noqa: E402
from vcam_emoji.models import load_model_spec  # noqa: E402
from vcam_emoji.onnx_session import create_session  # noqa: E402
from _machine import describe  # noqa: E402  (benchmarks/_machine.py)

SHARED = REPO.parent / "shared"
MEDIA = SHARED / "media"
PHOTOS = ["pexels_angry.jpg", "pexels_happy-baby.jpeg", "pexels_neutral.jpeg", "pexels_sad-baby.jpeg",
          "pexels_surprised.jpeg", "skimage_astronaut.png"]
CLIPS = {"intel_head-pose-face-detection-male.mp4": 1, "intel_head-pose-face-detection-female-and-male.mp4": 2}


def read_frames(path: Path, step: int = 1) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % step == 0:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def to_1280x720(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    s = min(1280 / w, 720 / h)
    nw, nh = int(round(w * s)), int(round(h * s))
    frame = np.zeros((720, 1280, 3), np.uint8)
    x0, y0 = (1280 - nw) // 2, (720 - nh) // 2
    frame[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return frame


def time_ms(fn, runs: int, warmup: int = 5) -> tuple[float, float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), float(np.percentile(times, 90))


def count(results: list[int], expected: int) -> tuple[int, int, int]:
    """(found, expected, false positives) summed over frames, counting at most ``expected`` per frame as found."""
    found = sum(min(n, expected) for n in results)
    fp = sum(max(0, n - expected) for n in results)
    return found, expected * len(results), fp


def smallest_face(detector, face_crop: np.ndarray) -> int | None:
    """Smallest box width (frame px) still found when the crop is shrunk inside a black 1280x720 frame."""
    smallest = None
    for side in range(720, 40, -20):
        frame = np.zeros((720, 1280, 3), np.uint8)
        frame[(720 - side) // 2:(720 + side) // 2, 400:400 + side] = cv2.resize(face_crop, (side, side))
        dets = detector(frame)
        if len(dets) != 1:
            break
        smallest = int(round(float(dets.xyxy[0, 2] - dets.xyxy[0, 0])))
    return smallest


FACE_WIDTHS = (60, 90, 120, 180, 270)


def webcam_frames(photos: dict[str, np.ndarray], reference) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Per target face width: each photo rescaled so its face is that wide, framed in a 1280x720 window.

    The face position comes from ``reference`` (a detector) on the full photo; returns (frame, face centre) pairs.
    """
    out: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {w: [] for w in FACE_WIDTHS}
    for img in photos.values():
        ref = reference(img)
        if len(ref) != 1:
            continue
        x1, y1, x2, y2 = ref.xyxy[0]
        for width in FACE_WIDTHS:
            s = width / (x2 - x1)
            scaled = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            cx, cy = (x1 + x2) / 2 * s, (y1 + y2) / 2 * s
            # a 1280x720 window with the face a bit left of and above the centre, black outside the photo
            ox, oy = int(round(cx - 560)), int(round(cy - 300))
            frame = np.zeros((720, 1280, 3), np.uint8)
            sx0, sy0 = max(0, ox), max(0, oy)
            sx1, sy1 = min(scaled.shape[1], ox + 1280), min(scaled.shape[0], oy + 720)
            frame[sy0 - oy:sy1 - oy, sx0 - ox:sx1 - ox] = scaled[sy0:sy1, sx0:sx1]
            out[width].append((frame, np.array([cx - ox, cy - oy])))
    return out


def bench_detectors(names: list[str], runs: int) -> None:
    photos = {p: cv2.imread(str(MEDIA / p), cv2.IMREAD_COLOR) for p in PHOTOS if (MEDIA / p).is_file()}
    clips = {c: read_frames(MEDIA / c) for c in CLIPS if (MEDIA / c).is_file()}
    if not photos:
        print(f"(no photos: {MEDIA} is absent; recall figures skipped)")
    astronaut = photos.get("skimage_astronaut.png")
    if astronaut is None:
        astronaut = cv2.resize(cv2.imread(str(REPO / "tests/fixtures/astronaut_256.jpg")), (512, 512))
    frame_720p = to_1280x720(astronaut)
    face_crop = astronaut[0:300, 75:375]  # astronaut face about 94 px wide in a 300 px square
    scaled = webcam_frames(photos, create_detector(load_model_spec("centerface"), "cpu")) if photos else {}

    for name in names:
        spec = load_model_spec(name)
        det = create_detector(spec, providers="cpu", threads=0)
        print(f"\n== {name} ({spec.architecture}, score threshold {det.min_score}) ==")
        if photos:
            res = [len(det(img)) for img in photos.values()]
            found, expected, fp = count(res, 1)
            per_photo = ", ".join(f"{Path(p).stem}={n}" for p, n in zip(photos, res))
            print(f"photos: {found}/{expected} faces found, {fp} false positives ({per_photo})")
        for clip, frames in clips.items():
            exp = CLIPS[clip]
            res = [len(det(f)) for f in frames]
            found, expected, fp = count(res, exp)
            print(f"{clip}: {found}/{expected} faces found over {len(frames)} frames "
                  f"(recall {found / expected:.3f}), {fp} false positives")
        print(f"smallest face found in 1280x720: {smallest_face(det, face_crop)} px wide")
        parts = []
        for width, items in scaled.items():
            hits = fps = 0
            for frame, centre in items:
                dets = det(frame)
                inside = [(b[0] <= centre[0] <= b[2]) and (b[1] <= centre[1] <= b[3]) for b in dets.xyxy]
                hits += int(any(inside))
                fps += len(dets) - int(any(inside))
            parts.append(f"{width}px {hits}/{len(items)}" + (f" (+{fps} FP)" if fps else ""))
        if parts:
            print("photos framed in 1280x720 with face width: " + ", ".join(parts))
        for threads in (1, 0):
            d = create_detector(spec, providers="cpu", threads=threads)
            med, p90 = time_ms(lambda: d(frame_720p), runs)
            print(f"1280x720 frame, threads={threads or 'default'}: median {med:.2f} ms, p90 {p90:.2f} ms")


def bench_classifier(runs: int) -> None:
    spec = load_model_spec("mini_xception_fer2013")
    print(f"\n== {spec.name} (expression baseline) ==")
    pre = spec.manifest["preprocess"]
    for threads in (1, 0):
        session, _ = create_session(spec.path, providers="cpu", threads=threads)
        for batch in (1, 8):
            x = np.random.default_rng(0).normal(size=(batch, 1, 64, 64)).astype(np.float32)
            med, _ = time_ms(lambda: session.run(None, {"input": x}), runs)
            print(f"threads={threads or 'default'}, batch {batch}: {med:.3f} ms per batch, "
                  f"{med / batch:.3f} ms per face")
    data = SHARED / "data" / "fer2013_publictest.npz"
    if not data.is_file():
        print(f"(accuracy skipped: {data} is absent)")
        return
    with np.load(data, allow_pickle=False) as d:
        xs, ys = d["x"], d["y"]
    session, _ = create_session(spec.path, providers="cpu", threads=0)
    faces = np.stack([cv2.resize(im, (64, 64), interpolation=cv2.INTER_LINEAR) for im in xs]).astype(np.float32)
    probs = np.concatenate([session.run(None, {"input": ((faces[i:i + 256] - pre["mean"]) / pre["std"])[:, None]})[0]
                            for i in range(0, len(faces), 256)])
    pred = probs.argmax(1)
    acc = float((pred == ys).mean())
    per_class = [float((pred[ys == c] == c).mean()) for c in range(7)]
    print(f"FER-2013 PublicTest accuracy: {acc:.4f} (n={len(ys)}); per class "
          + ", ".join(f"{label} {a:.2f}" for label, a in zip(spec.manifest["classes"], per_class)))
    # crop calibration: where does BlazeFace short put its box on a FER-2013 face?
    det = create_detector(load_model_spec("blazeface_short"), providers="cpu", threads=0)
    rel = []
    for im in xs[:400]:
        canvas = np.full((384, 384), 128, np.uint8)
        canvas[96:288, 96:288] = cv2.resize(im, (192, 192), interpolation=cv2.INTER_CUBIC)
        dets = det(cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))
        if len(dets) == 1:
            rel.append((dets.xyxy[0] - 96) / 192)
    if rel:
        r = np.array(rel)
        w = float(np.median(r[:, 2] - r[:, 0]))
        cy = float(np.median((r[:, 1] + r[:, 3]) / 2))
        print(f"blazeface_short on {len(rel)}/400 FER-2013 faces: box width {w:.3f} of the FER crop, so margin "
              f"{(1 / w - 1) / 2:.3f} per side matches it; box centre y {cy:.3f} (0.5 = FER crop centre)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--detectors", nargs="*", default=["blazeface_short", "blazeface_full", "centerface"])
    ap.add_argument("--skip-classifier", action="store_true")
    args = ap.parse_args()
    print(describe())
    bench_detectors(args.detectors, args.runs)
    if not args.skip_classifier:
        bench_classifier(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
