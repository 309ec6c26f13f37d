"""Fine-tuning from an exported model: ``vcam-emoji train --init model.onnx`` (vcam_emoji/training/onnx_import.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.test_training import synthetic, write_npz

pytestmark = pytest.mark.needs_torch
torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")

from vcam_emoji.errors import InputError  # noqa: E402
from vcam_emoji.training import command, evaluate  # noqa: E402
from vcam_emoji.training.model import EmoCNN  # noqa: E402
from vcam_emoji.training.onnx_import import read_emocnn_onnx, unfold_into  # noqa: E402


def _trained_export(tmp_path: Path) -> Path:
    run = tmp_path / "base"
    assert command.main(["--data", str(write_npz(tmp_path / "t.npz", 6, 0)), "--out", str(run), "--epochs", "2",
                         "--threads", "1", "--widths", "8,16", "--depths", "1,2", "--batch-size", "16"]) == 0
    return run / "emocnn_fer2013.onnx"


def _no_dropout(model: EmoCNN) -> EmoCNN:
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def _unfolded(onnx_path: Path, calibration: np.ndarray) -> tuple[EmoCNN, torch.Tensor]:
    folded = read_emocnn_onnx(onnx_path)
    x = torch.from_numpy(((calibration.astype(np.float32) - folded.mean) / folded.std)[:, None])
    model = EmoCNN(7, folded.widths, folded.depths, folded.input_size, folded.hidden)
    unfold_into(model, folded, x)
    return model, x


def test_an_export_reads_back_as_the_same_model_with_batch_norms_fitted_to_the_data(tmp_path: Path) -> None:
    onnx_path = _trained_export(tmp_path)
    folded = read_emocnn_onnx(onnx_path)
    base = torch.load(tmp_path / "base" / "best.pt", map_location="cpu", weights_only=False)
    assert (folded.widths, folded.depths, folded.hidden) == ((8, 16), (1, 2), base["config"]["hidden"])
    assert (folded.mean, folded.std) == pytest.approx((base["mean"], base["std"]), abs=1e-4)  # manifest rounding

    x_img, _ = synthetic(5, 3)
    model, x = _unfolded(onnx_path, x_img)
    model.eval()
    with torch.no_grad():
        got = torch.softmax(model(x), 1).numpy()
    want = evaluate.cpu_session(onnx_path).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)  # eval mode: the exported function, exactly

    # training mode normalises with the batch's own statistics: on the images the conv BatchNorms were measured on,
    # that is the same computation, so fine-tuning starts from what the export does (the head's BatchNorm is not
    # folded by the export and keeps the statistics it was trained with, so it stays in eval mode here)
    _no_dropout(model).train()
    model.head[3].eval()
    with torch.no_grad():
        got_train = torch.softmax(model(x), 1).numpy()
    np.testing.assert_allclose(got_train, want, atol=1e-4)
    assert model.state_dict().keys() == base["model"].keys()


def test_the_bundled_default_classifier_reads_back_exactly() -> None:
    onnx_path = REPO / "models" / "emocnn_fer2013.onnx"
    x_img = np.random.default_rng(0).integers(0, 256, (32, 48, 48), dtype=np.uint8)
    model, x = _unfolded(onnx_path, x_img)
    model.eval()
    with torch.no_grad():
        got = torch.softmax(model(x), 1).numpy()
    want = evaluate.cpu_session(onnx_path).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_command_fine_tunes_from_an_export_keeping_its_architecture_and_normalisation(tmp_path: Path) -> None:
    onnx_path = _trained_export(tmp_path)
    base = json.loads(onnx_path.with_suffix(".json").read_text())
    x, y = synthetic(6, 2)
    np.savez(tmp_path / "bright.npz", x=np.clip(x.astype(int) + 40, 0, 255).astype(np.uint8), y=y)
    assert command.main(["--data", str(tmp_path / "bright.npz"), "--val", str(write_npz(tmp_path / "v.npz", 2, 1)),
                         "--epochs", "1", "--batch-size", "16", "--threads", "1", "--out", str(tmp_path / "ft"),
                         "--init", str(onnx_path)]) == 0
    tuned = torch.load(tmp_path / "ft" / "best.pt", map_location="cpu", weights_only=False)
    assert tuple(tuned["config"]["widths"]) == (8, 16) and tuple(tuned["config"]["depths"]) == (1, 2)
    assert (tuned["mean"], tuned["std"]) == (base["preprocess"]["mean"], base["preprocess"]["std"])
    manifest = json.loads((tmp_path / "ft" / "emocnn_fer2013.json").read_text())
    assert manifest["training"]["fine_tuned_from"] == str(onnx_path)
    assert manifest["preprocess"]["mean"] == base["preprocess"]["mean"]


@pytest.mark.parametrize("model, message", [
    ("mini_xception_fer2013", "is not an EmoCNN exported by vcam-emoji train"),
    ("emocnn_d2233_fer2013", "is int8-quantized; fine-tune from its float32 export"),
    ("blazeface_short", "this is a face_detection model, but an expression_classification model is needed here"),
])
def test_init_rejects_models_it_cannot_fine_tune(model: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_emocnn_onnx(REPO / "models" / f"{model}.onnx")


def test_command_reports_an_onnx_without_manifest_or_a_corrupt_one(tmp_path: Path, capsys) -> None:
    data = str(write_npz(tmp_path / "t.npz", 2, 0))
    lone = tmp_path / "lone.onnx"
    lone.write_bytes((REPO / "models" / "emocnn_fer2013.onnx").read_bytes())
    assert command.main(["--data", data, "--out", str(tmp_path / "r"), "--init", str(lone)]) == 1
    err = capsys.readouterr().err
    assert "--init" in err and "lone.json" in err

    onnx_path = _trained_export(tmp_path)
    onnx_path.write_bytes(b"not onnx")
    assert command.main(["--data", data, "--out", str(tmp_path / "r2"), "--init", str(onnx_path)]) == 1
    err = capsys.readouterr().err
    assert "--init" in err and "sha256" in err


def test_init_and_teacher_take_a_bundled_models_name(tmp_path: Path, capsys) -> None:
    from vcam_emoji.training.train import OnnxTeacher, TrainConfig, _load_teachers

    folded = read_emocnn_onnx(Path("emocnn_fer2013"))
    assert folded.widths == (16, 48, 96, 160) and folded.depths == (1, 2, 2, 2)
    (teacher,) = _load_teachers(TrainConfig(data=tmp_path / "t.npz", out=tmp_path, threads=1,
                                            teachers=(Path("emocnn_d2233_fer2013"),)))
    assert isinstance(teacher, OnnxTeacher)

    data = str(write_npz(tmp_path / "t.npz", 2, 0))
    assert command.main(["--data", data, "--out", str(tmp_path / "r"), "--init", "no_such_model"]) == 1
    err = capsys.readouterr().err
    assert "--init" in err and "unknown model 'no_such_model'" in err and "emocnn_fer2013" in err
