"""Emoji packs: the built-in packs load; every kind of broken pack gives a PackError naming the file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vcam_emoji.errors import PackError
from vcam_emoji.packs import EmojiPack, discover_packs, load_pack, user_packs_dir
from vcam_emoji.resources import packs_dir
from vcam_emoji.types import EXPRESSION_LABELS, Expression

BUILTIN = ("classic", "twemoji", "openmoji")


def write_png(path: Path, rgba: tuple[int, int, int, int] = (10, 20, 30, 255), size: int = 64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (size, size), rgba).save(path)
    return path


def make_pack(folder: Path, name: str = "test", **overrides) -> Path:
    """A valid pack with a 64x64 PNG per expression; ``overrides`` replace manifest keys (None deletes one)."""
    folder.mkdir(parents=True, exist_ok=True)
    images = {}
    for i, label in enumerate(EXPRESSION_LABELS):
        write_png(folder / f"{label}.png", (i * 30, 100, 200, 255))
        images[label] = f"{label}.png"
    manifest = {"name": name, "author": "tests", "license": "CC0-1.0", "source": "tests", "images": images}
    for key, value in overrides.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    (folder / "pack.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def images_with(label: str, value: object) -> dict:
    images = {lab: f"{lab}.png" for lab in EXPRESSION_LABELS}
    images[label] = value
    return images


# --------------------------------------------------------------------------------------------------------------------
# built-in packs


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_pack_loads_with_seven_large_rgba_images(name: str) -> None:
    pack = load_pack(packs_dir() / name)
    assert pack.name == name
    assert pack.license and pack.author
    assert set(pack.images) == set(Expression)
    for expression, image in pack.images.items():
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 4, expression
        h, w = image.shape[:2]
        assert h == w >= 256, (expression, image.shape)
        alpha = image[..., 3]
        assert alpha[0, 0] == 0 and alpha[-1, -1] == 0, "corners should be transparent"
        assert (alpha == 255).mean() > 0.3, "the face should be mostly opaque"
        assert not image.flags.writeable


def test_builtin_manifests_name_their_licence_and_source() -> None:
    for name in BUILTIN:
        manifest = json.loads((packs_dir() / name / "pack.json").read_text(encoding="utf-8"))
        assert manifest["name"] == name
        assert manifest["source"]
        assert sorted(manifest["images"]) == sorted(EXPRESSION_LABELS)
    licences = {json.loads((packs_dir() / n / "pack.json").read_text())["license"] for n in BUILTIN}
    assert licences == {"CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0"}


def test_builtin_images_differ_per_expression() -> None:
    pack = load_pack(packs_dir() / "classic")
    images = list(pack.images.values())
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])


def test_discover_default_finds_builtins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("vcam_emoji.packs.user_packs_dir", lambda: tmp_path / "absent")
    packs, errors = discover_packs()
    assert errors == []
    assert set(BUILTIN) <= set(packs)
    assert all(packs[n].builtin for n in BUILTIN)


def test_user_packs_dir_is_under_the_app_data_dir() -> None:
    path = user_packs_dir()
    assert path.name == "packs"
    assert "vcam-emoji" in str(path)


# --------------------------------------------------------------------------------------------------------------------
# loading a valid user pack


def test_load_pack_converts_to_bgra(tmp_path: Path) -> None:
    folder = make_pack(tmp_path / "p")
    write_png(folder / "happy.png", (250, 120, 10, 200))  # RGBA: red-ish
    pack = load_pack(folder)
    assert isinstance(pack, EmojiPack)
    b, g, r, a = pack.images[Expression.HAPPY][5, 5]
    assert (b, g, r, a) == (10, 120, 250, 200)


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "LA"])
def test_load_pack_accepts_other_modes_as_rgba(tmp_path: Path, mode: str) -> None:
    folder = make_pack(tmp_path / "p")
    Image.new("RGBA", (40, 40), (200, 50, 50, 255)).convert(mode).save(folder / "sad.png")
    image = load_pack(folder).images[Expression.SAD]
    assert image.shape == (40, 40, 4)
    assert (image[..., 3] == 255).all()


def test_images_in_subfolder_and_internal_symlink_are_allowed(tmp_path: Path) -> None:
    folder = make_pack(tmp_path / "p", images=images_with("fear", "img/fear.png"))
    write_png(folder / "img" / "fear.png")
    if hasattr(os, "symlink"):
        (folder / "link.png").symlink_to(folder / "angry.png")
        manifest = json.loads((folder / "pack.json").read_text())
        manifest["images"]["neutral"] = "link.png"
        (folder / "pack.json").write_text(json.dumps(manifest))
    pack = load_pack(folder)
    assert pack.images[Expression.FEAR].shape == (64, 64, 4)


# --------------------------------------------------------------------------------------------------------------------
# broken packs: each gives a PackError naming the file


def _missing_manifest(folder: Path) -> str:
    (folder / "pack.json").unlink()
    return "pack.json"


def _bad_json(folder: Path) -> str:
    (folder / "pack.json").write_text('{"name": "x", ', encoding="utf-8")
    return "pack.json"


def _not_an_object(folder: Path) -> str:
    (folder / "pack.json").write_text("[1, 2]", encoding="utf-8")
    return "pack.json"


def _missing_key(folder: Path) -> str:
    make_pack(folder, license=None)
    return "pack.json"


def _missing_class(folder: Path) -> str:
    images = {lab: f"{lab}.png" for lab in EXPRESSION_LABELS if lab != "disgust"}
    make_pack(folder, images=images)
    return "pack.json"


def _unknown_class(folder: Path) -> str:
    make_pack(folder, images={**images_with("happy", "happy.png"), "suprise": "surprise.png"})
    return "pack.json"


def _traversal(folder: Path) -> str:
    write_png(folder.parent / "x.png")
    make_pack(folder, images=images_with("happy", "../x.png"))
    return "pack.json"


def _absolute(folder: Path) -> str:
    outside = write_png(folder.parent / "abs.png")
    make_pack(folder, images=images_with("sad", str(outside)))
    return "pack.json"


def _windows_absolute(folder: Path) -> str:
    make_pack(folder, images=images_with("sad", "C:\\emoji\\sad.png"))
    return "pack.json"


def _symlink_escape(folder: Path) -> str:
    outside = write_png(folder.parent / "secret.png")
    (folder / "angry.png").unlink()
    (folder / "angry.png").symlink_to(outside)
    return "angry.png"


def _missing_image(folder: Path) -> str:
    (folder / "surprise.png").unlink()
    return "surprise.png"


def _corrupt_png(folder: Path) -> str:
    data = (folder / "fear.png").read_bytes()
    (folder / "fear.png").write_bytes(data[: len(data) // 2])
    return "fear.png"


def _not_an_image(folder: Path) -> str:
    (folder / "neutral.png").write_text("this is not an image\n", encoding="utf-8")
    return "neutral.png"


def _image_is_a_folder(folder: Path) -> str:
    (folder / "neutral.png").unlink()
    (folder / "neutral.png").mkdir()
    return "neutral.png"


def _too_small(folder: Path) -> str:
    write_png(folder / "happy.png", size=4)
    return "happy.png"


def _fully_transparent(folder: Path) -> str:
    write_png(folder / "happy.png", (0, 0, 0, 0))
    return "happy.png"


def _name_not_string(folder: Path) -> str:
    make_pack(folder, name=5)  # type: ignore[arg-type]
    return "pack.json"


def _empty_path(folder: Path) -> str:
    make_pack(folder, images=images_with("angry", ""))
    return "pack.json"


BROKEN = {
    "missing manifest": (_missing_manifest, "missing"),
    "bad json": (_bad_json, "not valid JSON"),
    "manifest not an object": (_not_an_object, "JSON object"),
    "missing key": (_missing_key, "license"),
    "missing class": (_missing_class, "disgust"),
    "unknown class": (_unknown_class, "suprise"),
    "path traversal": (_traversal, ".."),
    "absolute path": (_absolute, "absolute"),
    "windows absolute path": (_windows_absolute, "absolute"),
    "symlink escaping": (_symlink_escape, "outside the pack folder"),
    "missing image": (_missing_image, "not found"),
    "corrupt png": (_corrupt_png, "cannot be decoded"),
    "non-image file": (_not_an_image, "not an image"),
    "image is a folder": (_image_is_a_folder, "not a regular file"),
    "image too small": (_too_small, "4x4"),
    "fully transparent": (_fully_transparent, "transparent"),
    "name not a string": (_name_not_string, "'name' must be a string"),
    "empty image path": (_empty_path, "non-empty"),
}


@pytest.mark.parametrize("breaker, expected", BROKEN.values(), ids=list(BROKEN))
def test_broken_pack_raises_pack_error_naming_the_file(tmp_path: Path, breaker, expected: str) -> None:
    folder = make_pack(tmp_path / "packs" / "broken")
    filename = breaker(folder)
    with pytest.raises(PackError) as info:
        load_pack(folder)
    message = str(info.value)
    assert filename in message
    assert str(folder) in message
    assert expected in message
    assert ";" in message, "the message should say what to do"


@pytest.mark.parametrize("breaker, expected", BROKEN.values(), ids=list(BROKEN))
def test_discover_reports_broken_pack_and_keeps_good_ones(tmp_path: Path, breaker, expected: str) -> None:
    root = tmp_path / "packs"
    make_pack(root / "a_good", name="good one")
    make_pack(root / "z_good", name="good two")
    breaker(make_pack(root / "broken", name="broken"))
    packs, errors = discover_packs([root])
    assert sorted(packs) == ["good one", "good two"]
    assert len(errors) == 1
    assert isinstance(errors[0], PackError)
    assert "broken" in str(errors[0]) and expected in str(errors[0])


def test_load_pack_on_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="not a folder"):
        load_pack(tmp_path / "nope")


# --------------------------------------------------------------------------------------------------------------------
# discovery


def test_discover_duplicate_name_first_folder_wins(tmp_path: Path) -> None:
    builtin, user = tmp_path / "builtin", tmp_path / "user"
    make_pack(builtin / "classic", name="classic")
    make_pack(user / "mine", name="classic")
    make_pack(user / "other", name="other")
    packs, errors = discover_packs([builtin, user])
    assert sorted(packs) == ["classic", "other"]
    assert packs["classic"].folder == (builtin / "classic").absolute()
    assert len(errors) == 1
    assert "already used" in str(errors[0]) and str(user / "mine") in str(errors[0])


def test_discover_default_skips_user_pack_shadowing_a_builtin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    user = tmp_path / "user"
    make_pack(user / "my_classic", name="classic")
    make_pack(user / "mine", name="mine")
    monkeypatch.setattr("vcam_emoji.packs.user_packs_dir", lambda: user)
    packs, errors = discover_packs()
    assert packs["classic"].builtin and packs["classic"].folder == (packs_dir() / "classic").absolute()
    assert not packs["mine"].builtin
    assert len(errors) == 1 and "my_classic" in str(errors[0])


def test_discover_ignores_missing_dirs_files_and_hidden_folders(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    make_pack(root / "ok", name="ok")
    (root / "README.txt").write_text("not a pack")
    (root / ".hidden").mkdir()
    (root / "__pycache__").mkdir()
    packs, errors = discover_packs([tmp_path / "absent", root])
    assert list(packs) == ["ok"]
    assert errors == []
