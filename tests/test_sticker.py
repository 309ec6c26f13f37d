"""Stickers: 512x512 transparent PNG/WebP (WebP under 100 KB), the sheet, safe writing and the bad inputs."""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vcam_emoji.cli import main
from vcam_emoji.packs import EmojiPack, load_pack
from vcam_emoji.resources import packs_dir
from vcam_emoji.sticker import MAX_WEBP_BYTES, encode, save_sticker_to, sticker_image, sticker_sheet
from vcam_emoji.types import Expression


def read(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img


@pytest.mark.parametrize("pack", ["twemoji", "openmoji", "classic"])
@pytest.mark.parametrize("suffix, fmt", [(".png", "PNG"), (".webp", "WEBP")])
def test_sticker_has_the_promised_size_and_format(env, capsys, pack, suffix, fmt) -> None:
    tmp, config = env
    out = tmp / f"s{suffix}"
    assert main(["sticker", "--config", config, "--pack", pack, "--expression", "sad", str(out)]) == 0
    img = read(out)
    assert img.format == fmt and img.size == (512, 512) and img.mode == "RGBA"
    alpha = np.asarray(img)[..., 3]
    assert alpha[0, 0] == 0 and alpha[-1, -1] == 0 and alpha.max() == 255
    if fmt == "WEBP":
        assert out.stat().st_size < MAX_WEBP_BYTES
    assert str(out) in capsys.readouterr().out


def test_sticker_shows_the_packs_image(env) -> None:
    tmp, config = env
    out = tmp / "s.png"
    assert main(["sticker", "--config", config, "--pack", "classic", "--expression", "angry", str(out)]) == 0
    pack = load_pack(packs_dir() / "classic")
    expected = pack.image(Expression.ANGRY)[..., [2, 1, 0, 3]]
    got = np.asarray(read(out))
    if expected.shape[:2] == (512, 512):
        assert np.array_equal(got, expected)
    assert np.abs(got.astype(int) - sticker_image(pack, Expression.ANGRY).astype(int)).max() == 0


def test_default_pack_comes_from_the_settings(env) -> None:
    tmp, config = env
    Path(config).write_text('[pack]\nname = "openmoji"\n')
    out = tmp / "s.png"
    assert main(["sticker", "--config", config, str(out)]) == 0
    expected = sticker_image(load_pack(packs_dir() / "openmoji"), Expression.HAPPY)
    assert np.array_equal(np.asarray(read(out)), expected)


def test_webp_that_does_not_fit_lossless_goes_lossy_under_the_limit() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (512, 512, 4), np.uint8)  # incompressible
    noise[..., 3] = 255
    data = encode(noise, "WEBP")
    assert len(data) <= MAX_WEBP_BYTES
    img = Image.open(io.BytesIO(data))
    assert img.format == "WEBP" and img.size == (512, 512)


def test_non_square_pack_image_is_fitted_not_stretched() -> None:
    tall = np.zeros((400, 200, 4), np.uint8)
    tall[..., 2] = 255
    tall[..., 3] = 255
    pack = EmojiPack("tall", "t", "CC0-1.0", Path("/mem"), {e: tall for e in Expression})
    img = sticker_image(pack, Expression.HAPPY)
    assert img.shape == (512, 512, 4)
    cols = np.nonzero(img[256, :, 3])[0]
    assert cols.min() == 128 and cols.max() == 383  # 256 wide, centred
    assert (img[:, 0, 3] == 0).all()


def test_sheet_has_all_seven_in_a_row(env) -> None:
    tmp, config = env
    out = tmp / "sheet.png"
    assert main(["sticker", "--config", config, "--pack", "twemoji", "--sheet", str(out)]) == 0
    sheet = np.asarray(read(out))
    assert sheet.shape[1] == 7 * 256 and sheet.shape[0] > 256
    pack = load_pack(packs_dir() / "twemoji")
    for i, e in enumerate(Expression):
        assert np.array_equal(sheet[:256, i * 256:(i + 1) * 256], sticker_image(pack, e, 256))
    assert sheet[256:, :, 3].any(), "the names are written under the pictures"
    assert np.array_equal(sheet, sticker_sheet(pack))


def test_existing_file_needs_force(env, capsys) -> None:
    tmp, config = env
    out = tmp / "s.png"
    out.write_bytes(b"my own file")
    assert main(["sticker", "--config", config, "--pack", "twemoji", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert out.read_bytes() == b"my own file"
    assert main(["sticker", "--config", config, "--pack", "twemoji", "--force", str(out)]) == 0
    assert read(out).size == (512, 512)
    assert sorted(p.name for p in tmp.iterdir() if p.suffix == ".png") == ["s.png"], "no temporary file left"


@pytest.mark.parametrize("name, expected", [("s.jpg", ".png or .webp"), ("noext", ".png or .webp"),
                                            ("missing/s.png", "does not exist"), ("adir.png", "is a folder")])
def test_bad_output_paths(env, capsys, name, expected) -> None:
    tmp, config = env
    (tmp / "adir.png").mkdir()
    assert main(["sticker", "--config", config, "--pack", "twemoji", str(tmp / name)]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err and err.count("error:") == 1


def test_unknown_pack_and_expression(env, capsys) -> None:
    tmp, config = env
    assert main(["sticker", "--config", config, "--pack", "nope", str(tmp / "s.png")]) == 1
    assert "'nope' not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["sticker", "--config", config, "--expression", "joy", str(tmp / "s.png")])
    assert info.value.code == 2
    assert not (tmp / "s.png").exists()


def test_save_to_a_folder_never_overwrites(tmp_path) -> None:
    pack = load_pack(packs_dir() / "twemoji")
    when = datetime(2025, 1, 2, 3, 4, 5)
    first = save_sticker_to(tmp_path / "Pictures", pack, Expression.SURPRISE, when)
    second = save_sticker_to(tmp_path / "Pictures", pack, Expression.SURPRISE, when)
    assert first.name == "emoji-cam-twemoji-surprise-20250102-030405.png"
    assert second.name == "emoji-cam-twemoji-surprise-20250102-030405-2.png"
    assert read(first).size == (512, 512) and first.read_bytes() == second.read_bytes()


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_sticker_gets_the_usual_permissions_not_private_ones(env) -> None:
    tmp, config = env
    out = tmp / "s.png"
    assert main(["sticker", "--config", config, "--pack", "twemoji", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
