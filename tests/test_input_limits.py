"""Inputs over a limit get one clear message, never a traceback: a photo with more pixels than
``image_limits.MAX_IMAGE_PIXELS`` (checked on its header, before decoding) and a settings file larger than
``config.MAX_CONFIG_BYTES`` (checked before reading, at start-up and on a live reload)."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from conftest import FIXTURES
from vcam_emoji import image_limits
from vcam_emoji.cli import main
from vcam_emoji.config import MAX_CONFIG_BYTES, ensure_config_file, load_config
from vcam_emoji.errors import ConfigError, InputError
from vcam_emoji.image_limits import MAX_IMAGE_PIXELS, check_image_file, open_image
from vcam_emoji.source.image import load_image_bgr

BOMB_WH = (16000, 16000)  # 256 megapixels: more than Pillow's own error limit (179)
LARGE_WH = (10000, 9000)  # 90 megapixels: over ours, under Pillow's error limit (above its warning, 89)
GiB = 1 << 30


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    """Small files declaring huge pictures (1-bit PNGs of 31 KB and 11 KB), a cut-off JPEG, a PNG signature
    followed by garbage and a text file."""
    folder = tmp_path_factory.mktemp("images")
    made = {"bomb": folder / "bomb.png", "large": folder / "large.png"}
    Image.new("1", BOMB_WH).save(made["bomb"])
    Image.new("1", LARGE_WH).save(made["large"])
    whole = (FIXTURES / "astronaut_256.jpg").read_bytes()
    made["truncated"] = folder / "truncated.jpg"
    made["truncated"].write_bytes(whole[: len(whole) // 3])
    made["header-only"] = folder / "header-only.png"
    made["header-only"].write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    made["text"] = folder / "notes.png"
    made["text"].write_text("these are my notes, not a picture\n", encoding="utf-8")
    return made


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_error(err: str) -> str:
    """The single ``vcam-emoji: error:`` line of ``err`` (and no traceback or Pillow warning around it)."""
    assert "Traceback" not in err and "DecompressionBomb" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("vcam-emoji: error:")]
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------------------ the image check
def test_the_limit_is_checked_on_the_header_before_anything_is_decoded(images, monkeypatch):
    def no_decoding(self):
        raise AssertionError("decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(InputError) as large:
        load_image_bgr(images["large"])
    with pytest.raises(InputError) as bomb:
        load_image_bgr(images["bomb"])

    assert str(large.value) == (
        f"{images['large']}: the image is 10000x9000 pixels (90 megapixels), more than the limit of 80 megapixels; "
        "scale it down to 9428x8485 pixels or less (any image editor can) and try again")
    # Pillow refuses this one itself before its width and height can be seen: its pixel count is known
    assert str(bomb.value) == (
        f"{images['bomb']}: the image is 256000000 pixels (256 megapixels), more than the limit of 80 megapixels; "
        "scale it down to 55% of its width and height or less (any image editor can) and try again")


def test_the_suggested_size_fits_within_the_limit():
    for w, h in [(10000, 9000), (16000, 16000), (100000, 801), (12345, 6789)]:
        message = str(image_limits.too_many_pixels("x.png", (w, h)))
        fit_w, fit_h = map(int, message.split("scale it down to ")[1].split(" pixels")[0].split("x"))
        assert fit_w * fit_h <= MAX_IMAGE_PIXELS and fit_w / fit_h == pytest.approx(w / h, rel=0.01)


def test_an_image_at_the_limit_is_accepted(tmp_path):
    path = tmp_path / "exact.png"
    Image.new("1", (10000, MAX_IMAGE_PIXELS // 10000)).save(path)
    assert check_image_file(path) == (10000, 8000)
    with open_image(FIXTURES / "astronaut_256.jpg") as img:
        assert img.size == (256, 256)


@pytest.mark.parametrize("name,expected", [
    ("truncated", "not an image that can be read (image file is truncated"),
    ("header-only", "not an image that can be read (Truncated File Read); the file may be cut short or damaged"),
    ("text", "not an image file (no JPEG, PNG, WebP, BMP or TIFF header); check that this is the photo you meant"),
])
def test_a_damaged_file_or_one_that_is_not_an_image_says_so(images, name, expected):
    with pytest.raises(InputError, match=r"^" + str(images[name]).replace("\\", "\\\\") + ": ") as caught:
        load_image_bgr(images[name])
    assert expected in str(caught.value)


# ------------------------------------------------------------------------------------------------ commands
@pytest.mark.parametrize("name,expected", [
    ("bomb", "256000000 pixels (256 megapixels), more than the limit of 80 megapixels; scale it down"),
    ("large", "10000x9000 pixels (90 megapixels), more than the limit of 80 megapixels; scale it down to 9428x8485"),
    ("truncated", "the file may be cut short or damaged"),
    ("text", "not an image file"),
])
def test_render_refuses_the_photo_with_one_message(env, images, capsys, name, expected):
    tmp, config = env
    work = tmp / "work"
    work.mkdir()
    before = digest(images[name])

    assert main(["render", "--config", config, str(images[name]), str(work / "out.png"), "--timeline",
                 str(work / "out.jsonl")]) == 1

    line = one_error(capsys.readouterr().err)
    assert line.startswith(f"vcam-emoji: error: {images[name]}: ") and expected in line
    assert digest(images[name]) == before
    assert list(work.iterdir()) == []  # no output, no timeline, no temporary file


def test_analyze_lists_the_photo_over_the_limit_as_failed_and_goes_on(env, images, capsys):
    tmp, config = env
    out = tmp / "report"
    good = FIXTURES / "astronaut_256.jpg"
    before = {p: digest(p) for p in (images["bomb"], images["text"], good)}

    assert main(["analyze", "--config", config, "-q", str(images["bomb"]), str(good), str(images["text"]),
                 "--out", str(out)]) == 1  # some files failed

    err = capsys.readouterr().err
    assert "Traceback" not in err and "DecompressionBomb" not in err
    assert f"{images['bomb']}: the image is 256000000 pixels" in err
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    by_name = {f["name"]: f for f in data["files"]}
    assert by_name["bomb.png"]["status"] == "failed"
    assert "more than the limit of 80 megapixels; scale it down" in by_name["bomb.png"]["error"]
    assert by_name["notes.png"]["status"] == "failed" and "not an image file" in by_name["notes.png"]["error"]
    assert by_name["astronaut_256.jpg"]["status"] == "ok" and len(by_name["astronaut_256.jpg"]["persons"]) == 1
    assert data["summary"]["files_failed"] == 2 and data["summary"]["files_ok"] == 1
    assert {p: digest(p) for p in before} == before
    assert not [p for p in out.rglob("*") if ".partial-" in p.name]


def test_a_training_image_folder_with_a_photo_over_the_limit(tmp_path, images):
    from vcam_emoji.training.data import load_dataset

    happy = tmp_path / "faces" / "happy"
    happy.mkdir(parents=True)
    (happy / "a.png").write_bytes((FIXTURES / "astronaut_256.jpg").read_bytes())  # Pillow reads it by content
    (happy / "b.png").write_bytes(images["bomb"].read_bytes())

    with pytest.raises(InputError, match=r"b\.png: the image is 256000000 pixels .* limit of 80 megapixels"):
        load_dataset(tmp_path / "faces")


# ------------------------------------------------------------------------------------------------ the config file
def sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def test_a_config_file_over_the_limit_is_refused_before_reading(tmp_path):
    path = sparse(tmp_path / "big.toml", 64 << 20)  # in this process: 8 GB only in a child with limited memory

    with pytest.raises(ConfigError) as caught:
        load_config(path)

    assert str(caught.value) == (
        f"{path}: the configuration file is 64 MiB (67108864 bytes), more than the limit of 1 MiB; a settings file "
        "is a few KB (the default one is about 6 KB): check that this is the right file, or cut it down to the "
        "settings you change")
    assert path.stat().st_size == 64 << 20


def test_a_config_file_at_the_limit_is_read(tmp_path):
    path = tmp_path / "padded.toml"
    text = "[camera]\nmirror = true\n"
    path.write_text(text + "#" * (MAX_CONFIG_BYTES - len(text) - 1) + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_CONFIG_BYTES
    assert load_config(path).camera.mirror is True


def test_a_config_file_that_grows_after_the_size_check_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "growing.toml"
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 10))
    real_stat = os.stat

    def small_at_first(p, *args, **kwargs):  # the size the check saw, before the file grew
        st = real_stat(p, *args, **kwargs)
        if Path(p) != path:
            return st
        fields = list(st[:10])
        fields[6] = 100  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr("vcam_emoji.config.os.stat", small_at_first)
    with pytest.raises(ConfigError, match="the configuration file grew while it was read, more than the limit"):
        load_config(path)


def test_a_config_that_is_a_folder_says_so(tmp_path):
    (tmp_path / "folder.toml").mkdir()
    with pytest.raises(ConfigError, match="folder.toml: not a configuration file but a folder or device"):
        load_config(tmp_path / "folder.toml")


def _limited_memory() -> None:  # in the child: reading the 8 GB file whole would fail (and not swamp the machine)
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (6 * GiB, 6 * GiB))


def run_process(tmp_path: Path, *args: str, **kwargs) -> subprocess.Popen:
    environ = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        environ.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "vcam_emoji", "run", *args], env=environ, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_limited_memory if os.name == "posix" else None, **kwargs)


def test_run_refuses_an_8_gb_config_file_at_start_up(tmp_path):
    path = sparse(tmp_path / "big.toml", 8 * GiB)
    before = set(tmp_path.iterdir())

    proc = run_process(tmp_path, "--config", str(path), "--source", "demo", "--sink", "none", "--seconds", "2")
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == 1
    line = one_error(err)
    assert line == (f"vcam-emoji: error: {path}: the configuration file is 8 GiB (8589934592 bytes), more than "
                    "the limit of 1 MiB; a settings file is a few KB (the default one is about 6 KB): check that this "
                    "is the right file, or cut it down to the settings you change")
    assert path.stat().st_size == 8 * GiB and set(tmp_path.iterdir()) == before


def test_run_refuses_a_photo_source_over_the_limit(tmp_path, images):
    config = ensure_config_file(tmp_path / "config.toml")
    proc = run_process(tmp_path, "--config", str(config), "--source", str(images["bomb"]), "--sink", "none",
                       "--seconds", "2")
    _, err = proc.communicate(timeout=120)

    assert proc.returncode == 1
    assert f"{images['bomb']}: the image is 256000000 pixels (256 megapixels)" in one_error(err)


class Lines:
    """The lines of a child's stream, read by a thread, so a test can wait for one with a deadline."""

    def __init__(self, stream) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True)
        self._reader.start()

    def wait_for(self, wanted: str, timeout_s: float = 90.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if wanted in line:
                return True
        return False

    def text(self, ended: bool = False) -> str:
        """All lines so far (``ended``: the child has exited; wait until its stream is read to the end)."""
        if ended:
            self._reader.join(timeout=30)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


def test_a_live_edit_to_an_8_gb_file_keeps_the_last_good_settings_and_the_session_runs_on(tmp_path):
    path = tmp_path / "live.toml"
    path.write_text("[camera]\nwidth = 320\nheight = 180\n", encoding="utf-8")
    proc = run_process(tmp_path, "--config", str(path), "--source", "demo", "--sink", "none", "--stats-every", "0.2")
    out, err = Lines(proc.stdout), Lines(proc.stderr)
    try:
        assert out.wait_for("running:"), out.text() + err.text()
        os.truncate(path, 8 * GiB)  # the edit: the same file, now 8 GB (sparse)
        assert err.wait_for("(keeping the last good settings)"), err.text()
        assert out.wait_for("running:") and proc.poll() is None  # the session runs on
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    err_text = err.text(ended=True)
    assert proc.returncode == 0, err_text
    assert "Traceback" not in err_text and "MemoryError" not in err_text
    assert (f"{path}: the configuration file is 8 GiB (8589934592 bytes), more than the limit of 1 MiB; a settings "
            "file is a few KB") in err_text
    assert "vcam-emoji: error:" not in err_text
    assert path.stat().st_size == 8 * GiB  # never rewritten
