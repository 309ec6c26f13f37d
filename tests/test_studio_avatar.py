"""The Avatar page's API through Starlette's test client: the attributes, the pictures, the stickers and Save as pack,
with bad input and the security rules for each endpoint. The pictures are the avatar library's own (compared pixel
for pixel); packs are written into a temporary home's user packs folder and nowhere else.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2 (the test extra)")

from starlette.testclient import TestClient  # noqa: E402

from studio_fakes import FakeEngine  # noqa: E402
from test_studio_api import ORIGIN, PORT, TOKEN, files_under, home, pack_zip  # noqa: E402,F401

from studio.api import API  # noqa: E402
from studio.security import Guard  # noqa: E402
from studio.state import StudioState  # noqa: E402
from studio.web import create_app  # noqa: E402
from vcam_emoji.avatar import AvatarAttributes, AvatarRenderer, create_avatar_pack, options_table  # noqa: E402
from vcam_emoji.avatar import random_attributes  # noqa: E402
from vcam_emoji.config import ensure_config_file, load_config  # noqa: E402
from vcam_emoji.packs import discover_packs, read_manifest, user_packs_dir  # noqa: E402
from vcam_emoji.sticker import MAX_WEBP_BYTES  # noqa: E402
from vcam_emoji.types import EXPRESSION_LABELS, Expression  # noqa: E402

ME = {"skin": "brown", "hair": "bob", "hair_color": "black", "facial_hair": "beard_light", "accessory": "round"}


@pytest.fixture
def studio(home):
    config_path = ensure_config_file(home / "config" / "vcam-emoji" / "config.toml")
    engine = FakeEngine(load_config(config_path))
    app = create_app(StudioState(engine, config_path, find_cameras=lambda: []), Guard(TOKEN, PORT))
    with TestClient(app, base_url=ORIGIN, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.engine, client.config_path = engine, config_path
        yield client


def rgba(response) -> np.ndarray:
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.mode == "RGBA"
        return np.asarray(img)


# --------------------------------------------------------------------------------------------------------- options
def test_options_list_every_attribute_that_avatar_options_lists(studio):
    data = studio.get(f"{API}/avatar/options").json()
    listed = [(a["name"], a["default"]) for a in data["attributes"]]
    assert listed == [(name, default) for name, _flag, default, _allowed in options_table()]
    by_name = {a["name"]: a for a in data["attributes"]}
    assert "bob" in by_name["hair"]["values"] and not by_name["hair"]["colour"]
    assert by_name["skin"]["colour"] and by_name["skin"]["hex"]["light"].startswith("#")
    assert "hair" in by_name["facial_hair_color"]["values"] and "hair" not in by_name["facial_hair_color"]["hex"]
    assert data["expressions"] == list(EXPRESSION_LABELS) and data["sticker_formats"] == ["png", "webp"]
    assert data["packs"] == [] and data["user_folder"] == str(user_packs_dir())


def test_options_list_the_users_avatar_packs_with_their_attributes(studio):
    create_avatar_pack("me", AvatarAttributes(**ME), renderer=AvatarRenderer(64))
    studio.post(f"{API}/packs/import", content=pack_zip("not-an-avatar"))
    (pack,) = studio.get(f"{API}/avatar/options").json()["packs"]
    assert pack["name"] == "me" and pack["attributes"] == AvatarAttributes(**ME).to_json()
    packs = {p["name"]: p for p in studio.get(f"{API}/packs").json()["packs"]}
    assert packs["me"]["avatar"] and not packs["not-an-avatar"]["avatar"] and not packs["twemoji"]["avatar"]


def test_random_is_the_librarys_random_avatar_for_that_seed(studio):
    data = studio.get(f"{API}/avatar/random", params={"seed": 42}).json()
    assert data == {"seed": 42, "attributes": random_attributes(42).to_json()}
    fresh = studio.get(f"{API}/avatar/random").json()
    assert AvatarAttributes(**fresh["attributes"]) == random_attributes(fresh["seed"])


@pytest.mark.parametrize("seed", ["-1", "lots", str(2**31)])
def test_random_refuses_a_bad_seed(studio, seed):
    response = studio.get(f"{API}/avatar/random", params={"seed": seed})
    assert response.status_code == 400 and "expected a whole number from 0 to" in response.json()["error"]


# -------------------------------------------------------------------------------------------------------- pictures
def test_image_is_the_librarys_picture_of_that_avatar_and_expression(studio):
    response = studio.get(f"{API}/avatar/image", params={**ME, "expression": "surprise", "size": 96})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    picture = rgba(response)
    expected = AvatarRenderer(96).render(AvatarAttributes(**ME), Expression.SURPRISE)
    assert picture.shape == (96, 96, 4) and np.array_equal(picture, expected)
    assert picture[0, 0, 3] == 0 and picture[..., 3].max() == 255  # transparent around the bust


def test_each_attribute_and_expression_changes_the_picture(studio):
    def picture(**params):
        return rgba(studio.get(f"{API}/avatar/image", params={**ME, **params}))

    happy = picture(expression="happy")
    assert happy.shape == (192, 192, 4)  # the page's size by default
    assert not np.array_equal(happy, picture(expression="sad"))
    assert not np.array_equal(happy, picture(expression="happy", hair="short_flat"))
    assert not np.array_equal(happy, picture(expression="happy", skin="#3366cc"))
    assert np.array_equal(happy, picture(expression="happy"))  # the same avatar, the same picture


def test_missing_attributes_take_their_default(studio):
    response = studio.get(f"{API}/avatar/image", params={"expression": "neutral", "size": 96})
    expected = AvatarRenderer(96).render(AvatarAttributes(), Expression.NEUTRAL)
    assert np.array_equal(rgba(response), expected)


def test_the_token_in_the_query_is_not_an_attribute(studio):
    with TestClient(studio.app, base_url=ORIGIN) as anonymous:
        response = anonymous.get(f"{API}/avatar/image", params={"token": TOKEN, "size": 96})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"


@pytest.mark.parametrize("params, field, words", [
    ({"hair": "spiky"}, "hair", "hair: 'spiky' is not a value avatars have"),
    ({"hair": "bobb"}, "hair", "did you mean bob?"),
    ({"skin": "#12345"}, "skin", "allowed: tanned, yellow"),
    ({"tail": "long"}, "tail", "'tail' is not an avatar attribute"),
    ({"expression": "bored"}, "expression", "unknown expression 'bored'"),
    ({"size": "1000"}, "size", "size 1000 is not offered"),
    ({"size": "big"}, "size", "size must be a number"),
])
def test_image_refuses_bad_values_naming_the_field(studio, params, field, words):
    response = studio.get(f"{API}/avatar/image", params={**ME, **params})
    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == [field] and words in body["error"]
    assert "--" not in body["fields"][field]  # no command-line flags on a web page


def test_every_wrong_field_is_named_at_once(studio):
    body = studio.get(f"{API}/avatar/image", params={"hair": "spiky", "nose": "long", "skin": "brown"}).json()
    assert set(body["fields"]) == {"hair", "nose"}


# -------------------------------------------------------------------------------------------------------- stickers
def test_a_png_sticker_is_512_square_and_a_download(studio):
    response = studio.get(f"{API}/avatar/sticker", params={**ME, "expression": "sad"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.headers["content-disposition"] == 'attachment; filename="emoji-cam-avatar-sad.png"'
    sticker = rgba(response)
    assert sticker.shape == (512, 512, 4) and sticker[0, 0, 3] == 0
    assert np.array_equal(sticker, AvatarRenderer(512).render(AvatarAttributes(**ME), Expression.SAD))


def test_a_webp_sticker_is_under_100_kb(studio):
    response = studio.get(f"{API}/avatar/sticker", params={**ME, "expression": "happy", "format": "webp"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/webp"
    assert len(response.content) <= MAX_WEBP_BYTES
    with Image.open(io.BytesIO(response.content)) as img:
        assert img.format == "WEBP" and img.size == (512, 512) and img.mode == "RGBA"
    assert response.headers["content-disposition"].endswith('filename="emoji-cam-avatar-happy.webp"')


@pytest.mark.parametrize("params, field", [({"format": "gif"}, "format"), ({"hat": "crown"}, "hat"),
                                           ({"expression": "meh"}, "expression")])
def test_sticker_refuses_bad_values(studio, params, field):
    response = studio.get(f"{API}/avatar/sticker", params={**ME, **params})
    assert response.status_code == 400 and list(response.json()["fields"]) == [field]


# ---------------------------------------------------------------------------------------------------- save as pack
def test_save_as_pack_writes_an_avatar_pack_into_the_user_packs_folder(studio, home):
    before = files_under(home)
    response = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME})
    assert response.status_code == 201, response.text
    saved = response.json()["saved"]
    folder = user_packs_dir() / "me"
    assert saved == {"name": "me", "folder": str(folder), "replaced": False,
                     "attributes": AvatarAttributes(**ME).to_json(), "current": False}
    assert read_manifest(folder)["avatar"]["attributes"] == AvatarAttributes(**ME).to_json()
    assert "me" in discover_packs()[0]  # the engine's own discovery finds it
    new = files_under(home) - before
    assert {Path(p).name for p in new} >= {"pack.json", "happy.png", "preview.png", "LICENSE.txt"}
    assert all(Path(p).is_relative_to(user_packs_dir().relative_to(home)) for p in new), new
    assert not [p for p in user_packs_dir().iterdir() if p.name.startswith(".")]  # no temporary folder left
    packs = studio.get(f"{API}/packs").json()["packs"]
    assert [p["avatar"] for p in packs if p["name"] == "me"] == [True]  # the Packs page lists it at once


def test_a_taken_name_needs_an_explicit_overwrite(studio):
    assert studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME}).status_code == 201
    folder = user_packs_dir() / "me"
    manifest = (folder / "pack.json").read_bytes()
    refused = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": {**ME, "hair": "curly"}})
    assert refused.status_code == 409
    body = refused.json()
    assert body["exists"] is True and "a pack called 'me' exists already (an avatar pack in" in body["fields"]["name"]
    assert (folder / "pack.json").read_bytes() == manifest  # nothing changed
    replaced = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": {**ME, "hair": "curly"},
                                                       "overwrite": True})
    assert replaced.status_code == 201 and replaced.json()["saved"]["replaced"] is True
    assert read_manifest(folder)["avatar"]["attributes"]["hair"] == "curly"
    assert not [p for p in user_packs_dir().iterdir() if p.name.startswith(".")]


def test_replacing_a_pack_that_is_not_an_avatar_says_its_pictures_would_be_lost(studio):
    studio.post(f"{API}/packs/import", content=pack_zip("green"))
    body = studio.post(f"{API}/avatar/pack", json={"name": "green", "attributes": ME}).json()
    assert body["exists"] and "not an avatar" in body["error"] and "its pictures would be lost" in body["error"]


def test_saving_the_pack_in_use_says_so(studio):
    studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME})
    studio.post(f"{API}/commands", json={"command": "pack", "name": "me"})
    again = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME, "overwrite": True})
    assert again.json()["saved"]["current"] is True


@pytest.mark.parametrize("body, status, field, words", [
    ({"name": "../evil", "attributes": ME}, 400, "name", "cannot be used"),
    ({"name": "my pack", "attributes": ME}, 400, "name", "cannot be used"),
    ({"name": "", "attributes": ME}, 400, "name", "cannot be used"),
    ({"name": "x" * 65, "attributes": ME}, 400, "name", "cannot be used"),
    ({"name": "classic", "attributes": ME}, 400, "name", "built-in pack"),
    ({"attributes": ME}, 400, "name", "\"name\" is needed"),
    ({"name": "me", "attributes": {"hair": "spiky"}}, 400, "hair", "'spiky' is not a value avatars have"),
    ({"name": "me", "attributes": {"hair": 3}}, 400, "hair", "expected a string"),
    ({"name": "me", "attributes": ["bob"]}, 400, None, "\"attributes\" must be an object"),
    ({"name": "me", "attributes": ME, "overwrite": "yes"}, 400, None, "\"overwrite\" must be true or false"),
])
def test_save_refuses_bad_input_and_writes_nothing(studio, home, body, status, field, words):
    before = files_under(home)
    response = studio.post(f"{API}/avatar/pack", json=body)
    assert response.status_code == status
    answer = response.json()
    assert words in answer["error"]
    assert list(answer.get("fields", {})) == ([field] if field else [])
    assert files_under(home) == before and not (home / "evil").exists()


def test_a_bad_name_and_a_bad_attribute_are_named_together(studio):
    body = studio.post(f"{API}/avatar/pack", json={"name": "my pack", "attributes": {"hair": "spiky"}}).json()
    assert set(body["fields"]) == {"name", "hair"} and body["error"].startswith("nothing was saved")


def test_another_folder_already_holding_that_pack_name_is_refused(studio):
    studio.post(f"{API}/packs/import", content=pack_zip("me"))  # folder "me" ...
    (user_packs_dir() / "me").rename(user_packs_dir() / "elsewhere")  # ... moved: pack "me" in folder elsewhere
    response = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME, "overwrite": True})
    assert response.status_code == 409 and "is already called 'me'" in response.json()["error"]
    assert "exists" not in response.json()  # replacing would not help: another name is needed


# ------------------------------------------------------------------------------------------------------- security
AVATAR_GETS = [f"{API}/avatar/options", f"{API}/avatar/random", f"{API}/avatar/image?hair=bob",
               f"{API}/avatar/sticker?hair=bob", "/avatar"]


@pytest.mark.parametrize("path", AVATAR_GETS)
def test_every_avatar_endpoint_needs_the_token(studio, path):
    with TestClient(studio.app, base_url=ORIGIN) as anonymous:
        assert anonymous.get(path).status_code == 401
        assert anonymous.get(path, headers={"Authorization": "Bearer " + "x" * 43}).status_code == 401


@pytest.mark.parametrize("path", AVATAR_GETS)
def test_every_avatar_endpoint_refuses_a_foreign_host_and_origin(studio, path):
    assert studio.get(path, headers={"Host": "evil.example"}).status_code == 403
    assert studio.get(path, headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_packs_folder_that_cannot_be_written_is_a_server_error_not_the_names_fault(studio, home, monkeypatch):
    import vcam_emoji.avatar.pack as avatar_pack

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(avatar_pack.tempfile, "mkdtemp", refused)  # root may write anywhere: inject the refusal
    before = files_under(home)
    response = studio.post(f"{API}/avatar/pack", json={"name": "me", "attributes": ME})
    assert response.status_code == 500, response.text
    body = response.json()
    assert "cannot write in the user packs folder" in body["error"] and "Permission denied" in body["error"]
    assert "name" not in (body.get("fields") or {})  # the name was fine: no field is marked
    assert files_under(home) == before  # nothing written


def test_save_as_pack_refuses_a_foreign_origin_or_host_and_writes_nothing(studio, home):
    before = files_under(home)
    body = {"name": "me", "attributes": ME}
    assert studio.post(f"{API}/avatar/pack", json=body, headers={"Origin": "https://evil.example"}).status_code == 403
    assert studio.post(f"{API}/avatar/pack", json=body, headers={"Host": f"evil.example:{PORT}"}).status_code == 403
    with TestClient(studio.app, base_url=ORIGIN) as anonymous:
        assert anonymous.post(f"{API}/avatar/pack", json=body).status_code == 401
        anonymous.cookies.set(f"emoji_cam_studio_{PORT}", TOKEN)
        refused = anonymous.post(f"{API}/avatar/pack", json=body)  # the cookie, but not from a Studio page
        assert refused.status_code == 403 and "does not come from a Studio page" in refused.json()["error"]
        assert files_under(home) == before
        done = anonymous.post(f"{API}/avatar/pack", json=body, headers={"Origin": ORIGIN})
        assert done.status_code == 201


def test_save_as_pack_refuses_an_oversize_body(studio):
    body = json.dumps({"name": "me", "attributes": {"hair": "b" * (70 * 1024)}})
    response = studio.post(f"{API}/avatar/pack", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_the_avatar_page(studio):
    page = studio.get("/avatar")
    assert page.status_code == 200 and "Save as pack" in page.text and "/static/avatar.js" in page.text
    assert 'href="/avatar" aria-current="page"' in page.text
