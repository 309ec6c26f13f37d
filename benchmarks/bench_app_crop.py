"""Does the app's face crop match the crops a classifier was trained on? Prints figures; asserts nothing.

FER-2013 PublicTest faces are upscaled into a larger frame (with a blurred, mirrored surround, like a real photo
around a face), then go through the app's own path: detector -> tracker box and landmarks -> aligned crop
(crop.margin, crop.shift_y) -> classifier. Accuracy through that path, next to the accuracy on the original 48x48
crops, shows which margin and shift reproduce the training crops for each detector.

    .venv/bin/python benchmarks/bench_app_crop.py [--model NAME] [--detector NAME] [--n 800]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.classify import ExpressionClassifier, aligned_crop  # noqa: E402
from vcam_emoji.detect import create_detector  # noqa: E402
from vcam_emoji.evaluate import load_labelled_faces  # noqa: E402
from vcam_emoji.models import load_model_spec  # noqa: E402
from vcam_emoji.onnx_session import create_session  # noqa: E402
from vcam_emoji.track import Tracker  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "fer2013_publictest.npz"


def staged(face48: np.ndarray, scale: int = 4, pad: int = 96) -> np.ndarray:
    """The 48x48 face upscaled ``scale`` times inside a frame with ``pad`` px of mirrored, blurred surround."""
    big = cv2.resize(face48, (48 * scale, 48 * scale), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    blurred = cv2.GaussianBlur(frame, (0, 0), 6)
    blurred[pad:-pad, pad:-pad] = big
    return cv2.cvtColor(blurred, cv2.COLOR_GRAY2BGR)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mini_xception_fer2013")
    ap.add_argument("--detector", default="blazeface_full")
    ap.add_argument("--n", type=int, default=800, help="faces (a fixed-seed sample of PublicTest)")
    ap.add_argument("--margins", default="0,0.05,0.1,0.15,0.2,0.25,0.3")
    ap.add_argument("--shifts", default="-0.15,-0.1,-0.05,0")
    args = ap.parse_args()
    if not DATA.is_file():
        sys.exit(f"needs {DATA} (../shared beside the repository)")

    x, y = load_labelled_faces(DATA)
    idx = np.random.default_rng(0).choice(len(y), size=min(args.n, len(y)), replace=False)
    x, y = x[idx], y[idx]
    spec = load_model_spec(args.model)
    session, _ = create_session(spec.path, providers="cpu", threads=1)
    clf = ExpressionClassifier(session, spec.manifest, str(spec.path))
    detector = create_detector(load_model_spec(args.detector), providers="cpu", threads=1)

    direct = np.argmax(clf.predict_crops(x), axis=1)
    faces, keep = [], []
    for i, img in enumerate(x):
        frame = staged(img)
        found = Tracker().update(detector(frame), 0.0)
        if found:
            faces.append((frame, max(found, key=lambda f: f.score)))
            keep.append(i)
    keep = np.array(keep)
    print(f"classifier {spec.name} (manifest crop {spec.manifest.get('crop')}), detector {args.detector}, "
          f"{len(y)} PublicTest faces staged at 4x in a blurred surround")
    print(f"faces found: {len(keep)}/{len(y)}; accuracy on the original crops: all {np.mean(direct == y):.4f}, "
          f"found ones {np.mean(direct[keep] == y[keep]):.4f}")
    print(f"{'margin':>7} {'shift_y':>8} {'accuracy via the app crop':>26}")
    best = (0.0, None)
    for margin in (float(v) for v in args.margins.split(",")):
        for shift in (float(v) for v in args.shifts.split(",")):
            crops = [aligned_crop(frame, face, clf.input.size_hw, margin, shift) for frame, face in faces]
            acc = float(np.mean(np.argmax(clf.predict_crops(crops), axis=1) == y[keep]))
            best = max(best, (acc, (margin, shift)), key=lambda b: b[0])
            print(f"{margin:7.2f} {shift:8.2f} {acc:26.4f}")
    print(f"best: margin {best[1][0]}, shift_y {best[1][1]}: {best[0]:.4f}")


if __name__ == "__main__":
    main()
