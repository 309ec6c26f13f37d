"""One bad user pack folder or file never takes the other packs, or any command, down with it (issue 20).

Each case: the bad pack is reported once, naming its file and a fix; the good packs still load; `packs list`,
`packs validate` and `doctor` exit with their usual code and print no traceback. Also the manifest's JSON Schema
(issue 19): it ships beside the code and is what checks a pack.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from test_packs import make_pack
from vcam_emoji import packs as packs_module
from vcam_emoji.cli import main
from vcam_emoji.errors import PackError
from vcam_emoji.packs import (
    DEFAULT_PACK,
    MAX_JSON_DEPTH,
    MAX_MANIFEST_BYTES,
    SCHEMA_PATH,
    PackWatcher,
    discover_packs,
    json_depth,
    load_pack,
)


@pytest.fixture
def user_root(tmp_path, monkeypatch) -> Path:
    """An isolated user data folder with one good user pack; returns the user packs folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    root = packs_module.user_packs_dir()
    make_pack(root / "good", name="good")
    return root


def _deep(folder: Path) -> str:
    # 30000 deep fits under the size limit and makes json.loads itself raise RecursionError
    (folder / "pack.json").write_text("[" * 30000 + "]" * 30000, encoding="utf-8")
    return "nested 30000 levels deep"


def _deep_inside_an_object(folder: Path) -> str:
    manifest = json.loads((folder / "pack.json").read_text())
    text = json.dumps(manifest)[:-1] + ', "extra": ' + "{\"a\": " * 20 + "1" + "}" * 20 + "}"
    (folder / "pack.json").write_text(text, encoding="utf-8")
    return "nested 21 levels deep"


def _huge(folder: Path) -> str:
    with open(folder / "pack.json", "wb") as f:
        f.write(b"{" + b" " * (MAX_MANIFEST_BYTES + 10) + b"}")
    return f"more than {MAX_MANIFEST_BYTES} bytes"


def _nan_face_box(folder: Path) -> str:
    manifest = json.loads((folder / "pack.json").read_text())
    text = json.dumps(manifest)[:-1] + ', "face_box": [0, 0, NaN, 1]}'
    (folder / "pack.json").write_text(text, encoding="utf-8")
    return "NaN"


def _face_box_out_of_range(folder: Path) -> str:
    manifest = json.loads((folder / "pack.json").read_text())
    manifest["face_box"] = [0.1, 0.1, 1.5, 0.9]
    (folder / "pack.json").write_text(json.dumps(manifest), encoding="utf-8")
    return "face_box must be 4 numbers from 0 to 1"


def _face_box_inverted(folder: Path) -> str:
    manifest = json.loads((folder / "pack.json").read_text())
    manifest["face_box"] = [0.8, 0.1, 0.2, 0.9]
    (folder / "pack.json").write_text(json.dumps(manifest), encoding="utf-8")
    return "empty or inverted"


def _not_utf8(folder: Path) -> str:
    (folder / "pack.json").write_bytes(b'{"name": "\xff\xfe"}')
    return "not UTF-8"


def _manifest_is_a_fifo(folder: Path) -> str:
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    (folder / "pack.json").unlink()
    os.mkfifo(folder / "pack.json")  # reading it would block for ever
    return "manifest is missing"


BAD_FILES = {
    "30000-deep manifest": _deep,
    "deep value inside the manifest": _deep_inside_an_object,
    "manifest over the size limit": _huge,
    "NaN in the manifest": _nan_face_box,
    "face_box out of range": _face_box_out_of_range,
    "face_box inverted": _face_box_inverted,
    "manifest not UTF-8": _not_utf8,
    "manifest is a named pipe": _manifest_is_a_fifo,
}


@pytest.mark.parametrize("breaker", BAD_FILES.values(), ids=list(BAD_FILES))
def test_bad_manifest_is_one_pack_error_and_the_others_load(tmp_path, breaker) -> None:
    root = tmp_path / "packs"
    make_pack(root / "a", name="a")
    expected = breaker(make_pack(root / "bad", name="bad"))
    with pytest.raises(PackError, match="pack.json") as info:
        load_pack(root / "bad")
    assert expected in str(info.value) and ";" in str(info.value)
    packs, errors = discover_packs([root])
    assert list(packs) == ["a"]
    assert len(errors) == 1 and expected in str(errors[0])


def _deny_reading(monkeypatch, folder: Path) -> None:
    """Make everything inside ``folder`` fail as an unreadable folder does for a normal user (tests may run as
    root, for whom chmod 000 changes nothing)."""
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if self != folder and folder in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)


def test_unreadable_pack_folder_is_reported_and_the_others_load(tmp_path, monkeypatch) -> None:
    root = tmp_path / "packs"
    make_pack(root / "a", name="a")
    bad = make_pack(root / "locked", name="locked")
    _deny_reading(monkeypatch, bad)
    packs, errors = discover_packs([root])
    assert list(packs) == ["a"]
    assert len(errors) == 1
    assert "locked" in str(errors[0]) and "Permission denied" in str(errors[0]) and "permissions" in str(errors[0])


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root reads any folder whatever its permissions; the fault-injected test above covers it")
def test_unreadable_pack_folder_for_real(tmp_path) -> None:
    root = tmp_path / "packs"
    make_pack(root / "a", name="a")
    bad = make_pack(root / "locked", name="locked")
    bad.chmod(0)
    try:
        packs, errors = discover_packs([root])
    finally:
        bad.chmod(0o755)
    assert list(packs) == ["a"] and len(errors) == 1 and "locked" in str(errors[0])


def test_unreadable_image_is_reported(tmp_path, monkeypatch) -> None:
    folder = make_pack(tmp_path / "p", name="p")
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if Path(file).name == "fear.png":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    with pytest.raises(PackError, match="fear.png.*cannot be read.*permissions"):
        load_pack(folder)


def test_image_over_the_byte_limit_is_refused_before_decoding(tmp_path, monkeypatch) -> None:
    folder = make_pack(tmp_path / "p", name="p")
    monkeypatch.setattr(packs_module, "MAX_IMAGE_BYTES", 100)
    with pytest.raises(PackError, match="more than 100"):
        load_pack(folder)


CASES = {"deep": _deep, "huge": _huge, "not utf8": _not_utf8}


def _bad_user_pack(root: Path, case: str, monkeypatch) -> Path:
    if case == "unreadable":
        folder = make_pack(root / "bad", name="bad")
        _deny_reading(monkeypatch, folder)
        return folder
    folder = make_pack(root / "bad", name="bad")
    CASES[case](folder)
    return folder


@pytest.mark.parametrize("case", ["deep", "huge", "not utf8", "unreadable"])
def test_packs_list_survives_one_bad_user_pack(user_root, case, monkeypatch, capsys) -> None:
    _bad_user_pack(user_root, case, monkeypatch)
    assert main(["packs", "list"]) == 0
    out, err = capsys.readouterr()
    assert "good" in out and "twemoji" in out
    assert "Traceback" not in err and err.count("broken pack:") == 1 and "bad" in err


@pytest.mark.parametrize("case", ["deep", "huge", "unreadable"])
def test_packs_validate_a_bad_pack_is_one_message(user_root, case, monkeypatch, capsys) -> None:
    folder = _bad_user_pack(user_root, case, monkeypatch)
    assert main(["packs", "validate", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1 and str(folder) in err


@pytest.mark.parametrize("case", ["deep", "unreadable"])
def test_doctor_survives_one_bad_user_pack(user_root, case, monkeypatch, capsys) -> None:
    fakes = dict(list_cameras=lambda **kw: [], describe_backends=lambda **kw: [])
    from vcam_emoji import doctor

    real = doctor.diagnose
    monkeypatch.setattr(doctor, "diagnose", lambda path, **kw: real(path, **fakes))
    code_before = main(["doctor"])
    capsys.readouterr()
    _bad_user_pack(user_root, case, monkeypatch)
    assert main(["doctor"]) == code_before  # a broken user pack is reported, but not needed
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "bad" in out and "good (user" in out


# --------------------------------------------------------------------------------------------------------------------
# the schema and the limits


def test_schema_ships_beside_the_code_and_is_valid() -> None:
    import jsonschema

    assert SCHEMA_PATH.parent == Path(packs_module.__file__).resolve().parent
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert sorted(schema["properties"]["images"]["required"]) == sorted(
        ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])


def test_builtin_manifests_match_the_schema() -> None:
    import jsonschema

    from vcam_emoji.resources import packs_dir

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    manifests = sorted(packs_dir().glob("*/pack.json"))
    assert len(manifests) >= 3, f"the built-in packs (classic, openmoji, twemoji) are missing from {packs_dir()}"
    for manifest in manifests:
        jsonschema.validate(json.loads(manifest.read_text(encoding="utf-8")), schema)


@pytest.mark.parametrize("text, depth", [("{}", 1), ('{"a": [1, {"b": 2}]}', 3), ('{"a": "[[[[{{"}', 1),
                                         ('["\\"[[["]', 1), ("1", 0), ("[" * 50 + "]" * 50, 50)])
def test_json_depth_skips_strings(text, depth) -> None:
    assert json_depth(text) == depth


def test_depth_limit_leaves_room_for_avatar_manifests() -> None:
    manifest = {"name": "x", "images": {}, "avatar": {"attributes": {"hair": "bob"}}}
    assert json_depth(json.dumps(manifest)) < MAX_JSON_DEPTH


def test_face_box_is_read_and_defaults_to_the_whole_image(tmp_path) -> None:
    assert load_pack(make_pack(tmp_path / "plain", name="plain")).face_box == (0.0, 0.0, 1.0, 1.0)
    boxed = load_pack(make_pack(tmp_path / "boxed", name="boxed", face_box=[0.25, 0.2, 0.75, 0.7]))
    assert boxed.face_box == (0.25, 0.2, 0.75, 0.7)


def test_the_one_default_pack_is_the_config_default_and_is_built_in() -> None:
    from vcam_emoji.config import Config
    from vcam_emoji.resources import packs_dir

    assert Config().pack.name == DEFAULT_PACK
    assert load_pack(packs_dir() / DEFAULT_PACK).name == DEFAULT_PACK


# --------------------------------------------------------------------------------------------------------------------
# PackWatcher


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_pack_watcher_notices_a_replaced_folder_once(tmp_path) -> None:
    folder = make_pack(tmp_path / "p", name="p")
    clock = Clock()
    watcher = PackWatcher(folder, interval_s=1.0, clock=clock)
    assert not watcher.poll()
    staged = make_pack(tmp_path / ".p.new", name="p")
    os.replace(folder, tmp_path / ".p.old")
    os.replace(staged, folder)
    assert not watcher.poll()  # not yet time to look
    clock.t = 1.5
    assert watcher.poll()
    clock.t = 3.0
    assert not watcher.poll()  # once per change


def test_pack_watcher_on_a_vanished_folder_does_not_raise(tmp_path) -> None:
    folder = make_pack(tmp_path / "p", name="p")
    clock = Clock()
    watcher = PackWatcher(folder, clock=clock)
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    clock.t = 2.0
    assert watcher.poll()
    clock.t = 4.0
    assert not watcher.poll()
