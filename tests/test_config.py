"""Config schema, defaults, validation messages, the commented default file, tray edits and live reload."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from vcam_emoji.config import (
    MAX_CONFIG_BYTES,
    SMOOTHING_PRESETS,
    CameraConfig,
    Config,
    ConfigWatcher,
    SmoothingConfig,
    _toml_value,
    config_from_dict,
    config_to_dict,
    default_config_path,
    default_config_text,
    ensure_config_file,
    load_config,
    parse_config,
    smoothing_preset_changes,
    smoothing_preset_name,
    update_config_file,
)
from vcam_emoji.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def bump_mtime(path: Path, seconds: int) -> None:
    """Give the file a distinct mtime without sleeping."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 1.0) -> None:
        self.now += seconds


# --------------------------------------------------------------------------------------------------------------------
# Defaults


def test_defaults_match_the_documented_values() -> None:
    config = Config()

    assert config_to_dict(config) == {
        "pack": {"name": "twemoji"},
        "detector": {"model": "auto", "min_score": 0.5, "every_n_frames": 1},
        "classifier": {"model": "default", "rate_hz": 15.0},
        "smoothing": {"time_constant_ms": 250.0, "switch_margin": 0.15, "min_hold_ms": 300.0,
                      "neutral_margin": 0.0, "neutral_hold_ms": 100.0},
        "camera": {"device": 0, "width": 1280, "height": 720, "fps": 30.0, "mirror": False},
        "privacy": {"hide_when_no_face": True},
        "output": {"sink": "auto", "virtual_camera_name": "Emoji Cam"},
        "runtime": {"execution_provider": "auto", "threads": 1},
        "timeline": {"path": ""},
    }


def test_balanced_preset_is_the_default_and_every_preset_is_valid() -> None:
    assert set(SMOOTHING_PRESETS) == {"off", "responsive", "balanced", "steady"}
    assert tuple(SMOOTHING_PRESETS["balanced"]) == (250.0, 0.15, 300.0)
    assert smoothing_preset_name(Config().smoothing) == "balanced"
    for name, preset in SMOOTHING_PRESETS.items():
        config = Config().with_changes(smoothing_preset_changes(name))
        assert tuple(dataclasses.astuple(config.smoothing))[:3] == tuple(preset)  # the neutral keys are their own
        assert smoothing_preset_name(config.smoothing) == name
    assert smoothing_preset_name(SmoothingConfig(time_constant_ms=1234.0)) is None
    with pytest.raises(ConfigError, match="unknown smoothing preset 'wobbly'"):
        smoothing_preset_changes("wobbly")


def test_presets_cannot_be_modified() -> None:
    with pytest.raises(TypeError):
        SMOOTHING_PRESETS["off"] = (1.0, 1.0, 1.0)  # type: ignore[index]


def test_default_config_path_is_config_toml_in_the_app_folder() -> None:
    path = default_config_path()

    assert path.name == "config.toml"
    assert path.parent.name == "vcam-emoji"


def test_empty_file_and_partial_file_take_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path / "config.toml", "")) == Config()

    config = load_config(write(tmp_path / "config.toml", "[camera]\nwidth = 640\nmirror = true\n"))

    assert config.camera == CameraConfig(width=640, mirror=True)
    assert config.smoothing == SmoothingConfig()


def test_ints_are_accepted_for_floats_and_stored_as_floats(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "config.toml", "[smoothing]\ntime_constant_ms = 500\n[camera]\nfps = 60\n"))

    assert config.smoothing.time_constant_ms == 500.0 and isinstance(config.smoothing.time_constant_ms, float)
    assert isinstance(config.camera.fps, float)


def test_camera_device_may_be_a_name(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "config.toml", '[camera]\ndevice = "/dev/video2"\n'))

    assert config.camera.device == "/dev/video2"


def test_sections_validate_when_built_in_code() -> None:
    with pytest.raises(ConfigError, match=r"smoothing\.switch_margin = 2\.0 is out of range; allowed 0\.\.1"):
        SmoothingConfig(switch_margin=2.0)
    with pytest.raises(ConfigError, match="smoothing.min_hold_ms"):
        dataclasses.replace(Config().smoothing, min_hold_ms=-1.0)
    with pytest.raises(ConfigError, match="Config.camera: expected CameraConfig"):
        Config(camera=SmoothingConfig())  # type: ignore[arg-type]


def test_with_changes_validates_and_rejects_unknown_keys() -> None:
    config = Config().with_changes({"pack.name": "classic", "camera.width": 640})

    assert config.pack.name == "classic" and config.camera.width == 640
    with pytest.raises(ConfigError, match=r'pack\.nmae is not a known setting \(did you mean "pack\.name"\?\)'):
        Config().with_changes({"pack.nmae": "x"})
    with pytest.raises(ConfigError, match="camera.width = 8 is out of range"):
        Config().with_changes({"camera.width": 8})


# --------------------------------------------------------------------------------------------------------------------
# The commented default file


def test_default_file_is_written_with_comments_and_parses_back_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "folder" / "config.toml"

    assert ensure_config_file(path) == path

    text = path.read_text(encoding="utf-8")
    assert load_config(path) == Config()
    assert text == default_config_text()
    for section, keys in config_to_dict(Config()).items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"\n{key} = " in text
    comment_lines = [line for line in text.splitlines() if line.startswith("#")]
    assert sum(line.startswith("# Allowed: ") for line in comment_lines) == sum(
        len(keys) for keys in config_to_dict(Config()).values())
    assert '# Allowed: one of "auto", "vcam", "preview", "file", "none". Default: "auto".' in text
    assert "# Allowed: 0..5000 (milliseconds). Default: 250.0." in text
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left behind


def test_default_file_is_never_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "# mine\n[pack]\nname = \"classic\"\n")

    ensure_config_file(path)

    assert path.read_text(encoding="utf-8") == "# mine\n[pack]\nname = \"classic\"\n"


def test_ensure_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()

    with pytest.raises(ConfigError, match="expected a configuration file"):
        ensure_config_file(tmp_path / "config.toml")


# --------------------------------------------------------------------------------------------------------------------
# Validation messages

BAD_VALUES = [
    # (file text, expected substrings besides the file name)
    ("[smoothing]\ntime_constant_ms = -5",
     ["smoothing.time_constant_ms = -5 is out of range; allowed 0..5000 (milliseconds)"]),
    ("[smoothing]\nswitch_margin = 1.5", ["smoothing.switch_margin = 1.5", "out of range", "0..1"]),
    ("[smoothing]\nmin_hold_ms = 10001", ["smoothing.min_hold_ms = 10001", "0..10000 (milliseconds)"]),
    ("[smoothing]\ntime_constant_ms = nan", ["smoothing.time_constant_ms = nan", "out of range"]),
    ("[smoothing]\ntime_constant_ms = \"fast\"", ['time_constant_ms = "fast" is a string, expected a number']),
    ("[detector]\nmin_score = true", ["detector.min_score = true is a boolean, expected a number", "0..1"]),
    ("[detector]\nevery_n_frames = 0", ["detector.every_n_frames = 0 is out of range; allowed 1..10 (frames)"]),
    ("[detector]\nevery_n_frames = 2.0", ["detector.every_n_frames = 2.0 is a float, expected an integer"]),
    ("[detector]\nmodel = \"\"", ['detector.model = "" is empty', 'allowed "auto"']),
    ("[detector]\nmodel = \"faces/face.tflite\"", ["detector.model", "not an .onnx file"]),
    ("[classifier]\nmodel = 3", ["classifier.model = 3 is an integer", '"default"']),
    ("[pack]\nname = \"\"", ['pack.name = "" is empty; allowed a non-empty string']),
    ("[camera]\ndevice = -1", ["camera.device = -1 is negative; allowed an integer >= 0 or a non-empty device name"]),
    ("[camera]\ndevice = true", ["camera.device = true is a boolean"]),
    ("[camera]\nwidth = 8", ["camera.width = 8 is out of range; allowed 16..7680 (pixels)"]),
    ("[camera]\nheight = 5000", ["camera.height = 5000", "16..4320 (pixels)"]),
    ("[camera]\nwidth = true", ["camera.width = true is a boolean, expected an integer"]),
    ("[camera]\nfps = 0.5", ["camera.fps = 0.5 is out of range; allowed 1..240 (frames per second)"]),
    ("[camera]\nmirror = 1", ["camera.mirror = 1 is an integer; allowed true or false"]),
    ("[output]\nsink = \"obs\"", ['output.sink = "obs" is not allowed', '"auto", "vcam", "preview", "file", "none"']),
    ("[output]\nvirtual_camera_name = [1, 2]", ["output.virtual_camera_name = [1, 2] is an array"]),
    ("[runtime]\nexecution_provider = \"tpu\"", ['runtime.execution_provider = "tpu"', '"cpu", "cuda", "directml"']),
    ("[runtime]\nthreads = 65", ["runtime.threads = 65 is out of range; allowed 0..64 (threads)"]),
    ("[timeline]\npath = false", ["timeline.path = false is a boolean", 'a file path, or "" for off']),
    ("[detector]\nmodle = \"auto\"", ['detector.modle = "auto" is not a known setting (did you mean "model"?)',
                                      "[detector] has: model, min_score, every_n_frames"]),
    ("[smoothng]\nmin_hold_ms = 1", ['[smoothng] is not a known section (did you mean "smoothing"?)',
                                     "allowed sections: pack, detector"]),
    ("name = \"classic\"", ['name = "classic" is outside any section', "[pack]"]),
    ("pack = \"classic\"", ['pack = "classic" must be a section [pack]']),
    ("[camera.extra]\nx = 1", ["camera.extra = { x = 1 } is not a known setting"]),
]


@pytest.mark.parametrize(("text", "expected"), BAD_VALUES, ids=[t.replace("\n", " ") for t, _ in BAD_VALUES])
def test_bad_values_name_file_key_value_and_what_is_allowed(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "config.toml", text + "\n")

    with pytest.raises(ConfigError) as info:
        load_config(path)

    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for part in expected:
        assert part in message


def test_all_problems_are_reported_together_one_per_line(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", (
        "[smoothing]\ntime_constant_ms = -5\nswitch_margin = 2\n"
        "[camera]\nwidth = \"wide\"\n"
        "[output]\nsink = \"obs\"\n"
        "[colours]\n"
    ))

    with pytest.raises(ConfigError) as info:
        load_config(path)

    lines = str(info.value).splitlines()
    assert len(lines) == 5
    assert all(line.startswith(f"{path}: ") for line in lines)
    for key in ("smoothing.time_constant_ms", "smoothing.switch_margin", "camera.width", "output.sink", "[colours]"):
        assert sum(key in line for line in lines) == 1


@pytest.mark.parametrize(("text", "where"), [
    ("[pack]\nname = \"twemoji\"\n[camera]\nwidth = 12 80\n", "line 4"),
    ("[pack]\nname = \"unterminated\n", "line 2"),
    ("[pack]\nname = \"a\"\nname = \"b\"\n", "line 3"),
])
def test_toml_syntax_errors_give_the_line_number(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path / "config.toml", text)

    with pytest.raises(ConfigError) as info:
        load_config(path)

    assert str(info.value).startswith(f"{path}: TOML syntax error at {where}")


def test_missing_and_non_utf8_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.toml")
    (tmp_path / "latin1.toml").write_bytes(b"[pack]\nname = \"caf\xe9\"\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "latin1.toml")


def test_a_utf8_bom_is_tolerated(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_bytes(b"\xef\xbb\xbf[pack]\nname = \"classic\"\n")

    assert load_config(tmp_path / "config.toml").pack.name == "classic"


def test_config_from_dict_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^tray: runtime\.threads = -1 is out of range"):
        config_from_dict({"runtime": {"threads": -1}}, source="tray")


# --------------------------------------------------------------------------------------------------------------------
# update_config_file

USER_FILE = """\
# my own notes at the top
[pack]
name = "twemoji"   # the pack I like

# smoothing: tuned by hand
[smoothing]
time_constant_ms = 250.0 # calm
min_hold_ms = [
  300,  # a wrong multi-line value would be replaced whole
]

[camera]
# keep the old webcam
device = "/dev/video2"
width = 640
"""


def test_update_replaces_values_and_keeps_comments_and_other_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", USER_FILE.replace("min_hold_ms = [\n  300,  # a wrong multi-line value "
                                                             "would be replaced whole\n]", "min_hold_ms = 300"))

    config = update_config_file(path, {"pack.name": "classic", "smoothing.time_constant_ms": 500})

    text = path.read_text(encoding="utf-8")
    assert text == (
        "# my own notes at the top\n"
        "[pack]\n"
        'name = "classic"   # the pack I like\n'
        "\n"
        "# smoothing: tuned by hand\n"
        "[smoothing]\n"
        "time_constant_ms = 500.0 # calm\n"
        "min_hold_ms = 300\n"
        "\n"
        "[camera]\n"
        "# keep the old webcam\n"
        'device = "/dev/video2"\n'
        "width = 640\n"
    )
    assert config == load_config(path)
    assert config.pack.name == "classic" and config.smoothing.time_constant_ms == 500.0


def test_update_replaces_a_multi_line_value_whole(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", USER_FILE)
    with pytest.raises(ConfigError):
        load_config(path)  # min_hold_ms is an array: invalid until the tray sets it

    config = update_config_file(path, {"smoothing.min_hold_ms": 800})

    assert config.smoothing.min_hold_ms == 800.0
    assert "time_constant_ms = 250.0 # calm\nmin_hold_ms = 800.0\n\n[camera]\n" in path.read_text(encoding="utf-8")


def test_update_appends_missing_keys_to_their_section_and_missing_sections_to_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[pack]\nname = \"twemoji\"\n\n# camera next\n[camera]\nwidth = 640\n")

    config = update_config_file(path, {"pack.name": "classic", "camera.mirror": True, "smoothing.switch_margin": 0.3,
                                       "smoothing.min_hold_ms": 100})

    assert path.read_text(encoding="utf-8") == (
        "[pack]\nname = \"classic\"\n\n# camera next\n[camera]\nwidth = 640\nmirror = true\n"
        "\n[smoothing]\nswitch_margin = 0.3\nmin_hold_ms = 100.0\n"
    )
    assert config.camera.mirror is True and config.smoothing.switch_margin == 0.3


def test_update_of_a_section_with_only_a_comment_adds_the_key_to_that_section(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[runtime]\n# nothing here yet\n\n[pack]\nname = \"x\"\n")

    update_config_file(path, {"runtime.threads": 4})

    assert path.read_text(encoding="utf-8") == "[runtime]\n# nothing here yet\nthreads = 4\n\n[pack]\nname = \"x\"\n"


def test_hand_edits_of_the_commented_file_survive_tray_updates(tmp_path: Path) -> None:
    # Given the commented default file, edited by hand: [camera] moved to the top with a note, a key commented out,
    # a value changed with a trailing comment, and a note at the end
    default = default_config_text()
    camera = default[default.index("[camera]"):default.index("\n[output]")]
    edited = ("# my notes\n" + camera.replace("mirror = false", "mirror = true  # I like it flipped") + "\n"
              + default.replace(camera + "\n", "").replace("every_n_frames = 1", "# every_n_frames = 1")
              + "# the end\n")
    path = write(tmp_path / "config.toml", edited)
    # When the tray sets a pack and a smoothing preset other than the defaults
    pack = next(name for name in ("openmoji", "classic") if name != Config().pack.name)
    changes = {"pack.name": pack, **smoothing_preset_changes("steady")}
    update_config_file(path, changes)
    # Then exactly those values changed; every comment, blank line and the order of the rest stay
    expected = edited
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        before = f"\n{key} = {_toml_value(getattr(getattr(Config(), section), key))}\n"
        assert edited.count(before) == 1 and value != getattr(getattr(Config(), section), key)
        expected = expected.replace(before, f"\n{key} = {_toml_value(value)}\n")
    assert path.read_text(encoding="utf-8") == expected
    assert load_config(path).camera.mirror is True


def test_update_handles_quoted_and_dotted_keys_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'output.sink = "preview"\r\n[ "camera" ]\r\n"fps" = 30 # hz\r\n')

    update_config_file(path, {"output.sink": "none", "camera.fps": 60})

    assert path.read_bytes() == b'output.sink = "none"\r\n[ "camera" ]\r\n"fps" = 60.0 # hz\r\n'


def test_update_does_not_mistake_strings_for_comments_or_headers(tmp_path: Path) -> None:
    text = ('[output]\nvirtual_camera_name = "Cam # 1" # named\n'
            '[timeline]\npath = """\n[pack]\nname = "x"\n"""\n[pack]\nname = "a#b"\n')
    path = write(tmp_path / "config.toml", text)
    assert load_config(path).timeline.path == '[pack]\nname = "x"\n'  # a string that looks like a section

    update_config_file(path, {"output.virtual_camera_name": "Emoji", "pack.name": "b", "timeline.path": "t.jsonl"})

    assert path.read_text(encoding="utf-8") == (
        '[output]\nvirtual_camera_name = "Emoji" # named\n[timeline]\npath = "t.jsonl"\n[pack]\nname = "b"\n')


@pytest.mark.parametrize(("changes", "expected"), [
    ({"smoothing.time_constant_ms": -5}, "smoothing.time_constant_ms = -5 is out of range; allowed 0..5000"),
    ({"output.sink": "obs"}, 'output.sink = "obs" is not allowed'),
    ({"camera.widht": 640}, 'camera.widht is not a known setting (did you mean "camera.width"?)'),
    ({"camera.mirror": "yes"}, 'camera.mirror = "yes" is a string; allowed true or false'),
])
def test_update_rejects_invalid_values_without_touching_the_file(
    tmp_path: Path, changes: dict[str, object], expected: str
) -> None:
    path = write(tmp_path / "config.toml", USER_FILE.replace("[\n  300,  # a wrong multi-line value would be "
                                                             "replaced whole\n]", "300"))
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns

    with pytest.raises(ConfigError) as info:
        update_config_file(path, {"pack.name": "classic", **changes})

    assert expected in str(info.value) and str(path) in str(info.value)
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_update_refuses_when_other_problems_would_remain(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[camera]\nwidth = 1\n")

    with pytest.raises(ConfigError, match=r"not changed, because the result would be invalid:\n.*camera\.width = 1"):
        update_config_file(path, {"pack.name": "classic"})

    assert path.read_text(encoding="utf-8") == "[camera]\nwidth = 1\n"


def test_update_refuses_a_file_with_a_toml_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[pack\nname = 1\n")

    with pytest.raises(ConfigError, match="TOML syntax error at line 1"):
        update_config_file(path, {"pack.name": "classic"})

    assert path.read_text(encoding="utf-8") == "[pack\nname = 1\n"


def test_update_of_an_inline_table_edits_it_in_place(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "pack = { name = \"twemoji\" } # inline\n")

    update_config_file(path, {"pack.name": "classic"})

    assert path.read_text(encoding="utf-8") == "pack = { name = \"classic\" } # inline\n"


def test_update_of_a_value_where_a_section_belongs_is_refused_not_garbled(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "pack = 3\n")

    with pytest.raises(ConfigError, match=r"not changed: pack = 3 is not a section \[pack\]"):
        update_config_file(path, {"pack.name": "classic"})

    assert path.read_text(encoding="utf-8") == "pack = 3\n"


def test_update_creates_the_commented_default_file_first(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"

    config = update_config_file(path, {"camera.mirror": True})

    text = path.read_text(encoding="utf-8")
    assert config == Config(camera=CameraConfig(mirror=True))
    assert "mirror = true\n" in text and "# Flip the picture horizontally" in text
    assert tomllib.loads(text)["camera"]["mirror"] is True


# --------------------------------------------------------------------------------------------------------------------
# ConfigWatcher


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Config] = []
        self.errors: list[ConfigError] = []


def make_watcher(path: Path, clock: FakeClock) -> tuple[ConfigWatcher, Recorder]:
    seen = Recorder()
    watcher = ConfigWatcher(path, clock=clock, on_change=seen.changes.append, on_error=seen.errors.append)
    return watcher, seen


def test_watcher_applies_a_valid_change(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[pack]\nname = \"twemoji\"\n")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)
    assert watcher.current.pack.name == "twemoji"
    assert watcher.poll() is None  # nothing changed

    write(path, "[pack]\nname = \"classic\"\n")
    bump_mtime(path, 1)
    clock.advance()
    new = watcher.poll()

    assert new is not None and new.pack.name == "classic"
    assert watcher.current is new and seen.changes == [new] and seen.errors == []
    clock.advance()
    assert watcher.poll() is None


def test_watcher_checks_the_file_at_most_once_per_interval(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)
    watcher.poll()

    write(path, "[camera]\nmirror = true\n")
    bump_mtime(path, 1)
    clock.advance(0.5)
    assert watcher.poll() is None  # too soon
    assert watcher.poll(force=True) is not None
    assert watcher.current.camera.mirror is True


def test_watcher_keeps_last_good_on_bad_edit_reports_once_and_applies_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[smoothing]\ntime_constant_ms = 250\n")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)
    good = watcher.current

    write(path, "[smoothing]\ntime_constant_ms = -5\n")
    bump_mtime(path, 1)
    clock.advance()
    assert watcher.poll() is None
    assert watcher.current is good
    assert len(seen.errors) == 1 and "smoothing.time_constant_ms = -5 is out of range" in str(seen.errors[0])
    assert watcher.last_error is seen.errors[0]

    bump_mtime(path, 2)  # same bad content, touched again
    clock.advance()
    assert watcher.poll() is None
    assert len(seen.errors) == 1

    write(path, "[smoothing]\ntime_constant_ms = 250\nswitch_margin = 9\n")  # a different bad content
    bump_mtime(path, 3)
    clock.advance()
    assert watcher.poll() is None
    assert len(seen.errors) == 2 and "smoothing.switch_margin = 9" in str(seen.errors[1])

    write(path, "[smoothing]\ntime_constant_ms = 400\n")
    bump_mtime(path, 4)
    clock.advance()
    fixed = watcher.poll()

    assert fixed is not None and fixed.smoothing.time_constant_ms == 400.0
    assert watcher.current is fixed and watcher.last_error is None
    assert seen.changes == [fixed]
    assert path.read_text(encoding="utf-8") == "[smoothing]\ntime_constant_ms = 400\n"


def test_watcher_reports_a_syntax_error_and_never_rewrites_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[pack]\nname = \"twemoji\"\n")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)

    write(path, "[pack]\nname = \n")
    bump_mtime(path, 1)
    clock.advance()
    watcher.poll()

    assert len(seen.errors) == 1 and "TOML syntax error at line 2" in str(seen.errors[0])
    assert path.read_text(encoding="utf-8") == "[pack]\nname = \n"
    assert watcher.current.pack.name == "twemoji"


def test_watcher_keeps_last_good_when_the_file_is_deleted_and_reloads_when_it_returns(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[camera]\nwidth = 640\n")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)

    path.unlink()
    for _ in range(3):
        clock.advance()
        assert watcher.poll() is None

    assert watcher.current.camera.width == 640
    assert len(seen.errors) == 1 and "deleted" in str(seen.errors[0]) and str(path) in str(seen.errors[0])
    assert not path.exists()  # not recreated behind the user's back

    write(path, "[camera]\nwidth = 800\n")
    clock.advance()
    back = watcher.poll()
    assert back is not None and back.camera.width == 800 and watcher.last_error is None


def test_watcher_keeps_last_good_when_the_file_grows_over_the_limit_and_never_reads_it(tmp_path: Path) -> None:
    original = "[camera]\nwidth = 640\n"
    path = write(tmp_path / "config.toml", original)
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)
    good = watcher.current

    os.truncate(path, 64 << 20)  # a sparse 64 MiB: the same file, grown
    bump_mtime(path, 1)
    for _ in range(3):
        clock.advance()
        assert watcher.poll() is None

    assert watcher.current is good and seen.changes == []
    assert len(seen.errors) == 1 and str(watcher.last_error) == str(seen.errors[0])  # reported once
    assert str(seen.errors[0]) == (
        f"{path}: the configuration file is 64 MiB (67108864 bytes), more than the limit of 1 MiB; a settings file "
        "is a few KB (the default one is about 6 KB): check that this is the right file, or cut it down to the "
        "settings you change")
    assert path.stat().st_size == 64 << 20  # never rewritten

    write(path, original)  # put back exactly as it was: the problem is gone, nothing to apply
    bump_mtime(path, 2)
    clock.advance()
    assert watcher.poll() is None and watcher.last_error is None and watcher.current is good

    write(path, "[camera]\nwidth = 800\n")
    bump_mtime(path, 3)
    clock.advance()
    new = watcher.poll()
    assert new is not None and new.camera.width == 800 and seen.changes == [new]


def test_watcher_refuses_to_start_on_a_file_over_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "#" * (MAX_CONFIG_BYTES + 1))

    with pytest.raises(ConfigError, match=r"is 1 MiB \(1048577 bytes\), more than the limit of 1 MiB"):
        ConfigWatcher(path)


def test_tray_edit_of_a_file_over_the_limit_changes_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "#" * (MAX_CONFIG_BYTES + 1))

    with pytest.raises(ConfigError, match="more than the limit of 1 MiB"):
        update_config_file(path, {"camera.mirror": True})
    assert path.read_text(encoding="utf-8") == "#" * (MAX_CONFIG_BYTES + 1)


def test_watcher_ignores_a_touch_without_a_change(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[camera]\nwidth = 640\n")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)

    bump_mtime(path, 5)
    clock.advance()

    assert watcher.poll() is None and seen.changes == [] and seen.errors == []


def test_watcher_with_initial_config_reloads_only_a_different_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[camera]\nwidth = 640\n")
    clock = FakeClock()
    watcher = ConfigWatcher(path, clock=clock, initial=load_config(path))

    assert watcher.poll() is None  # the first poll reads the file: same config

    write(path, "[camera]\nwidth = 320\n")
    bump_mtime(path, 1)
    clock.advance()
    assert watcher.poll() == Config(camera=CameraConfig(width=320))


def test_watcher_sees_tray_updates(tmp_path: Path) -> None:
    path = ensure_config_file(tmp_path / "config.toml")
    clock = FakeClock()
    watcher, seen = make_watcher(path, clock)

    update_config_file(path, smoothing_preset_changes("steady"))
    clock.advance()
    new = watcher.poll()

    assert new is not None and smoothing_preset_name(new.smoothing) == "steady"


def test_watcher_refuses_to_start_on_an_invalid_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[camera]\nwidth = 1\n")

    with pytest.raises(ConfigError, match="camera.width = 1"):
        ConfigWatcher(path)


def test_parse_config_names_the_source() -> None:
    with pytest.raises(ConfigError, match=r"^settings\.toml: \[x\] is not a known section"):
        parse_config("[x]\n", source="settings.toml")
