"""Expression classifiers: ms per face, model size and accuracy on FER-2013 / FER+ PublicTest. Prints; no asserts.

    python benchmarks/bench_classifier.py                      # every expression model in models/
    python benchmarks/bench_classifier.py models/emocnn_fer2013.json --threads 1

ms per face: batch 1, one onnxruntime CPU thread, including preprocessing (INTER_AREA resize of a 112x112 grey crop
to the manifest's input size, then (pixel - mean) / std); and the share of one core that classifying one face costs
at classifier.rate_hz = 15 (the budget: at most 5%) and at every frame of a 30 fps camera. Accuracy: every 48x48 PublicTest image resized to the
model's input size in the same way (the data sets live in ../shared/data and are skipped when absent).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.training import evaluate  # noqa: E402  (torch-free)
from _machine import describe  # noqa: E402  (benchmarks/_machine.py)

DATA = REPO.parent / "shared" / "data"
TEST_SETS = {"FER-2013 PublicTest": DATA / "fer2013_publictest.npz", "FER+ PublicTest": DATA / "ferplus_publictest.npz"}


def expression_manifests(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            if json.loads(path.read_text()).get("task") == "expression_classification":
                found.append(path)
        except (OSError, json.JSONDecodeError):
            continue
    return found


def bench(manifest_path: Path, threads: int) -> None:
    m = json.loads(manifest_path.read_text())
    onnx_path = manifest_path.parent / m["file"]
    size_hw = tuple(m["input"]["size_hw"])
    mean, std = float(m["preprocess"]["mean"]), float(m["preprocess"]["std"])
    session = evaluate.cpu_session(onnx_path, threads=threads)
    print(f"\n== {m['name']} ({onnx_path.name}, {onnx_path.stat().st_size / 1e6:.2f} MB, input {size_hw}, "
          f"mean {mean} std {std}, output {m.get('output', 'probabilities')})")
    ms = evaluate.ms_per_face(session, size_hw, mean, std)
    print(f"   ms per face (batch 1, {threads} thread(s), incl. preprocessing): {ms:.3f}")
    # The live budget (classifier.rate_hz): one face at 15 Hz may cost at most 5% of one core, i.e. 3.3 ms a face;
    # at 0 (every frame of a 30 fps camera) the same model costs twice as much.
    print(f"   share of one core for one face: {ms * 15 / 10:.1f}% at 15 Hz (budget 5%), "
          f"{ms * 30 / 10:.1f}% at every frame of 30 fps; with flip averaging (two passes) {2 * ms * 15 / 10:.1f}% "
          "at 15 Hz")
    for title, path in TEST_SETS.items():
        if not path.is_file():
            print(f"   {title}: skipped ({path} not present)")
            continue
        with np.load(path, allow_pickle=False) as d:
            x, y = d["x"], d["y"].astype(np.int64)
        out = evaluate.predict(session, x, size_hw, mean, std)
        if m.get("output") == "logits":
            out = np.exp(out - out.max(1, keepdims=True))
            out /= out.sum(1, keepdims=True)
        rep = evaluate.accuracy_report(out, y)
        recall = "  ".join(f"{k} {v:.3f}" for k, v in rep["per_class_recall"].items() if v is not None)
        print(f"   {title}: accuracy {rep['accuracy']:.4f} (n={rep['n']})\n      recall: {recall}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifests", nargs="*", type=Path, help="classifier manifests (default: all in models/)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(describe())
    manifests = args.manifests or expression_manifests(REPO / "models")
    if not manifests:
        print("no expression classifier manifests found")
        return 1
    for path in manifests:
        bench(path, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
