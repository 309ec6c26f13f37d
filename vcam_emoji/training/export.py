"""Export a trained EmoCNN to ONNX (opset 17, dynamic batch, softmax in the graph), verify it against PyTorch with
onnxruntime, measure it and write the classifier manifest that the app reads."""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

import numpy as np
import torch

from vcam_emoji.errors import ModelError
from vcam_emoji.models import sha256_of
from vcam_emoji.training import evaluate
from vcam_emoji.training.model import WithSoftmax
from vcam_emoji.types import EXPRESSION_LABELS

log = logging.getLogger(__name__)

OPSET = 17
TOLERANCE = 1e-4
# The app's crop that reproduces FER-2013 framing from the reference face box (blazeface_full's), measured with
# benchmarks/bench_app_crop.py for both FER-trained classifiers (see models/MODELS.md).
DEFAULT_CROP = {"margin": 0.05, "shift_y": -0.05}


def export_onnx(model: torch.nn.Module, path: Path, input_size: int, samples: np.ndarray) -> dict:
    """Write ``path`` and check onnxruntime against PyTorch on ``samples`` (N, 1, H, W) float32 network inputs.

    Returns the manifest's ``verification`` block; raises ModelError when outputs differ by more than 1e-4.
    """
    net = WithSoftmax(model).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.zeros(1, 1, input_size, input_size)
    torch.onnx.export(net, dummy, str(path), opset_version=OPSET, input_names=["input"], output_names=["probs"],
                      dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}}, dynamo=False)
    import onnx

    onnx.checker.check_model(onnx.load(str(path)))
    with torch.no_grad():
        ref = net(torch.from_numpy(samples)).numpy()
    session = evaluate.cpu_session(path, threads=1)
    got = np.concatenate([session.run(None, {"input": samples[i:i + 64]})[0] for i in range(0, len(samples), 64)])
    got1 = session.run(None, {"input": samples[:1]})[0]  # batch 1, as the app runs it
    diff = float(max(np.abs(got - ref).max(), np.abs(got1 - ref[:1]).max()))
    if not diff <= TOLERANCE:
        raise ModelError(f"{path}: onnxruntime and PyTorch outputs differ by {diff:.2e} (> {TOLERANCE})")
    return {"reference": "pytorch", "max_abs_diff": diff, "n_inputs": int(len(samples)), "tolerance": TOLERANCE}


def quantize_int8(fp32_path: Path, out_path: Path, calibration: np.ndarray) -> dict:
    """Write ``out_path``: ``fp32_path`` with int8 weights and activations (static quantization, QDQ format,
    per-channel weights), its activation ranges calibrated on ``calibration`` (N, 1, H, W) network inputs taken from
    the training data. Returns the manifest's ``quantization`` block (without the accuracy figures).

    Weights use 7 bits (``reduce_range``): on x86 CPUs without VNNI, onnxruntime multiplies uint8 activations by int8
    weights with VPMADDUBSW, whose 16-bit pair sums can saturate with full 8-bit weights; with 7-bit weights they
    cannot, so the model gives the same answers there as on the VNNI CPU it was checked on. What it costs in
    accuracy is measured in models/MODELS.md ("Toward 71%")."""
    import tempfile

    from vcam_emoji.onnx_session import import_onnxruntime

    import_onnxruntime()  # its telemetry switched off before onnxruntime.quantization imports it
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration[i:i + 1] for i in range(len(calibration)))

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {"input": batch}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        reduce_range=True)
    import onnx

    onnx.checker.check_model(onnx.load(str(out_path)))
    return {"scheme": "int8 static quantization (onnxruntime, QDQ, per-channel 7-bit int8 weights, uint8 activations)",
            "calibration": f"{len(calibration)} training images", "float32_sha256": sha256_of(fp32_path)}


def compare_int8(fp32_path: Path, int8_path: Path, x: np.ndarray, y: np.ndarray, input_size: int, mean: float,
                 std: float) -> dict:
    """How closely the int8 model follows the float32 one on uint8 grey faces ``x`` (labels ``y``), and the float32
    model's accuracy on them."""
    size_hw = (input_size, input_size)
    pa = evaluate.predict(evaluate.cpu_session(fp32_path), x, size_hw, mean, std)
    pb = evaluate.predict(evaluate.cpu_session(int8_path), x, size_hw, mean, std)
    return {"top1_agreement_with_float32": round(float((pa.argmax(1) == pb.argmax(1)).mean()), 4),
            "max_abs_prob_diff": round(float(np.abs(pa - pb).max()), 4), "n_inputs": int(len(x)),
            "float32_fer2013_publictest_accuracy": evaluate.accuracy_report(pa, y)["accuracy"]}


def git_commit(repo: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def build_manifest(*, name: str, onnx_path: Path, input_size: int, mean: float, std: float, verification: dict,
                   metrics: dict, training: dict, origin: dict, crop: dict | None = None,
                   license_text: str = "GPL-2.0-or-later (weights trained by the Emoji Cam developers on FER-2013, "
                                       "research-use data set; FER+ labels MIT)") -> dict:
    return {
        "name": name,
        "file": onnx_path.name,
        "task": "expression_classification",
        "sha256": sha256_of(onnx_path),
        "license": license_text,
        "origin": origin,
        "input": {"size_hw": [input_size, input_size], "channels": 1, "layout": "NCHW"},
        "preprocess": {"color": "gray", "mean": round(float(mean), 4), "std": round(float(std), 4),
                       "resize": "cv2.INTER_AREA"},
        "crop": dict(crop or DEFAULT_CROP),
        "classes": list(EXPRESSION_LABELS),
        "output": "probabilities",
        "verification": verification,
        "metrics": metrics,
        "training": training,
    }


def measure(onnx_path: Path, input_size: int, mean: float, std: float, publictest: Path | None,
            ferplus_publictest: Path | None) -> dict:
    """The manifest's ``metrics`` block, measured on the exported file with onnxruntime (one thread)."""
    from vcam_emoji.training.data import load_dataset

    session = evaluate.cpu_session(onnx_path, threads=1)
    size_hw = (input_size, input_size)
    metrics: dict = {}
    if publictest is not None:
        ds = load_dataset(publictest, role="val", size=input_size)
        rep = evaluate.accuracy_report(evaluate.predict(session, ds.x, size_hw, mean, std), ds.y)
        metrics["fer2013_publictest_accuracy"] = rep["accuracy"]
        metrics["per_class_recall"] = rep["per_class_recall"]
        metrics["fer2013_publictest_n"] = rep["n"]
    if ferplus_publictest is not None:
        ds = load_dataset(ferplus_publictest, role="val", size=input_size)
        rep = evaluate.accuracy_report(evaluate.predict(session, ds.x, size_hw, mean, std), ds.y)
        metrics["ferplus_publictest_accuracy"] = rep["accuracy"]
        metrics["ferplus_per_class_recall"] = rep["per_class_recall"]
    metrics["ms_per_face"] = evaluate.ms_per_face(session, size_hw, mean, std)
    metrics["ms_per_face_note"] = "median, batch 1, 1 onnxruntime CPU thread, incl. INTER_AREA resize of a 112x112 crop"
    metrics["model_size_mb"] = round(onnx_path.stat().st_size / 1e6, 3)
    return metrics


def write_manifest(manifest: dict, path: Path) -> None:
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _quantization_text(manifest: dict) -> str:
    q = manifest.get("quantization")
    if not q:
        return ""
    text = f"\n- **Quantization**: the shipped file is {q['scheme']}, calibrated on {q['calibration']}."
    if "top1_agreement_with_float32" in q:
        fp32, int8 = q["float32_fer2013_publictest_accuracy"], manifest["metrics"]["fer2013_publictest_accuracy"]
        text += (f" On FER-2013 PublicTest it agrees with the float32 model on "
                 f"{100 * q['top1_agreement_with_float32']:.1f}% of faces (largest probability difference "
                 f"{q['max_abs_prob_diff']}); accuracy float32 {100 * fp32:.2f}%, int8 {100 * int8:.2f}%.")
    return text + (" int8 runs about 3x faster than float32 on CPUs with VNNI (AVX-512 VNNI / AVX-VNNI) and about 2x "
                   "on CPUs with AVX2 alone (models/MODELS.md, \"Speed across CPUs\").")


def model_card(manifest: dict) -> str:
    """A models/MODELS.md section (Markdown) written from a classifier manifest."""
    m, t, o = manifest["metrics"], manifest["training"], manifest["origin"]
    recall = m.get("per_class_recall", {})
    fp_recall = m.get("ferplus_per_class_recall", {})

    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    rows = "\n".join(f"| {c} | {pct(recall.get(c))} | {pct(fp_recall.get(c))} |" for c in manifest["classes"])
    wall = t.get("wall_clock_s")
    notes = t.get("data_notes", {})
    return f"""## {manifest['name']} — our expression classifier (EmoCNN)

Files: `{manifest['file']}` ({m.get('model_size_mb')} MB, sha256 `{manifest['sha256'][:16]}…`) and `{manifest['name']}.json`.
Licence: {manifest['license']}.

- **Task**: 7 FER-2013 expressions (FER order), output probabilities (softmax inside the graph).
- **Input**: {manifest['input']['size_hw'][0]}x{manifest['input']['size_hw'][1]} grey, NCHW; `(pixel - {manifest['preprocess']['mean']}) / {manifest['preprocess']['std']}` after an INTER_AREA resize; app crop {manifest['crop']} of the reference face box (margin on each side, centre shift along the face), measured with `benchmarks/bench_app_crop.py`.
- **Architecture**: {t['architecture']}; {t['parameters']:,} parameters.
- **Data**: {o['data']}. {notes.get('dropped_train_duplicates_of_val', 0)} training images that are exact copies of PublicTest images were removed before training, so PublicTest is not leaked; {notes.get('train_n', '?')} training images used. Model selection: {o['model_selection']} (never trained on).
- **Recipe**: {t['optimizer']}; targets: {t['targets']}; augmentation: flip, rotation ±{t['augmentation']['rotate_deg']}°, scale ±{t['augmentation']['scale']}, shift ±{t['augmentation']['shift']}, brightness/contrast, random erasing (p {t['augmentation']['erase_p']}); {t['precision']}.
- **Training**: {t['epochs_run']} epochs (best epoch {t['best_epoch']}), mean {t['mean_epoch_s']} s per epoch, wall-clock {'n/a' if wall is None else f'{wall / 60:.0f} min'} on a 2-core CPU ({t['threads']} torch threads, other jobs sharing the CPU), seed {t['seed']}.
- **Retrain** (one command, from the repository root, ../shared/data beside it):
  `{o['command']}`
  then `vcam-emoji train --export-only --out <run dir> --val ../shared/data/fer2013_publictest.npz --ferplus-val ../shared/data/ferplus_publictest.npz --export-to models{' --int8' if manifest.get('quantization') else ''}` (or `python -m vcam_emoji.training.command ...` with the same options).
- **Verification**: onnxruntime vs PyTorch on {manifest['verification']['n_inputs']} inputs, max abs diff {manifest['verification']['max_abs_diff']:.1e} (float32 export).{_quantization_text(manifest)}

| metric | value |
|---|---|
| FER-2013 PublicTest accuracy (original labels) | **{pct(m.get('fer2013_publictest_accuracy'))}** |
| FER+ PublicTest accuracy (FER+ majority labels) | {pct(m.get('ferplus_publictest_accuracy'))} |
| ms per face (batch 1, 1 onnxruntime CPU thread, incl. resize + normalise) | {m.get('ms_per_face')} |
| model file | {m.get('model_size_mb')} MB |

| class | recall, FER-2013 PublicTest | recall, FER+ PublicTest |
|---|---|---|
{rows}
"""
