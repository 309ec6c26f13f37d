"""The Studio's web API through Starlette's test client: every endpoint, and every security rule.

The engine is an in-memory fake (tests/studio_fakes.py); settings and packs live in a temporary home (XDG folders),
so every write the Studio makes can be checked to stay inside the user's config and packs folders.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2 (the test extra)")

from starlette.testclient import TestClient  # noqa: E402

from conftest import FIXTURES  # noqa: E402
from studio_fakes import FakeEngine, face_result  # noqa: E402

from studio.api import API, ENDPOINTS, openapi_document  # noqa: E402
from studio.limits import MAX_ZIP_BYTES  # noqa: E402
from studio.security import Guard, check_request  # noqa: E402
from studio.state import Camera, StudioState  # noqa: E402
from studio.web import create_app  # noqa: E402
from vcam_emoji.config import ensure_config_file, load_config  # noqa: E402
from vcam_emoji.packs import discover_packs, user_packs_dir  # noqa: E402
from vcam_emoji.types import EXPRESSION_LABELS, Expression  # noqa: E402

PORT = 8437
ORIGIN = f"http://127.0.0.1:{PORT}"
TOKEN = "t" * 43


# ---------------------------------------------------------------------------------------------------------- setup
@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def studio(home):
    config_path = ensure_config_file(home / "config" / "vcam-emoji" / "config.toml")
    engine = FakeEngine(load_config(config_path))
    state = StudioState(engine, config_path, find_cameras=lambda: [Camera(0, "Fake cam (/dev/video0)"),
                                                                   Camera(2, "Other cam (/dev/video2)")])
    app = create_app(state, Guard(TOKEN, PORT))
    with TestClient(app, base_url=ORIGIN, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.engine, client.state, client.config_path = engine, state, config_path
        yield client


@pytest.fixture
def anonymous(studio):
    """The same server, without the token."""
    with TestClient(studio.app, base_url=ORIGIN) as client:
        yield client


def pack_zip(name="mine", *, prefix="", colour=(0, 200, 0), extra: dict | None = None, skip=()) -> bytes:
    """A valid pack zip (7 square RGBA PNGs of one colour), optionally with extra entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        images = {}
        for label in EXPRESSION_LABELS:
            if label in skip:
                continue
            image = np.zeros((64, 64, 4), np.uint8)
            cv2.circle(image, (32, 32), 28, (*colour[::-1], 255), -1)
            archive.writestr(f"{prefix}{label}.png", cv2.imencode(".png", image)[1].tobytes())
            images[label] = f"{label}.png"
        manifest = {"name": name, "author": "tests", "license": "CC0-1.0", "images": images}
        archive.writestr(f"{prefix}pack.json", json.dumps(manifest))
        for entry, data in (extra or {}).items():
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, data)
            else:
                archive.writestr(entry, data)
    return buffer.getvalue()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------------------------------- security
@pytest.mark.parametrize("path", [f"{API}/status", "/live", "/static/studio.css", f"{API}/openapi.json"])
def test_no_token_is_refused_everywhere(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 401
    assert "needs its token" in response.text


@pytest.mark.parametrize("how", ["bearer", "query", "cookie"])
def test_a_wrong_token_is_refused_however_it_is_given(anonymous, how):
    wrong = "x" * 43
    if how == "bearer":
        response = anonymous.get(f"{API}/status", headers={"Authorization": f"Bearer {wrong}"})
    elif how == "query":
        response = anonymous.get(f"{API}/status?token={wrong}")
    else:
        response = anonymous.get(f"{API}/status", headers={"Cookie": f"emoji_cam_studio_{PORT}={wrong}"})
    assert response.status_code == 401 and "wrong token" in response.json()["error"]


def test_a_cookie_for_another_port_is_not_this_studios(anonymous):
    response = anonymous.get(f"{API}/status", headers={"Cookie": f"emoji_cam_studio_{PORT + 1}={TOKEN}"})
    assert response.status_code == 401


def test_authorization_must_be_bearer(anonymous):
    response = anonymous.get(f"{API}/status", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", f"0.0.0.0:{PORT}",
                                  f"192.168.1.5:{PORT}", ""])
def test_a_foreign_host_is_refused_even_with_the_token(studio, host):
    # Given a DNS-rebinding page: the browser sends the attacker's host name with the request
    response = studio.get(f"{API}/status", headers={"Host": host})
    assert response.status_code == 403 and "DNS rebinding" in response.json()["error"]


def test_localhost_is_this_studio_too(studio):
    assert studio.get(f"{API}/status", headers={"Host": f"localhost:{PORT}"}).status_code == 200


@pytest.mark.parametrize("origin", ["https://evil.example", f"http://127.0.0.1:{PORT + 1}", "null",
                                    f"http://evil.example:{PORT}"])
def test_a_foreign_origin_on_a_post_is_refused_and_changes_nothing(studio, origin):
    before = studio.config_path.read_bytes()
    response = studio.post(f"{API}/settings", json={"changes": {"smoothing.min_hold_ms": 900}},
                           headers={"Origin": origin})
    assert response.status_code == 403 and "other web pages" in response.json()["error"]
    response = studio.post(f"{API}/commands", json={"command": "pause"}, headers={"Origin": origin})
    assert response.status_code == 403
    assert studio.config_path.read_bytes() == before and studio.engine.commands == []


def test_a_foreign_origin_cannot_read_either(studio):
    assert studio.get(f"{API}/status", headers={"Origin": "https://evil.example"}).status_code == 403


def test_the_token_in_a_page_address_becomes_a_cookie_and_leaves_the_address(anonymous):
    response = anonymous.get(f"/settings?token={TOKEN}&x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/settings?x=1"
    cookie = response.headers["set-cookie"]
    assert f"emoji_cam_studio_{PORT}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    anonymous.cookies.set(f"emoji_cam_studio_{PORT}", TOKEN)
    page = anonymous.get("/settings")
    assert page.status_code == 200 and "<h1>Settings</h1>" in page.text
    assert anonymous.get(f"{API}/status").status_code == 200


def test_a_cookie_post_must_come_from_a_studio_page(anonymous):
    anonymous.cookies.set(f"emoji_cam_studio_{PORT}", TOKEN)
    body = {"command": "pause"}
    refused = anonymous.post(f"{API}/commands", json=body)  # no Origin, no Referer: not shown to come from a page
    assert refused.status_code == 403 and "does not come from a Studio page" in refused.json()["error"]
    assert anonymous.post(f"{API}/commands", json=body, headers={"Origin": ORIGIN}).status_code == 200
    assert anonymous.post(f"{API}/commands", json=body, headers={"Referer": f"{ORIGIN}/live"}).status_code == 200
    assert anonymous.post(f"{API}/commands", json=body,
                          headers={"Referer": f"http://127.0.0.1:{PORT}.evil.example/"}).status_code == 403


def test_a_repeated_host_or_origin_header_is_refused():
    guard = Guard(TOKEN, PORT)
    scope = {"type": "http", "method": "GET", "path": "/api/v1/status", "query_string": b"",
             "headers": [(b"host", f"127.0.0.1:{PORT}".encode()), (b"host", b"evil.example"),
                         (b"authorization", f"Bearer {TOKEN}".encode())]}
    refusal, _ = check_request(guard, scope)
    assert refusal is not None and refusal.status == 403


def test_responses_carry_the_security_headers(studio):
    response = studio.get("/live")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


def test_the_pages_load_nothing_from_the_internet(studio):
    loads = re.compile(r"""(?:src|href|action)\s*=\s*["']([^"']*)|url\(\s*["']?([^"')]*)|fetch\(\s*["'`]([^"'`]*)""")
    for page in ("live", "packs", "avatar", "settings", "session", "api"):
        html = studio.get(f"/{page}").text
        targets = [t for groups in loads.findall(html) for t in groups if t]
        assert targets and all(t.startswith("/") for t in targets), (page, targets)
        assert "<script>" not in html  # no inline script: the CSP would block it
    for name in os.listdir(Path(__file__).resolve().parents[1] / "studio" / "static"):
        text = studio.get(f"/static/{name}").text
        targets = [t for groups in loads.findall(text) for t in groups if t]
        assert all(t.startswith(("/", "#")) for t in targets), (name, targets)


def test_websockets_are_refused(studio):
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with studio.websocket_connect("/api/v1/status"):
            pass


# --------------------------------------------------------------------------------------------------------- status
def test_status_gives_the_engine_state_and_each_face(studio):
    studio.engine.result = face_result(3, Expression.SAD)
    data = studio.get(f"{API}/status").json()
    assert data["state"] == "running" and data["pack"] == "twemoji" and data["fps"] == 29.5
    assert data["latency_ms"] == {"p50": 12.0, "p99": 20.0} and data["size"] == [64, 48]
    (face,) = data["faces"]
    assert face["track_id"] == 3 and face["expression"] == "sad"
    assert list(face["probs"]) == list(EXPRESSION_LABELS) and face["probs"]["sad"] == pytest.approx(0.88)
    studio.engine.state = "paused"
    assert studio.get(f"{API}/status").json()["faces"] == []  # no stale faces while paused


# ------------------------------------------------------------------------------------------------------- commands
def test_pause_and_resume_go_to_the_engine_and_are_not_saved(studio):
    before = studio.config_path.read_bytes()
    assert studio.post(f"{API}/commands", json={"command": "pause"}).json()["paused"] is True
    assert studio.post(f"{API}/commands", json={"command": "resume"}).json()["paused"] is False
    assert studio.engine.commands == ["pause", "resume"]
    assert studio.config_path.read_bytes() == before


def test_pack_mirror_and_camera_are_saved_to_the_file_and_applied(studio):
    assert studio.post(f"{API}/commands", json={"command": "pack", "name": "classic"}).json()["pack"] == "classic"
    assert studio.post(f"{API}/commands", json={"command": "mirror", "on": True}).json()["mirror"] is True
    assert studio.post(f"{API}/commands", json={"command": "camera", "device": 2}).json()["camera"] == 2
    saved = load_config(studio.config_path)
    assert (saved.pack.name, saved.camera.mirror, saved.camera.device) == ("classic", True, 2)
    assert studio.engine.config == saved and studio.engine.pack == "classic"
    text = studio.config_path.read_text()
    assert "# Emoji Cam configuration" in text  # the file's comments stay: only the lines of those keys changed


@pytest.mark.parametrize("body, status, words", [
    ({"command": "pack", "name": "no-such-pack"}, 404, "no emoji pack named 'no-such-pack'"),
    ({"command": "pack"}, 400, "needs \"name\""),
    ({"command": "mirror", "on": "yes"}, 400, "true or false"),
    ({"command": "camera", "device": -1}, 400, "camera.device = -1 is negative"),
    ({"command": "reboot"}, 400, "unknown command 'reboot'"),
    ({}, 400, "unknown command None"),
])
def test_bad_commands_say_what_is_wrong_and_change_nothing(studio, body, status, words):
    before = studio.config_path.read_bytes()
    response = studio.post(f"{API}/commands", json=body)
    assert response.status_code == status and words in response.json()["error"]
    assert studio.config_path.read_bytes() == before and studio.engine.commands == []


def test_a_body_that_is_not_a_json_object_is_refused(studio):
    response = studio.post(f"{API}/commands", content=b"[1, 2", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "not valid JSON" in response.json()["error"]
    response = studio.post(f"{API}/commands", json=[1, 2])
    assert response.status_code == 400 and "JSON object" in response.json()["error"]


def test_cameras_lists_what_was_found_and_the_configured_one(studio):
    data = studio.get(f"{API}/cameras").json()
    assert data == {"configured": 0, "cameras": [{"device": 0, "label": "Fake cam (/dev/video0)"},
                                                 {"device": 2, "label": "Other cam (/dev/video2)"}]}


# ---------------------------------------------------------------------------------------------------------- packs
def test_packs_lists_every_pack_and_the_broken_ones_with_the_reason(studio, home):
    broken = user_packs_dir() / "broken_one"
    broken.mkdir(parents=True)
    (broken / "pack.json").write_text("{not json")
    data = studio.get(f"{API}/packs").json()
    names = [p["name"] for p in data["packs"]]
    assert names[:3] == ["classic", "openmoji", "twemoji"]
    assert all(p["builtin"] and not p["removable"] for p in data["packs"])
    assert [p["name"] for p in data["packs"] if p["current"]] == ["twemoji"]
    (reason,) = data["broken"]
    assert "broken_one" in reason and "not valid JSON" in reason
    assert data["user_folder"] == str(user_packs_dir())


def test_pack_image_is_a_png_thumbnail(studio):
    response = studio.get(f"{API}/packs/image", params={"name": "classic", "expression": "surprise", "size": 96})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image.shape == (96, 96, 4) and image[..., 3].max() == 255 and image[0, 0, 3] == 0


@pytest.mark.parametrize("params, status, words", [
    ({"name": "classic", "expression": "bored"}, 400, "unknown expression 'bored'"),
    ({"name": "classic", "size": 1000}, 400, "size 1000 is not offered"),
    ({"name": "classic", "size": "big"}, 400, "size must be a number"),
    ({"name": "nope"}, 404, "no emoji pack named 'nope'"),
    ({}, 400, "name= is needed"),
])
def test_pack_image_refuses_bad_requests(studio, params, status, words):
    response = studio.get(f"{API}/packs/image", params=params)
    assert response.status_code == status and words in response.json()["error"]


def test_import_a_pack_zip_then_use_it_then_remove_it(studio, home):
    response = studio.post(f"{API}/packs/import", content=pack_zip("Green test", prefix="green/"),
                           headers={"Content-Type": "application/zip"})
    assert response.status_code == 201, response.text
    imported = response.json()["imported"]
    assert imported["name"] == "Green test" and not imported["builtin"] and imported["removable"]
    folder = user_packs_dir() / "Green_test"
    assert Path(imported["folder"]) == folder and (folder / "pack.json").is_file()
    assert folder.stat().st_mode & 0o777 == 0o755  # a pack folder's usual mode, not mkdtemp's 0700
    assert "Green test" in discover_packs()[0]  # the engine's own discovery finds it
    assert not [p for p in user_packs_dir().iterdir() if p.name.startswith(".")]  # no staging folder left
    # the pack in use cannot be removed; another can
    studio.post(f"{API}/commands", json={"command": "pack", "name": "Green test"})
    refused = studio.post(f"{API}/packs/remove", json={"name": "Green test"})
    assert refused.status_code == 409 and "pick another pack first" in refused.json()["error"]
    studio.post(f"{API}/commands", json={"command": "pack", "name": "classic"})
    removed = studio.post(f"{API}/packs/remove", json={"name": "Green test"})
    assert removed.status_code == 200 and not folder.exists()


def test_a_pack_with_the_same_name_is_refused(studio):
    first = studio.post(f"{API}/packs/import", content=pack_zip("twin"))
    assert first.status_code == 201
    again = studio.post(f"{API}/packs/import", content=pack_zip("twin"))
    assert again.status_code == 409 and "exists already" in again.json()["error"]
    builtin = studio.post(f"{API}/packs/import", content=pack_zip("classic"))
    assert builtin.status_code == 409 and "built-in pack" in builtin.json()["error"]


def test_built_in_packs_cannot_be_removed(studio):
    response = studio.post(f"{API}/packs/remove", json={"name": "openmoji"})
    assert response.status_code == 403 and "built-in" in response.json()["error"]
    assert "openmoji" in discover_packs()[0]
    assert studio.post(f"{API}/packs/remove", json={"name": "nope"}).status_code == 404


def _symlink_entry(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (0o120777 << 16)  # S_IFLNK | 0777, as `zip --symlinks` writes it
    return info


@pytest.mark.parametrize("extra, words", [
    ({"../escaped.txt": b"out"}, "leaves the pack folder"),
    ({"sub/../../escaped.txt": b"out"}, "leaves the pack folder"),
    ({"/tmp/escaped.txt": b"out"}, "absolute path"),
    ({"C:/escaped.txt": b"out"}, "absolute path"),
    ({"..\\escaped.txt": b"out"}, "absolute path"),
    ({_symlink_entry("link.png", "/etc/passwd"): b"/etc/passwd"}, "symbolic link"),
])
def test_a_zip_that_leaves_the_pack_folder_or_holds_links_is_refused_before_anything_is_written(studio, home,
                                                                                                 extra, words):
    before = files_under(home)
    response = studio.post(f"{API}/packs/import", content=pack_zip("evil", extra=extra))
    assert response.status_code == 400 and words in response.json()["error"]
    assert files_under(home) == before
    assert not (home / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()


@pytest.mark.parametrize("extra, words", [
    ({"padding.bin": bytes(12 << 20)}, "like a zip bomb"),  # 12 MiB of zeros pack into about 12 KB
    ({"big.bin": bytes(17 << 20)}, "at most 16 MiB a file"),
    ({f"part{i}.bin": bytes(15 << 20) for i in range(5)}, "unpacks to 75 MiB; at most 64 MiB"),
])
def test_a_zip_bomb_is_refused(studio, home, extra, words):
    response = studio.post(f"{API}/packs/import", content=pack_zip("bomb", extra=extra))
    assert response.status_code == 413 and words in response.json()["error"]
    assert not user_packs_dir().exists() or not any(user_packs_dir().iterdir())


def test_an_oversize_upload_is_refused_before_it_is_read(studio):
    response = studio.post(f"{API}/packs/import", content=bytes(MAX_ZIP_BYTES + 1),
                           headers={"Content-Type": "application/zip"})
    assert response.status_code == 413 and "at most 32.0 MiB" in response.json()["error"]


def test_an_oversize_upload_without_a_length_is_cut_off(studio):
    def chunks():
        for _ in range(33):
            yield bytes(1 << 20)

    response = studio.post(f"{API}/packs/import", content=chunks(), headers={"Content-Type": "application/zip"})
    assert response.status_code == 413 and "larger than 32.0 MiB" in response.json()["error"]


@pytest.mark.parametrize("data, words", [
    (b"PK\x03\x04 not really", "not a zip file"),
    (None, "no image for angry"),
    ("no-manifest", "has no pack.json"),
])
def test_a_broken_pack_zip_says_what_is_wrong(studio, home, data, words):
    if data is None:
        data = pack_zip("incomplete", skip=("angry",))
    elif data == "no-manifest":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("happy.png", b"x")
        data = buffer.getvalue()
    response = studio.post(f"{API}/packs/import", content=data)
    assert response.status_code == 400 and words in response.json()["error"]
    assert ".import-" not in response.json()["error"]
    assert not user_packs_dir().exists() or not any(user_packs_dir().iterdir())


# ------------------------------------------------------------------------------------------------------- settings
def test_settings_show_the_file_its_schema_and_presets(studio):
    data = studio.get(f"{API}/settings").json()
    assert data["path"] == str(studio.config_path) and data["problem"] is None
    assert data["values"]["smoothing.time_constant_ms"] == 250.0 and data["preset"] == "balanced"
    assert set(data["presets"]) == {"off", "responsive", "balanced", "steady"}
    fields = {f["key"]: f for f in data["fields"]}
    assert fields["camera.fps"]["restart"] and fields["pack.name"]["elsewhere"]
    assert "blazeface_full" in fields["detector.model"]["choices"]
    assert fields["output.sink"]["fixed_choices"] and not fields["detector.model"]["fixed_choices"]


def test_a_settings_change_is_checked_written_and_applied(studio):
    response = studio.post(f"{API}/settings", json={"changes": {"smoothing.time_constant_ms": 400,
                                                                "detector.min_score": 0.6}})
    assert response.status_code == 200, response.text
    assert response.json()["values"]["smoothing.time_constant_ms"] == 400.0
    saved = load_config(studio.config_path)
    assert saved.smoothing.time_constant_ms == 400.0 and saved.detector.min_score == 0.6
    assert studio.engine.config == saved
    assert "smoothing.time_constant_ms" not in studio.config_path.read_text().split("time_constant_ms = 400")[0][-5:]


def test_a_preset_sets_the_three_smoothing_values(studio):
    data = studio.post(f"{API}/settings", json={"preset": "steady"}).json()
    assert data["preset"] == "steady"
    assert load_config(studio.config_path).smoothing.min_hold_ms == 800.0


@pytest.mark.parametrize("changes, field, words", [
    ({"smoothing.time_constant_ms": 99999}, "smoothing.time_constant_ms", "is out of range; allowed 0..5000"),
    ({"smoothing.switch_margin": "lots"}, "smoothing.switch_margin", "is a string, expected a number"),
    ({"camera.fps": 0}, "camera.fps", "out of range"),
    ({"output.sink": "fax"}, "output.sink", "is not allowed"),
    ({"smoothing.hold": 1}, "smoothing.hold", "is not a known setting"),
])
def test_an_invalid_value_is_named_with_its_field_and_nothing_is_saved(studio, changes, field, words):
    before = studio.config_path.read_bytes()
    response = studio.post(f"{API}/settings", json={"changes": {"detector.min_score": 0.7, **changes}})
    assert response.status_code == 400
    body = response.json()
    assert list(body["fields"]) == [field] and words in body["fields"][field]
    assert body["error"].startswith("nothing was saved")
    assert studio.config_path.read_bytes() == before and studio.engine.commands == []


def test_an_unknown_preset_or_nothing_to_change_is_refused(studio):
    response = studio.post(f"{API}/settings", json={"preset": "sleepy"})
    assert response.status_code == 400 and "unknown smoothing preset" in response.json()["error"]
    assert studio.post(f"{API}/settings", json={}).status_code == 400


def test_a_hand_edit_of_the_file_shows_on_the_next_read(studio):
    text = studio.config_path.read_text().replace("min_hold_ms = 300", "min_hold_ms = 1234")
    studio.config_path.write_text(text)
    os.utime(studio.config_path, ns=(1, 2))  # a new modification time, however coarse the file system's clock
    data = studio.get(f"{API}/settings").json()
    assert data["values"]["smoothing.min_hold_ms"] == 1234.0 and data["problem"] is None


def test_an_invalid_hand_edit_is_shown_and_the_last_good_values_stay(studio):
    text = studio.config_path.read_text().replace("min_hold_ms = 300", "min_hold_ms = -5")
    studio.config_path.write_text(text)
    os.utime(studio.config_path, ns=(3, 4))
    data = studio.get(f"{API}/settings").json()
    assert "smoothing.min_hold_ms = -5" in data["problem"] and "is out of range" in data["problem"]
    assert data["values"]["smoothing.min_hold_ms"] == 300.0
    # and a change from the page is refused while the file does not parse at all
    studio.config_path.write_text("[smoothing\n")
    response = studio.post(f"{API}/settings", json={"changes": {"smoothing.min_hold_ms": 500}})
    assert response.status_code == 409 and "TOML syntax error" in response.json()["error"]
    assert studio.config_path.read_text() == "[smoothing\n"


# ----------------------------------------------------------------------------------------------------------- live
def _frame(value: int) -> np.ndarray:
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:, :] = (value, 255 - value, 40)
    return frame


def _keep_emitting(engine, stop: threading.Event) -> None:
    value = 0
    while not stop.wait(0.02):
        value = (value + 40) % 256
        engine.emit(_frame(value), face_result(index=value))


def test_live_jpg_is_the_next_output_frame(studio):
    stop = threading.Event()
    threading.Thread(target=_keep_emitting, args=(studio.engine, stop), daemon=True).start()
    try:
        response = studio.get(f"{API}/live.jpg")
    finally:
        stop.set()
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (48, 64, 3) and abs(int(image[:, :, 2].mean()) - 40) < 8


def test_the_live_stream_sends_new_frames_and_listens_only_while_open(studio):
    recorder_only = len(studio.engine.listeners)  # the session recorder listens from the start
    stop = threading.Event()
    threading.Thread(target=_keep_emitting, args=(studio.engine, stop), daemon=True).start()
    try:
        with studio.stream("GET", f"{API}/live.mjpeg") as response:
            assert response.headers["content-type"].startswith("multipart/x-mixed-replace; boundary=")
            assert len(studio.engine.listeners) == recorder_only + 1
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if data.count(b"--emojicamframe") >= 3:
                    break
    finally:
        stop.set()
    parts = [p for p in data.split(b"--emojicamframe") if b"\r\n\r\n" in p][:2]
    images = [cv2.imdecode(np.frombuffer(p.split(b"\r\n\r\n", 1)[1], np.uint8), cv2.IMREAD_COLOR) for p in parts]
    assert len(images) == 2 and all(i is not None and i.shape == (48, 64, 3) for i in images)
    assert not np.array_equal(images[0], images[1])  # the picture changes from frame to frame
    # once the page has gone, the engine has no live-picture listener any more (the server sees the disconnect
    # on its own thread: wait for it, a bounded wait that is never reached when things work)
    gone = threading.Event()
    for _ in range(100):
        if studio.state.hub.viewers == 0:
            gone.set()
            break
        gone.wait(0.05)
    assert gone.is_set() and len(studio.engine.listeners) == recorder_only


def test_with_no_page_open_the_engine_hands_no_frames_to_the_live_picture(studio):
    studio.engine.emit(_frame(1), face_result())
    assert studio.state.hub.frames_seen == 0 and studio.state.hub.viewers == 0


# -------------------------------------------------------------------------------------------------------- analyze
def test_analyze_finds_the_face_in_a_photo(studio):
    photo = (FIXTURES / "astronaut_256.jpg").read_bytes()
    response = studio.post(f"{API}/analyze", content=photo, headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["width"], data["height"]) == (256, 256) and data["faces"]
    face = data["faces"][0]
    x0, y0, x1, y1 = face["box_xyxy"]
    assert 0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256 and face["score"] > 0.5
    assert list(face["probs"]) == list(EXPRESSION_LABELS) and sum(face["probs"].values()) == pytest.approx(1, 1e-3)
    assert face["expression"] == max(face["probs"], key=face["probs"].get)


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("data, status, words", [
    (_png_declaring(10000, 5000), 413, "10000x5000 pixels (50 megapixels); at most 40 megapixels"),
    (_png_declaring(50000, 50000), 413, "decompression bomb"),
    (b"this is text", 415, "not an image"),
    (b"", 400, "is empty"),
])
def test_analyze_refuses_bombs_and_non_images(studio, data, status, words):
    response = studio.post(f"{API}/analyze", content=data, headers={"Content-Type": "image/png"})
    assert response.status_code == status and words in response.json()["error"]


def test_analyze_refuses_an_oversize_upload(studio):
    response = studio.post(f"{API}/analyze", content=bytes((16 << 20) + 1), headers={"Content-Type": "image/png"})
    assert response.status_code == 413


# -------------------------------------------------------------------------------------------------------- session
def test_session_counts_the_expressions_shown(studio):
    for i in range(6):
        studio.engine.emit(_frame(i), face_result(emotion=Expression.HAPPY if i < 4 else Expression.SAD, index=i))
    studio.engine.emit(_frame(9), None)  # a placeholder frame counts for nothing
    data = studio.get(f"{API}/session").json()
    assert data["face_frames"] == 6 and data["frames"] == 6
    assert data["shares"]["happy"] == pytest.approx(4 / 6) and data["shares"]["sad"] == pytest.approx(2 / 6)
    assert sum(b["counts"]["happy"] for b in data["bins"]) == 4


# ---------------------------------------------------------------------------------------------------- pages, docs
@pytest.mark.parametrize("page, words", [("live", "live.mjpeg"), ("packs", "Import a pack"),
                                         ("avatar", "Save as pack"),
                                         ("settings", "Smoothing"), ("session", "This session"),
                                         ("api", "/api/v1/openapi.json")])
def test_pages(studio, page, words):
    response = studio.get(f"/{page}")
    assert response.status_code == 200 and words in response.text
    assert studio.get("/", follow_redirects=False).headers["location"] == "/live"


def test_every_api_route_is_in_the_openapi_document_and_nothing_else(studio):
    document = studio.get(f"{API}/openapi.json").json()
    assert document == openapi_document() and document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {(m, r.path) for r in studio.app.routes if getattr(r, "path", "").startswith(API) for m in r.methods
              if m != "HEAD"}
    assert documented == served == {(e.method, API + e.path) for e in ENDPOINTS}
    for ops in document["paths"].values():
        for op in ops.values():
            assert op["summary"] and "401" in op["responses"] and "403" in op["responses"]


def test_an_unknown_api_path_answers_json(studio):
    response = studio.get(f"{API}/nothing")
    assert response.status_code == 404 and "error" in response.json()
    assert studio.delete(f"{API}/status").status_code == 405


def test_every_file_the_studio_writes_is_in_the_config_or_packs_folder(studio, home):
    """Each request below writes (or is refused before writing); every file written is in the settings folder or the
    user packs folder (the Studio's reports folder is beside it: tests/test_studio_reports.py)."""
    before = files_under(home)
    requests = [
        (200, lambda: studio.post(f"{API}/settings", json={"changes": {"smoothing.min_hold_ms": 500}})),
        (200, lambda: studio.post(f"{API}/commands", json={"command": "mirror", "on": True})),
        (201, lambda: studio.post(f"{API}/packs/import", content=pack_zip("written"))),
        (400, lambda: studio.post(f"{API}/packs/import", content=pack_zip("evil", extra={"../x.txt": b"x"}))),
        (200, lambda: studio.post(f"{API}/analyze", content=(FIXTURES / "astronaut_256.jpg").read_bytes())),
        (200, lambda: studio.post(f"{API}/packs/remove", json={"name": "written"})),
        (201, lambda: studio.post(f"{API}/packs/import", content=pack_zip("kept"))),
        (201, lambda: studio.post(f"{API}/avatar/pack", json={"name": "mine", "attributes": {}})),
    ]
    for status, request in requests:
        response = request()
        assert response.status_code == status, response.text
    config_dir = studio.config_path.parent.relative_to(home)
    packs_dir = user_packs_dir().relative_to(home)
    new = files_under(home) - before
    assert new and all(Path(p).is_relative_to(config_dir) or Path(p).is_relative_to(packs_dir) for p in new), new
    assert any(Path(p).is_relative_to(packs_dir / "mine") for p in new)  # the avatar pack was written there
