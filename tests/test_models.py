"""Bundled models: manifests, checksums, loading errors, onnxruntime sessions, and the classifier's contract."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vcam_emoji.errors import ModelError
from vcam_emoji.models import DEFAULT_DETECTOR, ModelSpec, list_models, load_model_spec, sha256_of
from vcam_emoji.onnx_session import create_session, requested_providers
from vcam_emoji.resources import models_dir
from vcam_emoji.types import EXPRESSION_LABELS

DETECTORS = ["blazeface_short", "blazeface_full", "centerface"]
CLASSIFIERS = ["mini_xception_fer2013"]
COMMON_KEYS = {"name", "file", "task", "sha256", "license", "origin", "verification"}


def copy_model(name: str, dest: Path) -> Path:
    """Copy a bundled model and its manifest into ``dest``; return the copied .onnx path."""
    src = models_dir() / f"{name}.onnx"
    shutil.copy(src, dest / src.name)
    shutil.copy(src.with_suffix(".json"), dest / f"{name}.json")
    return dest / src.name


def test_default_detector_is_a_bundled_detector():
    assert load_model_spec(DEFAULT_DETECTOR, task="face_detection").name == DEFAULT_DETECTOR


def test_all_bundled_models_are_listed():
    assert set(DETECTORS + CLASSIFIERS) <= set(list_models())
    assert set(list_models(task="face_detection")) >= set(DETECTORS)
    assert "centerface" not in list_models(task="expression_classification")


@pytest.mark.parametrize("name", DETECTORS + CLASSIFIERS)
def test_manifest_is_complete_and_matches_its_file(name):
    path = models_dir() / f"{name}.json"
    manifest = json.loads(path.read_text())

    assert COMMON_KEYS <= set(manifest)
    assert manifest["name"] == name
    assert manifest["file"] == f"{name}.onnx"
    assert manifest["sha256"] == sha256_of(models_dir() / manifest["file"])
    assert manifest["license"] in ("Apache-2.0", "MIT")
    origin = manifest["origin"]
    assert {"wheel", "wheel_sha256", "path_in_wheel", "upstream"} <= set(origin)
    assert len(origin["wheel_sha256"]) == 64
    verification = manifest["verification"]
    assert verification["n_inputs"] >= 1
    assert 0.0 <= verification["max_abs_diff"] < 1e-2


@pytest.mark.parametrize("name", DETECTORS)
def test_detector_manifest_describes_its_decoding(name):
    m = load_model_spec(name).manifest

    assert m["task"] == "face_detection"
    assert m["architecture"] in ("blazeface", "centerface")
    assert m["input"]["layout"] == "NCHW"
    assert 0.0 < m["score_threshold"] < 1.0
    assert m["landmarks"][:2] == ["eye_a", "eye_b"]


def test_classifier_manifest_has_exactly_the_shared_schema():
    m = load_model_spec("mini_xception_fer2013").manifest

    assert m["task"] == "expression_classification"
    assert m["input"] == {"size_hw": [64, 64], "channels": 1, "layout": "NCHW"}
    assert m["preprocess"] == {"color": "gray", "mean": 127.5, "std": 127.5}
    assert set(m["crop"]) <= {"margin", "shift_y"} and -0.3 <= m["crop"]["margin"] < 1.0
    assert m["classes"] == list(EXPRESSION_LABELS)
    assert m["output"] == "probabilities"


def test_load_by_name_and_by_path_give_the_same_spec(tmp_path):
    by_name = load_model_spec("blazeface_short")
    by_path = load_model_spec(str(models_dir() / "blazeface_short.onnx"))

    assert isinstance(by_name, ModelSpec)
    assert by_name.path == by_path.path
    assert by_name.task == "face_detection" and by_name.architecture == "blazeface"
    assert by_name.manifest_path.name == "blazeface_short.json"


def test_unknown_name_lists_the_known_models():
    with pytest.raises(ModelError, match="unknown model 'nope'.*blazeface_short.*centerface"):
        load_model_spec("nope")


def test_missing_onnx_file_names_the_path(tmp_path):
    with pytest.raises(ModelError, match="missing.onnx: model file not found"):
        load_model_spec(tmp_path / "missing.onnx")


def test_truncated_model_is_reported_as_corrupt(tmp_path):
    onnx_path = copy_model("blazeface_short", tmp_path)
    data = onnx_path.read_bytes()
    onnx_path.write_bytes(data[: len(data) // 3])

    with pytest.raises(ModelError, match=r"blazeface_short.onnx: sha256 .* corrupt or was modified; reinstall "
                                         r"vcam-emoji \(pip install --force-reinstall --no-deps vcam-emoji\)"):
        load_model_spec(onnx_path)


def test_truncated_model_that_skips_the_checksum_fails_to_load_clearly(tmp_path):
    onnx_path = copy_model("blazeface_short", tmp_path)
    data = onnx_path.read_bytes()
    onnx_path.write_bytes(data[: len(data) // 3])
    spec = load_model_spec(onnx_path, verify=False)

    with pytest.raises(ModelError, match="onnxruntime cannot load this model.*corrupt, truncated"):
        create_session(spec.path, providers="cpu")


def test_missing_manifest(tmp_path):
    onnx_path = copy_model("centerface", tmp_path)
    onnx_path.with_suffix(".json").unlink()

    with pytest.raises(ModelError, match="centerface.json: the model manifest is missing"):
        load_model_spec(onnx_path)


def test_manifest_with_bad_json(tmp_path):
    onnx_path = copy_model("centerface", tmp_path)
    onnx_path.with_suffix(".json").write_text('{"name": "centerface",')

    with pytest.raises(ModelError, match="not valid JSON"):
        load_model_spec(onnx_path)


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"task": "pose"}, "'task' is 'pose'"),
        ({"classes": list(reversed(EXPRESSION_LABELS))}, "FER-2013 order"),
        ({"output": "scores"}, "'output' is 'scores'"),
        ({"preprocess": {"color": "gray", "mean": 0, "std": 0}}, "'preprocess'"),
        ({"crop": None}, "'crop'"),
    ],
)
def test_invalid_classifier_manifest(tmp_path, edit, message):
    onnx_path = copy_model("mini_xception_fer2013", tmp_path)
    manifest_path = onnx_path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    manifest.update(edit)
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(ModelError, match=message):
        load_model_spec(onnx_path)


def test_manifest_missing_keys_are_named(tmp_path):
    onnx_path = copy_model("blazeface_full", tmp_path)
    manifest_path = onnx_path.with_suffix(".json")
    manifest = json.loads(manifest_path.read_text())
    del manifest["sha256"], manifest["landmarks"]
    manifest_path.write_text(json.dumps(manifest))

    with pytest.raises(ModelError, match="lacks sha256, landmarks"):
        load_model_spec(onnx_path)


def test_wrong_task_is_rejected():
    with pytest.raises(ModelError, match="expression_classification model, but a face_detection model is needed"):
        load_model_spec("mini_xception_fer2013", task="face_detection")


def test_cpu_session_reports_the_providers_it_uses():
    session, used = create_session(load_model_spec("mini_xception_fer2013").path, providers="cpu", threads=1)

    assert used == ["CPUExecutionProvider"]
    assert [i.name for i in session.get_inputs()] == ["input"]


@pytest.mark.parametrize(
    "policy, available, expected",
    [
        ("auto", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]),
        ("directml", ["DmlExecutionProvider", "CPUExecutionProvider"],
         ["DmlExecutionProvider", "CPUExecutionProvider"]),
        ("coreml", ["CPUExecutionProvider"], ["CPUExecutionProvider"]),
    ],
)
def test_provider_policy(policy, available, expected):
    assert requested_providers(policy, available) == expected


def test_auto_prefers_a_gpu_provider_when_one_is_available():
    # CUDA may already have failed in this process (it is then skipped); DirectML is never tried on Linux.
    chosen = requested_providers("auto", ["DmlExecutionProvider", "CPUExecutionProvider"])
    assert chosen == ["DmlExecutionProvider", "CPUExecutionProvider"]


@pytest.mark.parametrize("providers, threads, message", [("gpu", 0, "providers: expected one of"),
                                                         ("cpu", -1, "threads: expected an integer >= 0")])
def test_bad_session_arguments(providers, threads, message):
    with pytest.raises(ModelError, match=message):
        create_session(load_model_spec("mini_xception_fer2013").path, providers=providers, threads=threads)


def test_classifier_outputs_probabilities_in_fer_order_for_any_batch():
    spec = load_model_spec("mini_xception_fer2013")
    session, _ = create_session(spec.path, providers="cpu", threads=1)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 1, 64, 64)).astype(np.float32)
    pre = spec.manifest["preprocess"]
    x = (pixels - pre["mean"]) / pre["std"]

    (probs,) = session.run(None, {"input": x})

    assert probs.shape == (3, len(spec.manifest["classes"]))
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
