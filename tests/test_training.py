"""Training package: data loaders (npz, Kaggle folders, csv, FER+ votes), a tiny training run, ONNX export + manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import shared_file
from vcam_emoji.errors import InputError
from vcam_emoji.training import data
from vcam_emoji.types import EXPRESSION_LABELS

MANIFEST_KEYS = {"name", "file", "task", "sha256", "license", "origin", "input", "preprocess", "crop", "classes",
                 "output", "verification", "metrics", "training"}


def synthetic(n_per_class: int, seed: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Separable toy faces: class k has horizontal stripes of period 2 + k, plus noise."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    rows = np.arange(size)[:, None]
    for k in range(7):
        stripes = np.where((rows // (2 + k)) % 2 == 0, 170, 80) * np.ones((1, size))
        for _ in range(n_per_class):
            xs.append(np.clip(stripes + rng.normal(0, 25, (size, size)), 0, 255).astype(np.uint8))
            ys.append(k)
    return np.stack(xs), np.asarray(ys, np.uint8)


def write_npz(path: Path, n_per_class: int, seed: int) -> Path:
    x, y = synthetic(n_per_class, seed)
    np.savez(path, x=x, y=y)
    return path


# --- data loaders (no torch needed) ---------------------------------------------------------------------------------

def test_npz_loader_reads_images_and_labels(tmp_path: Path) -> None:
    ds = data.load_dataset(write_npz(tmp_path / "d.npz", 3, 0))
    assert ds.x.shape == (21, 48, 48) and ds.x.dtype == np.uint8
    assert ds.class_counts() == [3] * 7


def test_npz_loader_resizes_to_the_requested_size(tmp_path: Path) -> None:
    ds = data.load_dataset(write_npz(tmp_path / "d.npz", 1, 0), size=32)
    assert ds.x.shape == (7, 32, 32)


def test_kaggle_folder_layout_picks_the_split_by_role(tmp_path: Path) -> None:
    x, y = synthetic(2, 1)
    for split, ext in (("train", ".jpg"), ("test", ".png")):
        for i, (im, label) in enumerate(zip(x, y)):
            folder = tmp_path / split / EXPRESSION_LABELS[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{i}{ext}"), im)
    (tmp_path / "test" / "happy" / "extra.png").write_bytes(cv2.imencode(".png", x[0])[1].tobytes())
    train = data.load_dataset(tmp_path, role="train")
    val = data.load_dataset(tmp_path, role="val")
    assert len(train) == 14 and train.class_counts() == [2] * 7
    assert len(val) == 15 and val.class_counts()[3] == 3
    np.testing.assert_array_equal(val.x[0], x[0])  # PNG is lossless


def test_folder_of_class_folders_without_splits(tmp_path: Path) -> None:
    (tmp_path / "sad").mkdir()
    cv2.imwrite(str(tmp_path / "sad" / "a.png"), np.full((48, 48), 9, np.uint8))
    ds = data.load_dataset(tmp_path, role="val")
    assert ds.y.tolist() == [4]


def test_fer2013_csv_uses_the_usage_column(tmp_path: Path) -> None:
    x, y = synthetic(1, 2)
    lines = ["emotion,pixels,Usage"]
    for i, (im, label) in enumerate(zip(x, y)):
        usage = "Training" if i < 5 else "PublicTest"
        lines.append(f"{label},{' '.join(map(str, im.reshape(-1)))},{usage}")
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    train = data.load_dataset(path, role="train")
    val = data.load_dataset(path, role="val")
    assert len(train) == 5 and len(val) == 2
    np.testing.assert_array_equal(val.x[1], x[6])
    assert val.y.tolist() == [5, 6]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.npz", "not found"),
        (lambda p: (p / "a.txt").write_text("x") and p / "a.txt", "unknown data set format"),
        (lambda p: (p / "bad.npz").write_bytes(b"not a zip") and p / "bad.npz", "cannot read"),
        (lambda p: np.savez(p / "nox.npz", images=np.zeros((2, 48, 48), np.uint8)) or p / "nox.npz", "'x'"),
        (lambda p: np.savez(p / "lab.npz", x=np.zeros((2, 48, 48), np.uint8), y=np.array([0, 9])) or p / "lab.npz",
         "labels must be"),
        (lambda p: (p / "bad.csv").write_text("a,b\n1,2\n") and p / "bad.csv", "columns"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no class folders"),
    ],
)
def test_bad_data_gives_input_error(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=message):
        data.load_dataset(path)


def test_ferplus_votes_become_distributions_in_fer_order(tmp_path: Path) -> None:
    cols = np.array(["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                     "unknown", "NF"])
    votes = np.zeros((3, 10), np.int16)
    votes[0, 1] = 8  # happiness
    votes[0, 0] = 2  # neutral
    votes[1, 9] = 10  # not a face: no 7-class votes
    votes[2, 4] = 5  # anger
    votes[2, 6] = 5  # fear
    np.savez(tmp_path / "v.npz", train_votes=votes, vote_cols=cols)
    dist = data.load_soft_labels(tmp_path / "v.npz", 3)
    np.testing.assert_allclose(dist[0], [0, 0, 0, 0.8, 0, 0, 0.2])
    np.testing.assert_allclose(dist[1], np.zeros(7))
    np.testing.assert_allclose(dist[2], [0.5, 0, 0.5, 0, 0, 0, 0])
    with pytest.raises(InputError, match="row-aligned"):
        data.load_soft_labels(tmp_path / "v.npz", 4)


def test_drop_overlap_removes_exact_copies_of_validation_images() -> None:
    x, y = synthetic(2, 3)
    train = data.FaceDataset(x, y.astype(np.int64), "train")
    val = data.FaceDataset(x[:3].copy(), y[:3].astype(np.int64), "val")
    kept, dropped = data.drop_overlap(train, val)
    assert dropped == 3 and len(kept) == 11


@pytest.mark.needs_shared
def test_real_ferplus_votes_align_with_publictest() -> None:
    votes_file = shared_file("data/ferplus_labels_aligned_to_fer2013.npz")
    test = data.load_dataset(shared_file("data/fer2013_publictest.npz"), role="val")
    dist = data.load_soft_labels(votes_file, len(test), key="publictest_votes")
    has = dist.sum(1) > 0
    np.testing.assert_allclose(dist[has].sum(1), 1.0, atol=1e-5)
    # FER+ and the original labels agree on most images (about 68% in the data set notes)
    agree = (dist[has].argmax(1) == test.y[has]).mean()
    assert 0.55 < agree < 0.85


# --- training and export (needs torch) ------------------------------------------------------------------------------

@pytest.mark.needs_torch
def test_tiny_training_run_learns_exports_and_writes_the_manifest(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training.augment import AugmentConfig
    from vcam_emoji.training.train import TrainConfig, train

    cfg = TrainConfig(
        data=write_npz(tmp_path / "train.npz", 24, 0), val=write_npz(tmp_path / "val.npz", 6, 1),
        out=tmp_path / "run", epochs=4, batch_size=32, lr=0.05, warmup_epochs=0.5, threads=1,
        widths=(8, 16, 16, 32), depths=(1, 1, 1, 1), hidden=32, dropout=0.0, bf16=False,
        augment=AugmentConfig(rotate_deg=0, scale=0, shift=0, flip=False, brightness=0, contrast=0, erase_p=0),
        name="tiny", command="pytest")
    result = train(cfg)

    losses = [r["train_loss"] for r in result.history]
    assert len(losses) == 4
    assert losses[-1] < 0.7 * losses[0], losses
    assert result.best_val_accuracy > 0.5
    for name in ("last.pt", "best.pt", "curves.png", "history.json"):
        assert (cfg.out / name).is_file(), name

    manifest = json.loads(result.manifest_path.read_text())
    assert MANIFEST_KEYS <= set(manifest)
    assert manifest["task"] == "expression_classification"
    assert manifest["file"] == "tiny.onnx" and result.onnx_path.name == "tiny.onnx"
    assert manifest["sha256"] == hashlib.sha256(result.onnx_path.read_bytes()).hexdigest()
    assert manifest["input"] == {"size_hw": [48, 48], "channels": 1, "layout": "NCHW"}
    assert manifest["preprocess"]["color"] == "gray" and manifest["preprocess"]["std"] > 0
    assert 0.0 <= manifest["crop"]["margin"] <= 0.5
    assert manifest["classes"] == list(EXPRESSION_LABELS)
    assert manifest["output"] == "probabilities"
    assert manifest["verification"]["reference"] == "pytorch"
    assert manifest["verification"]["max_abs_diff"] <= 1e-4 and manifest["verification"]["n_inputs"] > 0
    metrics = manifest["metrics"]
    assert set(metrics["per_class_recall"]) == set(EXPRESSION_LABELS)
    assert metrics["fer2013_publictest_accuracy"] == pytest.approx(result.best_val_accuracy, abs=0.02)
    assert metrics["ms_per_face"] > 0
    assert {"epochs_run", "wall_clock_s", "optimizer"} <= set(manifest["training"])
    assert manifest["training"]["precision"] == "float32 training; float32 export"  # bf16=False, as run
    assert {"data", "recipe", "command", "git_commit"} <= set(manifest["origin"])

    # the int8 export of the same checkpoint: a smaller file the app loads, following the float32 model closely
    from vcam_emoji.models import load_model_spec
    from vcam_emoji.training.train import export_checkpoint

    onnx8, manifest8_path = export_checkpoint(result.best_checkpoint, tmp_path / "int8", name="tiny", int8=True)
    manifest8 = json.loads(manifest8_path.read_text())
    q = manifest8["quantization"]
    assert "int8" in q["scheme"] and q["calibration"] == "168 training images"  # all of them, fewer than 1000
    assert q["float32_sha256"] == manifest["sha256"]  # the same float32 export, quantized
    assert q["top1_agreement_with_float32"] >= 0.9 and q["n_inputs"] == 42
    assert manifest8["metrics"]["fer2013_publictest_accuracy"] >= result.best_val_accuracy - 0.1
    assert onnx8.stat().st_size < result.onnx_path.stat().st_size
    assert sorted(p.name for p in (tmp_path / "int8").iterdir()) == ["tiny.json", "tiny.onnx"]  # no float32 left
    import onnx
    from onnx import numpy_helper

    int8_weights = [numpy_helper.to_array(t) for t in onnx.load(str(onnx8)).graph.initializer
                    if t.data_type == onnx.TensorProto.INT8]
    # conv and dense weights in 7 bits: 255 * 64 * 2 fits the 16-bit pair sums of x86 CPUs without VNNI
    assert int8_weights and all(int(np.abs(w.astype(np.int16)).max()) <= 64 for w in int8_weights)
    assert load_model_spec(manifest8_path).name == "tiny"
    from vcam_emoji.training.export import model_card

    assert "**Quantization**" in model_card(manifest8) and "--int8" in model_card(manifest8)


@pytest.mark.needs_torch
def test_onnx_export_matches_pytorch_and_outputs_probabilities(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import evaluate
    from vcam_emoji.training.export import export_onnx
    from vcam_emoji.training.model import EmoCNN

    torch.manual_seed(0)
    model = EmoCNN(widths=(8, 16), depths=(1, 1), input_size=48, hidden=16).eval()
    samples = np.random.default_rng(0).normal(0, 1, (5, 1, 48, 48)).astype(np.float32)
    verification = export_onnx(model, tmp_path / "m.onnx", 48, samples)
    assert verification["max_abs_diff"] <= 1e-4 and verification["n_inputs"] == 5
    session = evaluate.cpu_session(tmp_path / "m.onnx")
    probs = session.run(None, {"input": samples})[0]  # dynamic batch
    assert probs.shape == (5, 7)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


@pytest.mark.needs_torch
def test_command_resumes_and_exports_from_a_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz, val_npz = write_npz(tmp_path / "t.npz", 6, 0), write_npz(tmp_path / "v.npz", 2, 1)
    run = tmp_path / "run"
    args = ["--data", str(train_npz), "--val", str(val_npz), "--out", str(run), "--epochs", "1", "--batch-size",
            "16", "--threads", "1", "--no-export"]
    assert command.main(args) == 0
    assert command.main(args[:-1] + ["--epochs", "2", "--resume", "--no-export"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1, 2]
    assert command.main(["--export-only", "--out", str(run), "--export-to", str(tmp_path / "models")]) == 0
    assert (tmp_path / "models" / "emocnn_fer2013.onnx").is_file()
    assert json.loads((tmp_path / "models" / "emocnn_fer2013.json").read_text())["classes"] == list(EXPRESSION_LABELS)


def test_command_reports_missing_data_as_an_error(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    assert command.main(["--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "r")]) == 1


def test_command_sets_the_architecture_and_rejects_a_bad_one(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz, val_npz = write_npz(tmp_path / "t.npz", 4, 0), write_npz(tmp_path / "v.npz", 2, 1)
    run = tmp_path / "run"
    assert command.main(["--data", str(train_npz), "--val", str(val_npz), "--out", str(run), "--epochs", "1",
                         "--batch-size", "16", "--threads", "1", "--widths", "8,16", "--depths", "1,1"]) == 0
    manifest = json.loads((run / "emocnn_fer2013.json").read_text())
    assert "widths [8, 16], conv blocks [1, 1]" in manifest["training"]["architecture"]
    with pytest.raises(SystemExit):
        command.main(["--data", str(train_npz), "--widths", "8,x"])
    assert "comma-separated whole numbers" in capsys.readouterr().err


@pytest.mark.needs_torch
def test_command_fine_tunes_from_a_checkpoint_keeping_its_architecture_and_normalisation(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz, val_npz = write_npz(tmp_path / "t.npz", 6, 0), write_npz(tmp_path / "v.npz", 2, 1)
    common = ["--data", str(train_npz), "--val", str(val_npz), "--epochs", "1", "--batch-size", "16", "--threads", "1"]
    assert command.main(common + ["--out", str(tmp_path / "base"), "--widths", "8,16", "--depths", "1,1",
                                  "--no-export"]) == 0
    base = torch.load(tmp_path / "base" / "best.pt", map_location="cpu", weights_only=False)

    # other data (brighter), default widths on the command line: the checkpoint's architecture and mean/std win
    x, y = synthetic(6, 2)
    np.savez(tmp_path / "bright.npz", x=np.clip(x.astype(int) + 40, 0, 255).astype(np.uint8), y=y)
    assert command.main(["--data", str(tmp_path / "bright.npz"), "--val", str(val_npz), "--epochs", "1",
                         "--batch-size", "16", "--threads", "1", "--out", str(tmp_path / "ft"),
                         "--init", str(tmp_path / "base" / "best.pt"), "--label-smoothing", "0"]) == 0
    tuned = torch.load(tmp_path / "ft" / "best.pt", map_location="cpu", weights_only=False)
    assert tuple(tuned["config"]["widths"]) == (8, 16) and tuned["config"]["label_smoothing"] == 0
    assert (tuned["mean"], tuned["std"]) == (base["mean"], base["std"])
    assert tuned["model"].keys() == base["model"].keys()
    manifest = json.loads((tmp_path / "ft" / "emocnn_fer2013.json").read_text())
    assert "widths [8, 16]" in manifest["training"]["architecture"]
    assert str(tmp_path / "base" / "best.pt") in manifest["training"]["fine_tuned_from"]


def test_command_rejects_a_missing_or_broken_init_checkpoint(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz = write_npz(tmp_path / "t.npz", 2, 0)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    for bad, message in ((tmp_path / "none.pt", "checkpoint not found"), (tmp_path / "junk.pt", "is not a checkpoint")):
        assert command.main(["--data", str(train_npz), "--out", str(tmp_path / "r"), "--init", str(bad)]) == 1
        err = capsys.readouterr().err
        assert message in err and "--init" in err


@pytest.mark.needs_torch
def test_ema_weights_are_validated_exported_and_resumed(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz, val_npz = write_npz(tmp_path / "t.npz", 8, 0), write_npz(tmp_path / "v.npz", 2, 1)
    run = tmp_path / "run"
    args = ["--data", str(train_npz), "--val", str(val_npz), "--out", str(run), "--batch-size", "16", "--threads", "1",
            "--widths", "8,16", "--depths", "1,1", "--ema", "0.9", "--no-export"]
    assert command.main(args + ["--epochs", "1"]) == 0
    first = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    assert command.main(args + ["--epochs", "2", "--resume"]) == 0
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=False)
    # the kept weights are the average, not the raw ones; the average went on counting across the resume
    w = "features.0.0.weight"
    assert not torch.equal(last["model"][w], last["train_model"][w])
    assert int(last["ema_model"]["n_averaged"]) == 2 * int(first["ema_model"]["n_averaged"]) > 0
    assert all("val_acc_raw" in r for r in last["history"])
    assert command.main(["--export-only", "--out", str(run)]) == 0
    manifest = json.loads((run / "emocnn_fer2013.json").read_text())
    assert "moving average of the weights (decay 0.9)" in manifest["training"]["optimizer"]


@pytest.mark.needs_torch
def test_teacher_probabilities_use_each_teachers_own_normalisation() -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training.model import EmoCNN
    from vcam_emoji.training.train import Teacher, _teacher_probs

    torch.manual_seed(0)
    nets = [EmoCNN(7, (8, 16), (1, 1), 48, 32).eval() for _ in range(2)]
    teachers = [Teacher(nets[0], 100.0, 50.0), Teacher(nets[1], 140.0, 70.0)]
    raw = torch.rand(4, 1, 48, 48) * 255
    student_mean, student_std = 129.0, 65.0
    got = _teacher_probs(teachers, (raw - student_mean) / student_std, student_mean, student_std, bf16=False)
    with torch.no_grad():
        want = sum(torch.softmax(t.model((raw - t.mean) / t.std), 1) for t in teachers) / 2
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.needs_torch
def test_distillation_learns_the_teachers_answers_over_wrong_labels(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz, val_npz = write_npz(tmp_path / "t.npz", 40, 0), write_npz(tmp_path / "v.npz", 10, 1)
    x, y = synthetic(40, 0)
    np.savez(tmp_path / "wrong.npz", x=x, y=((y + 1) % 7).astype(np.uint8))  # every label shifted to the next class
    common = ["--val", str(val_npz), "--batch-size", "16", "--threads", "1", "--widths", "8,16", "--depths", "1,1",
              "--epochs", "6", "--label-smoothing", "0"]
    assert command.main(common + ["--data", str(train_npz), "--out", str(tmp_path / "teacher")]) == 0
    teachers = {"checkpoint": tmp_path / "teacher" / "best.pt", "onnx": tmp_path / "teacher" / "emocnn_fer2013.onnx"}
    runs = {}
    for name, teacher, weight in (("labels", teachers["checkpoint"], "0"), ("checkpoint", teachers["checkpoint"], "1"),
                                  ("onnx", teachers["onnx"], "1")):
        out = tmp_path / f"student_{name}"
        assert command.main(common + ["--data", str(tmp_path / "wrong.npz"), "--out", str(out), "--teacher",
                                      str(teacher), "--distill-weight", weight]) == 0
        runs[name] = json.loads((out / "emocnn_fer2013.json").read_text())["metrics"]["fer2013_publictest_accuracy"]
    # the wrong labels alone teach the shifted classes; the teacher's answers (either file) teach the right ones
    assert runs["labels"] < 0.5 < 0.9 < min(runs["checkpoint"], runs["onnx"])
    manifest = json.loads((tmp_path / "student_onnx" / "emocnn_fer2013.json").read_text())
    assert manifest["training"]["teachers"] == [str(teachers["onnx"])]
    assert "teacher model(s)" in manifest["training"]["targets"]


@pytest.mark.needs_torch
def test_an_exported_teacher_predicts_what_its_checkpoint_does(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command
    from vcam_emoji.training.train import TrainConfig, _load_teachers, _teacher_probs

    run = tmp_path / "r"
    assert command.main(["--data", str(write_npz(tmp_path / "t.npz", 6, 0)), "--out", str(run), "--epochs", "1",
                         "--threads", "1", "--widths", "8,16", "--depths", "1,1", "--batch-size", "16"]) == 0
    cfg = TrainConfig(data=tmp_path / "t.npz", out=run, threads=1,
                      teachers=(run / "best.pt", run / "emocnn_fer2013.onnx"))
    from_checkpoint, from_onnx = _load_teachers(cfg)
    raw = torch.rand(5, 1, 48, 48) * 255
    xb = (raw - 120.0) / 60.0  # a student with its own normalisation
    want = _teacher_probs([from_checkpoint], xb, 120.0, 60.0, bf16=False)
    got = _teacher_probs([from_onnx], xb, 120.0, 60.0, bf16=False)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    assert not torch.allclose(want, torch.full_like(want, 1 / 7), atol=1e-3)  # the teacher says something


@pytest.mark.needs_torch
def test_mixup_blends_each_image_and_its_target_with_the_same_weight() -> None:
    torch = pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training.train import _mixup

    x = torch.rand(7, 1, 48, 48)
    t = torch.eye(7)  # one class per image, so each mixed target names the two images blended
    gen = torch.Generator().manual_seed(3)
    weights = []
    for _ in range(20):
        mx, mt = _mixup(x, t, 0.2, gen)
        torch.testing.assert_close(mt.sum(1), torch.ones(7))
        for i in range(7):
            lam = float(mt[i, i])
            others = [j for j in range(7) if j != i and mt[i, j] > 0]
            j = others[0] if others else i
            assert len(others) <= 1
            torch.testing.assert_close(mx[i], lam * x[i] + (1 - lam) * x[j])
        weights.append(max(float(mt[0].max()), 1e-9))
    assert 0.5 <= min(weights) and max(weights) <= 1 and len(set(weights)) > 1
    again = _mixup(x, t, 0.2, torch.Generator().manual_seed(3))
    first = _mixup(x, t, 0.2, torch.Generator().manual_seed(3))
    assert torch.equal(again[0], first[0]) and torch.equal(again[1], first[1])  # the run's generator decides


def test_command_rejects_a_bad_teacher_or_weight(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch", reason="needs PyTorch (pip install torch==2.13.0 -e .[train])")
    from vcam_emoji.training import command

    train_npz = write_npz(tmp_path / "t.npz", 2, 0)
    common = ["--data", str(train_npz), "--out", str(tmp_path / "r"), "--epochs", "1", "--threads", "1"]
    assert command.main(common + ["--teacher", str(tmp_path / "none.pt")]) == 1
    assert "--teacher: checkpoint not found" in capsys.readouterr().err
    assert command.main(common + ["--widths", "8,16", "--depths", "1,1", "--no-export"]) == 0
    with pytest.raises(SystemExit) as stopped:  # a usage error, said when the command line is read
        command.main(common + ["--teacher", str(tmp_path / "r" / "best.pt"), "--distill-weight", "1.5"])
    assert stopped.value.code == 2
    assert "argument --distill-weight: must be a finite number from 0 to 1, got '1.5'" in capsys.readouterr().err
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    assert command.main(common + ["--teacher", str(tmp_path / "bad.onnx")]) == 1
    assert "--teacher: " in (err := capsys.readouterr().err) and "bad.json" in err  # its manifest is missing
    with pytest.raises(SystemExit) as stopped:
        command.main(common + ["--mixup", "-1"])
    assert stopped.value.code == 2
    assert "argument --mixup: must be a finite number 0 or more (0 = off), got '-1'" in capsys.readouterr().err
