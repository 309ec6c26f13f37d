"""Models that do not match their manifest, and manifests no model could match, are refused when they are loaded:
by ``load_model_spec``, by building the stage (``render``, ``run``, ``eval``), by ``doctor``, and by a live settings
edit, which keeps the running model and says why."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES
from vcam_emoji.classify import create_classifier
from vcam_emoji.cli import main
from vcam_emoji.config import Config, ConfigWatcher, ensure_config_file, update_config_file
from vcam_emoji.detect import create_detector
from vcam_emoji.doctor import _model_checks
from vcam_emoji.engine import Engine
from vcam_emoji.errors import ModelError
from vcam_emoji.models import load_model_spec, sha256_of
from vcam_emoji.resources import models_dir
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.source.demo import DEMO_CLIP, ClipInput
from vcam_emoji.source.scripted import ManualClock

PHOTO = FIXTURES / "astronaut_256.jpg"


def model_pair(folder: Path, onnx_from: str | Path, manifest_from: str, name: str, **changes) -> Path:
    """``folder/name.onnx`` (a copy of a bundled model, or of a file) with ``manifest_from``'s manifest beside it,
    made consistent (name, file, sha256) and then changed by ``changes`` (dotted keys, e.g. input.size_hw)."""
    src = models_dir() / f"{onnx_from}.onnx" if isinstance(onnx_from, str) else onnx_from
    onnx_path = folder / f"{name}.onnx"
    shutil.copy(src, onnx_path)
    manifest = json.loads((models_dir() / f"{manifest_from}.json").read_text())
    manifest.update(name=name, file=onnx_path.name, sha256=sha256_of(onnx_path))
    for dotted, value in changes.items():
        node = manifest
        *parents, last = dotted.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    onnx_path.with_suffix(".json").write_text(json.dumps(manifest))
    return onnx_path


def tiny_classifier(folder: Path, name: str, *, per_face: int = 7, declared=None, batch="N", softmax=True,
                    manifest_changes: dict | None = None) -> Path:
    """A real (tiny) ONNX classifier: flatten a [batch, 1, 48, 48] input, multiply, optionally softmax."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.linspace(-1e-3, 1e-3, 48 * 48 * per_face, dtype=np.float32)
                                     .reshape(48 * 48, per_face), "W")
    nodes = [helper.make_node("Flatten", ["input"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["scores" if softmax else "probs"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["scores"], ["probs"], axis=1))
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, 48, 48])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, declared or [batch, per_face])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    raw = folder / f"{name}.raw.onnx"
    onnx.save(model, raw)
    path = model_pair(folder, raw, "emocnn_fer2013", name, **(manifest_changes or {}))
    raw.unlink()
    return path


def load_classifier(path: Path):
    return create_classifier(load_model_spec(path, task="expression_classification"), providers="cpu", threads=1)


def load_detector(path: Path):
    return create_detector(load_model_spec(path, task="face_detection"), providers="cpu", threads=1)


# ------------------------------------------------------------------------------------------ session vs manifest
def test_classifier_whose_input_size_is_not_the_manifests(tmp_path):
    path = model_pair(tmp_path, "mini_xception_fer2013", "mini_xception_fer2013", "wrong_size",
                      **{"input.size_hw": [48, 48]})
    with pytest.raises(ModelError, match=r"wrong_size.onnx: the model does not match its manifest: input 'input' has "
                                         r"shape \[N, 1, 64, 64\], the manifest implies \[\?, 1, 48, 48\]"):
        load_classifier(path)


def test_detector_file_behind_a_classifier_manifest(tmp_path):
    path = model_pair(tmp_path, "centerface", "emocnn_fer2013", "not_a_classifier")
    with pytest.raises(ModelError, match=r"input 'input.1' has shape \[1, 3, H, W\].*face detector given as the "
                                         r"classifier"):
        load_classifier(path)


def test_detector_named_as_the_classifier():
    with pytest.raises(ModelError, match="face_detection model, but an expression_classification model is needed"):
        load_model_spec(models_dir() / "centerface.onnx", task="expression_classification")


def test_classifier_with_five_outputs_declared(tmp_path):
    with pytest.raises(ModelError, match=r"output 'probs' has shape \[N, 5\]: 5 values per face, expected 7"):
        load_classifier(tiny_classifier(tmp_path, "five", per_face=5))


class Tensor:
    def __init__(self, name, shape, type="tensor(float)"):
        self.name, self.shape, self.type = name, shape, type


class FreeShapeSession:
    """A session whose output size onnxruntime cannot know before running (a free dimension "K")."""

    def __init__(self, per_face: int, value: float = 1 / 7):
        self.per_face, self.value = per_face, value

    def get_inputs(self):
        return [Tensor("input", ["N", 1, 48, 48])]

    def get_outputs(self):
        return [Tensor("probs", ["N", "K"])]

    def run(self, names, feeds):
        return [np.full((len(feeds["input"]), self.per_face), self.value, np.float32)]


def test_classifier_whose_output_size_shows_only_when_run_fails_its_trial_run():
    manifest = load_model_spec("emocnn_fer2013").manifest
    from vcam_emoji.classify import ExpressionClassifier

    with pytest.raises(ModelError, match=r"output of shape \[2, 5\] for 2 face\(s\), expected 7 values per face"):
        ExpressionClassifier(FreeShapeSession(5), manifest, "five.onnx")
    with pytest.raises(ModelError, match="NaN or infinite outputs"):
        ExpressionClassifier(FreeShapeSession(7, float("nan")), manifest, "nan.onnx")
    assert ExpressionClassifier(FreeShapeSession(7), manifest, "ok.onnx").predict_crops(
        np.zeros((1, 48, 48), np.uint8)).shape == (1, 7)


def test_logits_declared_as_probabilities(tmp_path):
    path = tiny_classifier(tmp_path, "logits", softmax=False)
    with pytest.raises(ModelError, match=r"are not probabilities that sum to 1; set \"output\": \"logits\""):
        load_classifier(path)
    fixed = tiny_classifier(tmp_path, "logits_ok", softmax=False, manifest_changes={"output": "logits"})
    classifier, _ = load_classifier(fixed)
    np.testing.assert_allclose(classifier.predict_crops(np.zeros((3, 48, 48), np.uint8)).sum(axis=1), 1, atol=1e-5)


def test_a_fixed_batch_of_one_is_run_one_face_at_a_time(tmp_path):
    classifier, _ = load_classifier(tiny_classifier(tmp_path, "batch1", batch=1))
    probs = classifier.predict_crops(np.random.default_rng(0).integers(0, 255, (3, 48, 48), np.uint8))
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_a_fixed_batch_of_two_is_refused(tmp_path):
    with pytest.raises(ModelError, match="fixed batch of 2"):
        load_classifier(tiny_classifier(tmp_path, "batch2", batch=2))


def test_blazeface_with_another_blazefaces_manifest(tmp_path):
    path = model_pair(tmp_path, "blazeface_short", "blazeface_full", "short_as_full")
    with pytest.raises(ModelError, match=r"input 'input' has shape \[1, 3, 128, 128\], the manifest implies "
                                         r"\[\?, 3, 192, 192\]"):
        load_detector(path)


def test_detector_manifest_naming_an_output_the_model_lacks(tmp_path):
    path = model_pair(tmp_path, "blazeface_short", "blazeface_short", "renamed", **{"outputs.boxes": "boxes"})
    with pytest.raises(ModelError, match=r"it has no output 'boxes' \(its outputs: 'regressors', 'classificators'\)"):
        load_detector(path)


def test_centerface_manifest_with_more_landmarks_than_the_model_gives(tmp_path):
    path = model_pair(tmp_path, "centerface", "centerface", "six_points",
                      landmarks=["eye_a", "eye_b", "nose_tip", "mouth_a", "mouth_b", "chin"])
    with pytest.raises(ModelError, match=r"output '540' came out \[1, 10, 120, 160\] on a blank frame, decoding needs "
                                         r"\[1, >=12, 120, 160\]"):
        load_detector(path)


# -------------------------------------------------------------------------------- manifests no model could match
def deep(text_depth: int) -> str:
    return "[" * text_depth + "]" * text_depth


@pytest.mark.parametrize("write, expected", [
    (lambda m: deep(100_000), "nests 100000 levels deep, more than 16"),
    (lambda m: json.dumps({**m, "nested": json.loads(deep(17))}), "nests 18 levels deep, more than 16"),
    (lambda m: json.dumps({**m, "notes": "x" * 300_000}), "larger than 256 KB"),
    (lambda m: json.dumps(m).replace('"std": 65.0077', '"std": NaN'), "NaN is not a number JSON allows"),
    (lambda m: json.dumps(m).replace('"std": 65.0077', '"std": Infinity'), "Infinity is not a number JSON allows"),
    (lambda m: json.dumps(m).replace('"std": 65.0077', '"std": 1e400'),
     r"preprocess.std: inf is greater than the maximum of 1000"),
    (lambda m: json.dumps(m).replace('"std": 65.0077', '"std": -2'), r"preprocess.std: -2 is less than or equal"),
    (lambda m: json.dumps({**m, "input": {**m["input"], "size_hw": [100000, 100000]}}),
     r"input.size_hw.\d: 100000 is greater than the maximum of 1024"),
    (lambda m: json.dumps({**m, "input": {**m["input"], "size_hw": [48, "48"]}}), r"input.size_hw.1: '48' is not"),
    (lambda m: json.dumps({**m, "classes": 7}), r"'classes' is 7, expected the FER-2013 order"),
    (lambda m: json.dumps({**m, "crop": {"margin": 0.05, "shift_y": 3}}), r"crop.shift_y: 3 is greater than"),
])
def test_classifier_manifest_limits(tmp_path, write, expected):
    path = model_pair(tmp_path, "emocnn_fer2013", "emocnn_fer2013", "edited")
    manifest = json.loads(path.with_suffix(".json").read_text())
    path.with_suffix(".json").write_text(write(manifest))
    with pytest.raises(ModelError, match=expected):
        load_model_spec(path)


@pytest.mark.parametrize("model, changes, expected", [
    ("blazeface_full", {"input.size_hw": [100000, 100000]}, r"input.size_hw.\d: 100000 is greater than the maximum of 2048"),
    ("blazeface_full", {"decode.anchors.strides": [0]}, r"decode.anchors.strides.0: 0 is less than the minimum"),
    ("blazeface_full", {"input.std": 0}, r"input.std: 0 is less than or equal to the minimum of 0"),
    ("blazeface_full", {"score_threshold": 1.5}, r"score_threshold: 1.5 is greater than or equal"),
    ("centerface", {"input.size_multiple": 0}, r"input.size_multiple: 0 is less than the minimum of 1"),
    ("centerface", {"input.max_side": 1_000_000}, r"input.max_side: 1000000 is greater than the maximum of 4096"),
    ("centerface", {"decode.stride": "4"}, r"decode.stride: '4' is not of type 'integer'"),
])
def test_detector_manifest_limits(tmp_path, model, changes, expected):
    path = model_pair(tmp_path, model, model, "edited", **changes)
    with pytest.raises(ModelError, match=expected):
        load_model_spec(path)


def test_detector_manifest_that_skips_load_model_spec_is_still_checked():
    """A ModelSpec made in code (not read from a file) gets the same limits when the detector is built."""
    import dataclasses

    spec = load_model_spec("centerface")
    bad = {**spec.manifest, "input": {**spec.manifest["input"], "size_multiple": 0}}
    with pytest.raises(ModelError, match="size_multiple is 0"):
        create_detector(dataclasses.replace(spec, manifest=bad), providers="cpu")
    nan = {**spec.manifest, "decode": {**spec.manifest["decode"], "nms_iou_threshold": float("nan")}}
    with pytest.raises(ModelError, match="nms_iou_threshold nan"):
        create_detector(dataclasses.replace(spec, manifest=nan), providers="cpu")
    missing = {**spec.manifest, "outputs": {"heatmap": "537"}}
    with pytest.raises(ModelError, match="field is missing or has a bad value"):
        create_detector(dataclasses.replace(spec, manifest=missing), providers="cpu")


# ---------------------------------------------------------------------------------------- the commands and doctor
@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return ensure_config_file(tmp_path / "config.toml")


def bad_classifiers(folder: Path) -> dict[str, Path]:
    return {
        "wrong input size": model_pair(folder, "mini_xception_fer2013", "mini_xception_fer2013", "wrong_size",
                                       **{"input.size_hw": [48, 48]}),
        "detector behind a classifier manifest": model_pair(folder, "centerface", "emocnn_fer2013", "detector"),
        "size_hw 100000": model_pair(folder, "emocnn_fer2013", "emocnn_fer2013", "huge",
                                     **{"input.size_hw": [100000, 100000]}),
    }


@pytest.mark.parametrize("case", ["wrong input size", "detector behind a classifier manifest", "size_hw 100000"])
def test_render_and_eval_refuse_a_bad_classifier_with_one_message(tmp_path, config, capsys, case):
    path = bad_classifiers(tmp_path)[case]
    out = tmp_path / "out.png"
    assert main(["render", "--config", str(config), "-q", "--classifier", str(path), str(PHOTO), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("vcam-emoji: error:") == 1 and path.stem in err
    assert not out.exists()
    data = tmp_path / "faces.npz"
    np.savez(data, x=np.zeros((4, 48, 48), np.uint8), y=np.arange(4))
    assert main(["eval", "--data", str(data), "--model", str(path), "--provider", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err.count("vcam-emoji: error:") == 1 and path.stem in err


def test_a_deep_manifest_is_one_message_from_the_real_command(tmp_path, config):
    path = model_pair(tmp_path, "emocnn_fer2013", "emocnn_fer2013", "deep")
    path.with_suffix(".json").write_text(deep(100_000))
    proc = subprocess.run([sys.executable, "-m", "vcam_emoji", "render", "--config", str(config), "-q",
                           "--classifier", str(path), str(PHOTO), str(tmp_path / "out.png")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("vcam-emoji: error:")
    assert "nests 100000 levels deep" in proc.stderr
    assert not (tmp_path / "out.png").exists()


def test_doctor_runs_each_model_and_names_a_configured_bad_one(tmp_path):
    bad = bad_classifiers(tmp_path)["detector behind a classifier manifest"]
    checks = _model_checks(Config().with_changes({"classifier.model": str(bad), "runtime.execution_provider": "cpu"}))
    bundled = [c for c in checks if "runs on a blank input" in c.text]
    assert len(bundled) >= 6 and all(c.ok for c in bundled)
    (configured,) = [c for c in checks if c.text.startswith("classifier.model")]
    assert not configured.ok and "does not match its manifest" in configured.fix
    detector = _model_checks(Config().with_changes({"detector.model": str(models_dir() / "emocnn_fer2013.onnx")}))
    (named,) = [c for c in detector if c.text.startswith("detector.model")]
    assert not named.ok and "face_detection model is needed" in named.fix


# ------------------------------------------------------------------------------------------- a live settings edit
@pytest.mark.parametrize("case", ["wrong input size", "detector behind a classifier manifest", "size_hw 100000",
                                  "deep manifest", "std NaN"])
def test_live_edit_to_a_bad_model_keeps_the_running_model_and_says_why(tmp_path, monkeypatch, case):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    models = bad_classifiers(tmp_path)
    models["deep manifest"] = model_pair(tmp_path, "emocnn_fer2013", "emocnn_fer2013", "deep")
    models["deep manifest"].with_suffix(".json").write_text(deep(100_000))
    models["std NaN"] = model_pair(tmp_path, "emocnn_fer2013", "emocnn_fer2013", "nan")
    text = models["std NaN"].with_suffix(".json").read_text()
    models["std NaN"].with_suffix(".json").write_text(text.replace('"std": 65.0077', '"std": NaN'))
    path = ensure_config_file(tmp_path / "config.toml")
    update_config_file(path, {"camera.width": 320, "camera.height": 180, "runtime.execution_provider": "cpu",
                              "privacy.hide_when_no_face": False})
    clock = ManualClock(0.0)
    watcher = ConfigWatcher(path, clock=clock, interval_s=0.0)
    config = watcher.current
    sink = MemorySink((320, 180), config.camera.fps)
    problems = []
    engine = Engine(config, open_input=lambda cfg: ClipInput(DEMO_CLIP, (320, 180), is_demo=True, clock=clock),
                    sink=sink, config_watcher=watcher, clock=clock, on_problem=problems.append)
    period = 1.0 / config.camera.fps

    def steps(start: int, n: int) -> None:
        for k in range(start, start + n):
            clock.set(k * period)
            engine.step()

    engine.begin()
    try:
        steps(0, 5)
        before = engine.status()
        assert before.state == "running" and before.classifier == "emocnn_fer2013"
        update_config_file(path, {"classifier.model": str(models[case])})
        steps(5, 10)
        status = engine.status()
        sent_after = sink.count
        steps(15, 5)
    finally:
        engine.end()
    assert status.classifier == "emocnn_fer2013" and status.state == "running"
    assert any(f"{models[case].stem}." in p and "keeping the current models" in p for p in problems), problems
    assert sink.count == sent_after + 5  # the picture kept flowing
