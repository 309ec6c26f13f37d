"""`vcam-emoji eval` and `vcam-emoji packs` as a user runs them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import FIXTURES, shared_file
from vcam_emoji.cli import main


@pytest.fixture
def faces_npz(tmp_path):
    """Twelve real 48x48 grey face crops cut from the bundled fixture photo, all labelled happy (3)."""
    import cv2

    img = cv2.imread(str(FIXTURES / "astronaut_256.jpg"), cv2.IMREAD_GRAYSCALE)
    crops = [cv2.resize(img[26 + d: 100 - d, 76 + d: 150 - d], (48, 48), interpolation=cv2.INTER_AREA)
             for d in range(12)]
    path = tmp_path / "faces.npz"
    np.savez(path, x=np.stack(crops).astype(np.uint8), y=np.full(len(crops), 3, np.uint8))
    return path


def test_eval_json_has_the_documented_fields(faces_npz, capsys):
    assert main(["eval", "--data", str(faces_npz), "--json", "--model", "mini_xception_fer2013"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"accuracy", "per_class", "confusion", "n", "ms_per_face"}
    assert result["n"] == 12
    confusion = np.array(result["confusion"])
    assert confusion.shape == (7, 7) and confusion.sum() == 12 and confusion[[0, 1, 2, 4, 5, 6]].sum() == 0
    assert result["accuracy"] == pytest.approx(confusion[3, 3] / 12, abs=1e-4)
    assert result["per_class"]["happy"] == pytest.approx(result["accuracy"], abs=1e-4)
    assert result["per_class"]["angry"] is None  # no angry examples
    assert result["accuracy"] >= 0.75  # a smiling astronaut is mostly happy for the baseline


def test_eval_text_and_plot(faces_npz, tmp_path, capsys):
    plot = tmp_path / "confusion.png"
    assert main(["eval", "--data", str(faces_npz), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "confusion matrix" in out and "happy" in out
    import cv2

    img = cv2.imread(str(plot))
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 300


def test_eval_baseline_on_fer2013_publictest(capsys):
    data = shared_file("data/fer2013_publictest.npz")
    assert main(["eval", "--data", str(data), "--json", "--model", "mini_xception_fer2013"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 3589
    assert 0.64 < result["accuracy"] < 0.67  # the published mini-Xception figure is about 66%


@pytest.mark.parametrize(
    "arrays,expected",
    [
        ({"x": np.zeros((3, 48, 48), np.uint8)}, "expected arrays 'x' and 'y'"),
        ({"x": np.full((3, 48, 48), 0.5, np.float32), "y": np.zeros(3, np.uint8)}, "uint8"),
        ({"x": np.zeros((3, 48, 48), np.uint8), "y": np.zeros(2, np.uint8)}, "one label per image"),
        ({"x": np.zeros((2, 48, 48), np.uint8), "y": np.array([0, 9], np.uint8)}, "labels must be 0..6"),
    ],
)
def test_eval_bad_data(tmp_path, capsys, arrays, expected):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    assert main(["eval", "--data", str(path)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_eval_not_an_npz(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    path.write_text("nope")
    assert main(["eval", "--data", str(path)]) == 1
    assert "not a readable .npz" in capsys.readouterr().err


def test_eval_missing_model(faces_npz, capsys):
    assert main(["eval", "--data", str(faces_npz), "--model", "/nowhere/model.onnx"]) == 1
    assert "not found" in capsys.readouterr().err


def test_packs_list(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["packs", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("classic", "twemoji"):
        assert name in out
    assert str(tmp_path) in out  # the user packs folder is shown


def test_packs_list_reports_a_broken_user_pack(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    from vcam_emoji.packs import user_packs_dir

    broken = user_packs_dir() / "broken"
    broken.mkdir(parents=True)
    (broken / "pack.json").write_text("{not json")
    assert main(["packs", "list"]) == 0
    captured = capsys.readouterr()
    assert "classic" in captured.out and "pack.json" in captured.err


def test_packs_validate(tmp_path, capsys):
    from vcam_emoji.resources import packs_dir

    good = tmp_path / "mine"
    shutil.copytree(packs_dir() / "classic", good)
    assert main(["packs", "validate", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    manifest = json.loads((good / "pack.json").read_text())
    manifest["images"]["happy"] = "../../etc/passwd"
    (good / "pack.json").write_text(json.dumps(manifest))
    assert main(["packs", "validate", str(good)]) == 1
    err = capsys.readouterr().err
    assert "pack.json" in err and "happy" in err


@pytest.mark.parametrize("argv, listed", [([], "{run,doctor,render,"), (["packs"], "{list,validate}")])
def test_no_command_is_a_usage_error_that_lists_the_commands(argv, listed, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert listed in err and "the following arguments are required" in err
