"""Avatar packs: attributes, the expression table, rendering, packs on disk, the CLI and every bad input."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import shared_file
from helpers import assert_timeline_matches_drawing
from vcam_emoji.avatar import (
    EXPRESSION_FACES,
    FACE_BOX,
    OPTIONS,
    AvatarAttributes,
    AvatarError,
    AvatarRenderer,
    avatar_svg,
    create_avatar_pack,
    edit_avatar_pack,
    random_attributes,
)
from vcam_emoji.avatar import pack as avatar_pack
from vcam_emoji.avatar.render import IMAGE_SIZE, build_avatar
from vcam_emoji.cli import main
from vcam_emoji.errors import PackError
from vcam_emoji.packs import discover_packs, load_pack, user_packs_dir
from vcam_emoji.source.image import load_image_bgr
from vcam_emoji.types import Expression

SEEDS = range(20)


@pytest.fixture(scope="module")
def renderer() -> AvatarRenderer:
    return AvatarRenderer(IMAGE_SIZE, cache_size=2)


def check_image(rgba: np.ndarray) -> None:
    assert rgba.dtype == np.uint8 and rgba.shape == (IMAGE_SIZE, IMAGE_SIZE, 4)
    alpha = rgba[..., 3]
    border = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
    assert (border == 0).all(), "the border must be transparent"
    assert 0.15 < (alpha == 255).mean() < 0.85, "a bust: mostly opaque in the middle, transparent around it"
    # the face is where FACE_BOX says: the middle of the face box is opaque skin-coloured avatar
    x0, y0, x1, y1 = (round(v * IMAGE_SIZE) for v in FACE_BOX)
    assert (alpha[(y0 + y1) // 2 - 5:(y0 + y1) // 2 + 5, (x0 + x1) // 2 - 5:(x0 + x1) // 2 + 5] == 255).all()


# --------------------------------------------------------------------------------------------------------------------
# rendering: the default avatar and 20 random ones, every expression


def test_every_expression_of_the_default_avatar_is_a_valid_distinct_image(renderer) -> None:
    images = renderer.render_all(AvatarAttributes())
    assert list(images) == list(Expression)
    for image in images.values():
        check_image(image)
    for a in Expression:
        for b in Expression:
            if a < b:
                assert np.abs(images[a].astype(int) - images[b].astype(int)).sum() > 0, (a, b)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_expression_of_a_random_avatar_is_valid_and_distinct(renderer, seed) -> None:
    attrs = random_attributes(seed)
    images = renderer.render_all(attrs)
    for image in images.values():
        check_image(image)
    distinct = {image.tobytes() for image in images.values()}
    assert len(distinct) == 7, f"seed {seed}: {attrs} gives only {len(distinct)} different images"


def test_the_expression_table_gives_seven_different_faces() -> None:
    assert set(EXPRESSION_FACES) == set(Expression)
    assert len({(f.eyes, f.eyebrows, f.mouth) for f in EXPRESSION_FACES.values()}) == 7
    for style in ("natural", "classic"):  # every eyebrow in the table exists in both drawings
        for expression in Expression:
            build_avatar(AvatarAttributes(eyebrows=style), expression)


def test_layered_drawing_matches_drawing_the_whole_svg(renderer) -> None:
    from vcam_emoji.avatar.render import _draw, _feather

    attrs = AvatarAttributes(hair="long_hair_curly", facial_hair="beard_light", accessory="round",
                             clothing="graphic_shirt", graphic="bear")
    whole = _feather(_draw(avatar_svg(attrs, Expression.SAD)))
    layered = renderer.render(attrs, Expression.SAD)
    diff = np.abs(whole.astype(int) - layered.astype(int))
    assert diff.mean() < 0.05 and np.percentile(diff, 99.9) <= 3


def test_the_same_seed_gives_the_same_avatar_and_fixed_attributes_stay() -> None:
    assert random_attributes(7) == random_attributes(7)
    assert len({random_attributes(s) for s in SEEDS}) == len(SEEDS)
    assert random_attributes(7, fixed={"hair": "bob", "skin": "#112233"}).hair == "bob"
    assert random_attributes(7, fixed={"skin": "#112233"}).skin == "#112233"


def test_attributes_are_drawn(renderer) -> None:
    base = renderer.render(AvatarAttributes(), Expression.NEUTRAL)
    for change in ({"skin": "dark_brown"}, {"hair": "fro"}, {"hat": "turban"}, {"facial_hair": "beard_medium"},
                   {"clothing": "blazer_shirt"}, {"clothing_color": "red"}, {"accessory": "sunglasses"},
                   {"skin": "#00ff00"}):
        other = AvatarRenderer(IMAGE_SIZE).render(AvatarAttributes().with_changes(change), Expression.NEUTRAL)
        assert np.abs(other.astype(int) - base.astype(int)).mean() > 0.3, change


def test_a_custom_skin_colour_is_the_skin() -> None:
    image = AvatarRenderer(IMAGE_SIZE).render(AvatarAttributes(skin="#00ff00"), Expression.NEUTRAL)
    x0, y0, x1, y1 = (round(v * IMAGE_SIZE) for v in FACE_BOX)
    cheek = image[(y0 + y1) // 2 + 30, x0 + (x1 - x0) // 4, :3]
    assert tuple(cheek) == (0, 255, 0)


def test_svg_is_cropped_like_the_images() -> None:
    svg = avatar_svg(AvatarAttributes(), Expression.HAPPY, size=128)
    assert 'viewBox="-23 -22 310 310"' in svg and 'width="128"' in svg


# --------------------------------------------------------------------------------------------------------------------
# attributes: bad values name the attribute and list what is allowed


@pytest.mark.parametrize("name, value", [("hair", "mullet"), ("skin", "green"), ("skin", "#12345"),
                                         ("graphic", "custom_text"), ("eyebrows", "bushy"), ("hat", 3)])
def test_unknown_value_names_the_attribute_and_lists_the_allowed(name, value) -> None:
    with pytest.raises(AvatarError) as info:
        AvatarAttributes(**{name: value})
    message = str(info.value)
    assert name in message and "allowed:" in message
    assert all(v in message for v in OPTIONS[name].values)


def test_unknown_attribute_lists_the_attributes() -> None:
    with pytest.raises(AvatarError, match="unknown avatar attribute.*haircolour.*hair_color"):
        AvatarAttributes().with_changes({"haircolour": "black"})


def test_values_are_normalised() -> None:
    attrs = AvatarAttributes(hair="Short-Flat", skin="#AABBCC")
    assert attrs.hair == "short_flat" and attrs.skin == "#aabbcc"


# --------------------------------------------------------------------------------------------------------------------
# packs on disk


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """The pack `avatar create me --hair bob --hair-color auburn --accessory round` writes, drawn once."""
    root = tmp_path_factory.mktemp("template")
    attrs = AvatarAttributes(hair="bob", hair_color="auburn", accessory="round")
    return create_avatar_pack("me", attrs, root=root).folder


@pytest.fixture
def made(env, template):
    """That pack in this test's user packs folder: (tmp, config path, pack folder)."""
    tmp, config = env
    folder = user_packs_dir() / "me"
    shutil.copytree(template, folder)
    return tmp, config, folder


def test_create_writes_the_pack_the_api_writes(env, template, capsys) -> None:
    assert main(["avatar", "create", "me", "--hair", "bob", "--hair-color", "auburn", "--accessory", "round"]) == 0
    folder = user_packs_dir() / "me"
    assert "wrote avatar pack 'me'" in capsys.readouterr().out
    for f in template.iterdir():
        assert (folder / f.name).read_bytes() == f.read_bytes(), f.name


def test_created_pack_has_everything_and_validates(made, capsys) -> None:
    _, _, folder = made
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["pack.json", "LICENSE.txt", "preview.png", *(f"{e.label}.png" for e in Expression)])
    manifest = json.loads((folder / "pack.json").read_text())
    assert manifest["avatar"]["attributes"]["hair"] == "bob" and manifest["face_box"] == list(FACE_BOX)
    assert "Pablo Stanley" in manifest["source"] and "MIT" in (folder / "LICENSE.txt").read_text()
    capsys.readouterr()
    assert main(["packs", "validate", str(folder)]) == 0
    assert "OK" in capsys.readouterr().out
    pack = load_pack(folder)
    assert pack.face_box == FACE_BOX and pack.avatar["accessory"] == "round"
    assert main(["packs", "list"]) == 0
    assert "me" in capsys.readouterr().out
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")], "no temporary folder left"


def test_create_random_with_seed_is_reproducible(env, capsys) -> None:
    assert main(["avatar", "create", "r1", "--seed", "5"]) == 0
    assert main(["avatar", "create", "r2", "--random", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "--seed 5" in out
    a = json.loads((user_packs_dir() / "r1" / "pack.json").read_text())["avatar"]["attributes"]
    b = json.loads((user_packs_dir() / "r2" / "pack.json").read_text())["avatar"]["attributes"]
    assert a == b == random_attributes(5).to_json()


def test_existing_name_needs_force_and_force_replaces(made, capsys) -> None:
    _, _, folder = made
    before = (folder / "happy.png").read_bytes()
    capsys.readouterr()
    assert main(["avatar", "create", "me", "--hair", "fro"]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert (folder / "happy.png").read_bytes() == before
    assert main(["avatar", "create", "me", "--hair", "fro", "--force"]) == 0
    assert json.loads((folder / "pack.json").read_text())["avatar"]["attributes"]["hair"] == "fro"
    assert (folder / "happy.png").read_bytes() != before


def test_edit_changes_only_what_is_given(made, capsys) -> None:
    _, _, folder = made
    before = (folder / "neutral.png").read_bytes()
    assert main(["avatar", "edit", "me", "--hair-color", "black"]) == 0
    attrs = json.loads((folder / "pack.json").read_text())["avatar"]["attributes"]
    assert attrs["hair_color"] == "black" and attrs["hair"] == "bob" and attrs["accessory"] == "round"
    assert (folder / "neutral.png").read_bytes() != before
    assert "redrew" in capsys.readouterr().out


def test_a_failure_while_writing_leaves_nothing_half_written(made, monkeypatch, capsys) -> None:
    _, _, folder = made
    snapshot = {p.name: p.read_bytes() for p in folder.iterdir()}
    calls = []
    real = avatar_pack.encode_png

    def failing(rgba):
        calls.append(1)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real(rgba)

    monkeypatch.setattr(avatar_pack, "encode_png", failing)
    assert main(["avatar", "edit", "me", "--hair", "fro"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "nothing was changed" in err and "Traceback" not in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == snapshot
    assert [p.name for p in folder.parent.iterdir()] == ["me"], "no temporary folder left"
    calls.clear()
    assert main(["avatar", "create", "new", "--hair", "fro"]) == 1
    assert [p.name for p in folder.parent.iterdir()] == ["me"]


def test_bad_values_on_the_command_line_are_usage_errors(env, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["avatar", "create", "x", "--hair", "mullet"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--hair" in err and "'mullet'" in err and "shaggy_mullet" in err and "allowed:" in err
    with pytest.raises(SystemExit) as info:
        main(["avatar", "create", "x", "--hair-colour", "black"])
    assert info.value.code == 2
    assert not user_packs_dir().exists() or not any(user_packs_dir().iterdir())


@pytest.mark.parametrize("name, expected", [("twemoji", "built-in"), ("../evil", "cannot be used"),
                                            ("a b", "cannot be used"), (".hidden", "cannot be used")])
def test_bad_pack_names(env, capsys, name, expected) -> None:
    assert main(["avatar", "create", name]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_name_used_by_another_folder_is_refused(env, capsys) -> None:
    from test_packs import make_pack

    make_pack(user_packs_dir() / "other_folder", name="me")
    assert main(["avatar", "create", "me"]) == 1
    assert "already called 'me'" in capsys.readouterr().err


def test_edit_of_a_missing_or_plain_pack(env, capsys) -> None:
    from test_packs import make_pack

    assert main(["avatar", "edit", "ghost", "--hair", "bob"]) == 1
    assert "no avatar pack called 'ghost'" in capsys.readouterr().err
    make_pack(user_packs_dir() / "plain", name="plain")
    assert main(["avatar", "edit", "plain", "--hair", "bob"]) == 1
    assert "not an avatar pack" in capsys.readouterr().err


@pytest.mark.parametrize("breakage, expected", [
    (lambda m: m["avatar"]["attributes"].update(hair="mullet"), "mullet"),
    (lambda m: m["avatar"]["attributes"].update(hair=5), "hair"),
    (lambda m: m["avatar"].pop("attributes"), "attributes"),
    (lambda m: m.update(face_box=[0.5, 0.5, 0.2, 0.9]), "face_box"),
    (lambda m: m["images"].pop("sad"), "sad"),
])
def test_hand_edited_into_an_invalid_state_is_reported_like_any_broken_pack(made, capsys, breakage, expected):
    _, _, folder = made
    manifest = json.loads((folder / "pack.json").read_text())
    breakage(manifest)
    (folder / "pack.json").write_text(json.dumps(manifest))
    packs, errors = discover_packs()
    assert "me" not in packs and "twemoji" in packs
    assert len(errors) == 1 and expected in str(errors[0]) and "pack.json" in str(errors[0])
    capsys.readouterr()
    assert main(["packs", "list"]) == 0
    assert main(["avatar", "edit", "me", "--hair", "bob"]) == 1
    err = capsys.readouterr().err
    assert expected in err and "pack.json" in err and "Traceback" not in err


def test_hand_deleted_image_is_reported_and_edit_repairs_it(made, capsys) -> None:
    _, _, folder = made
    (folder / "fear.png").unlink()
    packs, errors = discover_packs()
    assert "me" not in packs and "twemoji" in packs and "fear.png" in str(errors[0])
    assert main(["avatar", "edit", "me"]) == 0
    assert "me" in discover_packs()[0]


def test_options_lists_every_attribute_and_value(capsys) -> None:
    assert main(["avatar", "options"]) == 0
    out = capsys.readouterr().out
    for name, option in OPTIONS.items():
        assert "--" + name.replace("_", "-") in out
        assert all(v in out for v in option.values)


def test_create_edit_api(tmp_path) -> None:
    result = create_avatar_pack("api", AvatarAttributes(hair="pixie"), root=tmp_path)
    assert result.folder == tmp_path / "api" and result.pack.name == "api" and not result.replaced
    edited = edit_avatar_pack("api", {"hair": "bun", "skin": None}, root=tmp_path)
    assert edited.attributes.hair == "bun" and edited.attributes.skin == "light" and edited.replaced
    with pytest.raises(AvatarError, match="already exists"):
        create_avatar_pack("api", AvatarAttributes(), root=tmp_path)
    with pytest.raises(PackError):
        (tmp_path / "api" / "pack.json").write_text("{")
        edit_avatar_pack("api", {}, root=tmp_path)


# --------------------------------------------------------------------------------------------------------------------
# an avatar pack on real photos: `vcam-emoji render --pack NAME` puts the avatar on every face


@pytest.mark.needs_shared
@pytest.mark.parametrize("photo", ["pexels_neutral.jpeg", "pexels_surprised.jpeg", "skimage_astronaut.png"])
def test_avatar_pack_renders_onto_every_face(made, photo) -> None:
    tmp, config, folder = made
    src_path = shared_file(f"media/{photo}")
    out, timeline = tmp / "out.png", tmp / "t.jsonl"
    assert main(["render", "--config", config, "-q", "--pack", "me", str(src_path), str(out),
                 "--timeline", str(timeline)]) == 0
    (record,) = [json.loads(line) for line in timeline.read_text().splitlines()]
    assert record["faces"], "the photo has a face"
    src, dst = load_image_bgr(src_path), cv2.imread(str(out))
    pack = load_pack(folder)
    assert_timeline_matches_drawing(src, dst, record["faces"], pack)
    skin = np.array([138, 185, 237])  # "light" (#EDB98A), BGR: flat avatar skin, rare in a photo
    for face in record["faces"]:  # the avatar's face covers the face
        x0, y0, x1, y1 = (int(v) for v in face["box_xyxy"])
        x0, y0 = max(0, x0), max(0, y0)

        def skin_share(img):
            return float((np.abs(img[y0:y1, x0:x1].astype(int) - skin).max(axis=2) <= 6).mean())

        assert skin_share(dst) > 0.3 and skin_share(src) < 0.1, (skin_share(dst), skin_share(src))


def test_pack_files_are_not_world_hidden(made) -> None:
    _, _, folder = made
    if os.name == "posix":
        assert folder.stat().st_mode & 0o755 == 0o755


def test_interrupted_while_drawing_leaves_no_temporary_folder(made, monkeypatch, capsys) -> None:
    _, _, folder = made
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    def interrupted(rgba):
        raise KeyboardInterrupt  # Ctrl-C; SIGTERM reaches the same finally blocks (vcam_emoji.fileio.Terminated)

    monkeypatch.setattr(avatar_pack, "encode_png", interrupted)
    assert main(["avatar", "edit", "me", "--hair", "fro"]) == 130
    assert [p.name for p in folder.parent.iterdir()] == ["me"]
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
