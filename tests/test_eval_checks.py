"""`vcam-emoji eval` checks its data file and its --plot target before the model runs: one clear message, exit 1, no
traceback, the data file's bytes unchanged, no plot or temporary file left behind."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from vcam_emoji.cli import main

FACES = np.zeros((5, 48, 48), np.uint8)
LABELS = np.array([0, 1, 2, 3, 4])


def npz(**arrays):
    def write(path: Path) -> None:
        with open(path, "wb") as handle:  # a file handle: np.savez would add .npz to the name
            np.savez(handle, **arrays)
    return write


def npy(array):
    def write(path: Path) -> None:
        with open(path, "wb") as handle:
            np.save(handle, array)
    return write


def raw(data: bytes):
    return lambda path: path.write_bytes(data)


BAD_DATA = [
    ("string labels", "data.npz", npz(x=FACES, y=np.array(["a"] * 5)),
     "y must be whole-number labels 0..6 in FER-2013 order (0 angry .. 6 neutral; 255 = skip), got text values "
     "such as 'a'"),
    ("empty images", "data.npz", npz(x=np.zeros((5, 0, 0), np.uint8), y=LABELS),
     "x holds images of 0 x 0 pixels"),
    ("zero-width images", "data.npz", npz(x=np.zeros((5, 48, 0), np.uint8), y=LABELS), "x holds images of 48 x 0"),
    ("a .npy", "data.npy", npy(FACES), "is a .npy file (one array); eval needs an .npz archive"),
    ("a .npy named .npz", "data.npz", npy(FACES), "is a .npy file"),
    ("text", "data.npz", raw(b"x,y\n1,2\n"), "not a readable .npz file (not a zip archive)"),
    ("an empty file", "data.npz", raw(b""), "not a readable .npz file"),
    ("a truncated archive", "data.npz", lambda p: (npz(x=FACES, y=LABELS)(p), p.write_bytes(p.read_bytes()[:300])),
     "not a readable .npz file"),
    ("no y", "data.npz", npz(x=FACES), "expected arrays 'x' and 'y', found ['x']"),
    ("no arrays", "data.npz", npz(), "expected arrays 'x' and 'y', found none"),
    ("object labels", "data.npz", npz(x=FACES, y=np.array([1, "a", 2, 3, 4], dtype=object)),
     "y holds Python objects (dtype=object), which eval does not load"),
    ("colour faces", "data.npz", npz(x=np.zeros((5, 48, 48, 3), np.uint8), y=LABELS),
     "x must be N x H x W grey images (or N x H x W x 1), got shape [5, 48, 48, 3]; convert the colour faces"),
    ("one image", "data.npz", npz(x=np.zeros((48, 48), np.uint8), y=LABELS), "got shape [48, 48]"),
    ("text faces", "data.npz", npz(x=np.full((5, 48, 48), "a"), y=LABELS), "x must hold grey levels 0..255 (uint8)"),
    ("faces scaled to 0..1", "data.npz", npz(x=np.full((5, 48, 48), 0.5, np.float32), y=LABELS),
     "not whole numbers (or NaN); if they are scaled to 0..1, save (x * 255).round().astype(np.uint8)"),
    ("NaN faces", "data.npz", npz(x=np.full((5, 48, 48), np.nan), y=LABELS), "not whole numbers (or NaN)"),
    ("faces above 255", "data.npz", npz(x=np.full((5, 48, 48), 300, np.int16), y=LABELS),
     "got int16 values 300..300; scale them to 0..255"),
    ("labels out of range", "data.npz", npz(x=FACES, y=np.array([0, 7, 9, -1, 255])),
     "labels must be 0..6 in FER-2013 order (255 = skip), found -1, 7, 9 in 3 row(s)"),
    ("fractional labels", "data.npz", npz(x=FACES, y=np.array([0, 1.5, 2, 3, 4])), "got float64 values such as 1.5"),
    ("one label too few", "data.npz", npz(x=FACES, y=LABELS[:4]), "y must hold one label per image (5), got shape [4]"),
    ("labels as a column", "data.npz", npz(x=FACES, y=LABELS[:, None]), "got shape [5, 1]"),
    ("every label skipped", "data.npz", npz(x=FACES, y=np.full(5, 255)),
     "no usable face: all 5 label(s) are 255 (skip)"),
    ("no faces", "data.npz", npz(x=np.zeros((0, 48, 48), np.uint8), y=np.zeros(0, np.int64)),
     "x and y hold no faces (N = 0)"),
]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def eval_fails(argv: list[str], capsys) -> str:
    """Run eval; assert it failed with exit 1 and exactly one message line, no traceback; return that line."""
    code = main(["eval", *argv])
    captured = capsys.readouterr()
    assert code == 1, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vcam-emoji: error: "), captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    return lines[0]


@pytest.mark.parametrize("case,name,write,message", BAD_DATA, ids=[c[0] for c in BAD_DATA])
def test_bad_data_is_one_clear_message_and_nothing_is_written(case, name, write, message, tmp_path, capsys,
                                                              monkeypatch):
    data = tmp_path / name
    write(data)
    before = digest(data)
    ran = []
    monkeypatch.setattr("vcam_emoji.evaluate.evaluate", lambda *a, **k: ran.append(a))
    line = eval_fails(["--data", str(data), "--plot", str(tmp_path / "confusion.png")], capsys)
    assert line.startswith(f"vcam-emoji: error: {data}: ") and message in line
    assert digest(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no plot, no temporary file
    assert ran == []


@pytest.mark.parametrize("x,y,n", [
    (np.zeros((5, 48, 48, 1), np.uint8), LABELS, 5),  # N x H x W x 1
    (np.full((5, 48, 48), 200, np.int16), LABELS, 5),  # whole grey levels in a wider type
    (np.full((5, 48, 48), 17.0, np.float32), LABELS.astype(np.float32), 5),  # as read from a CSV
    (np.zeros((5, 40, 30), np.uint8), np.array([0, 255, 6, 255, 3], np.uint8), 3),  # other sizes; 255 rows skipped
])
def test_data_that_can_be_used_as_uint8_grey_faces_is_accepted(x, y, n, tmp_path, capsys):
    data = tmp_path / "data.npz"
    np.savez(data, x=x, y=y)
    assert main(["eval", "--data", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == n


# --- --plot ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def data(tmp_path) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, x=FACES, y=LABELS)
    return path


@pytest.mark.parametrize("target,message", [
    ("missing/c.png", "missing/c.png: the folder {tmp}/missing does not exist; create it first"),
    ("a-folder", "a-folder: is a folder; give the plot a file name (e.g. {tmp}/a-folder/confusion.png)"),
    ("c.jpg", "c.jpg: the plot is a PNG image; give it a .png name (e.g. {tmp}/c.png)"),
    ("taken.png", "taken.png: already exists; add --force to replace it, or choose another name"),
])
def test_a_plot_that_cannot_be_written_is_said_before_the_evaluation(target, message, data, tmp_path, capsys,
                                                                     monkeypatch):
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "taken.png").write_bytes(b"mine")
    before = sorted(p.name for p in tmp_path.iterdir())
    ran = []
    monkeypatch.setattr("vcam_emoji.evaluate.evaluate", lambda *a, **k: ran.append(a))
    line = eval_fails(["--data", str(data), "--plot", str(tmp_path / target)], capsys)
    assert message.format(tmp=tmp_path) in line
    assert ran == []  # said at once, not after the whole evaluation
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "taken.png").read_bytes() == b"mine"
    assert not (tmp_path / "missing").exists() and list((tmp_path / "a-folder").iterdir()) == []


def test_the_plot_is_never_written_over_the_data(tmp_path, capsys):
    data = tmp_path / "faces.png"  # an .npz by content, whatever its name
    npz(x=FACES, y=LABELS)(data)
    before = digest(data)
    line = eval_fails(["--data", str(data), "--plot", str(data), "--force"], capsys)
    assert "this is also an input of this run" in line
    assert digest(data) == before


def test_force_replaces_an_existing_plot_and_a_new_one_is_written(data, tmp_path, capsys):
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"mine")
    assert main(["eval", "--data", str(data), "--plot", str(taken), "--force"]) == 0
    assert taken.read_bytes().startswith(b"\x89PNG")
    fresh = tmp_path / "fresh.png"
    assert main(["eval", "--data", str(data), "--plot", str(fresh)]) == 0
    assert f"wrote {fresh}" in capsys.readouterr().out and fresh.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "fresh.png", "taken.png"]


def test_a_plot_that_fails_while_written_leaves_no_stray_file(data, tmp_path, capsys, monkeypatch):
    def disk_error(path):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr("vcam_emoji.fileio._fsync_file", disk_error)
    line = eval_fails(["--data", str(data), "--plot", str(tmp_path / "c.png")], capsys)
    assert "c.png: could not be written (Input/output error); nothing was changed there" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz"]
