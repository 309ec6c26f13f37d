"""The configuration: schema, defaults, validation, the commented default file, tray edits and live reload.

The user's file is TOML with these sections (every key is optional; a missing key takes its default)::

    [pack]        name
    [detector]    model, min_score, every_n_frames
    [classifier]  model, rate_hz
    [smoothing]   time_constant_ms, switch_margin, min_hold_ms, neutral_margin, neutral_hold_ms
    [camera]      device, width, height, fps, mirror
    [privacy]     hide_when_no_face
    [output]      sink, virtual_camera_name
    [runtime]     execution_provider, threads
    [timeline]    path

The schema lives in one place: the ``metadata`` of the dataclass fields below (type, range, unit, help text). The
loader, the dataclass checks, the commented default file and the error messages are all generated from it.

Rules for the user's file: it is written once, on first run (``ensure_config_file``), and never rewritten behind the
user's back. ``update_config_file`` (used by the tray) changes only the values of the keys it is asked to set (with tomlkit, which
keeps every comment, blank line and the order of the rest).
``ConfigWatcher`` reloads the file when it changes and keeps the last good configuration when an edit is invalid.
Every read of the file goes through ``_read_bytes``, which refuses a file over ``MAX_CONFIG_BYTES`` before reading it.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import logging
import math
import os
import re
import stat
import sys
import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import platformdirs
import tomlkit
from tomlkit.exceptions import TOMLKitError

from .errors import ConfigError, OutputError
from .packs import DEFAULT_PACK

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

log = logging.getLogger(__name__)

APP_NAME = "vcam-emoji"
CONFIG_FILE_NAME = "config.toml"
MAX_CONFIG_BYTES = 1 << 20  # 1 MiB; the commented default file is about 6 KB


# --------------------------------------------------------------------------------------------------------------------
# Schema


@dataclass(frozen=True)
class _Spec:
    """How one key is checked and documented."""

    kind: str  # "str", "int", "float", "bool", "device" (int >= 0 or non-empty str), "model" (name or .onnx path)
    help: str
    low: float | None = None
    high: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    non_empty: bool = False
    allowed_text: str = ""  # overrides the generated "allowed ..." text

    def allowed(self) -> str:
        if self.allowed_text:
            return self.allowed_text
        if self.choices:
            return "one of " + ", ".join(f'"{c}"' for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind in ("int", "float") and self.low is not None and self.high is not None:
            unit = f" ({self.unit})" if self.unit else ""
            return f"{_number_text(self.low)}..{_number_text(self.high)}{unit}"
        if self.kind == "str":
            return "a non-empty string" if self.non_empty else "any string"
        raise ValueError(f"spec of kind {self.kind!r} needs allowed_text")


def _key(default: Any, kind: str, help: str, **spec: Any) -> Any:
    return field(default=default, metadata={"spec": _Spec(kind=kind, help=help, **spec)})


def _spec_of(f: dataclasses.Field) -> _Spec:
    return f.metadata["spec"]


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return f"a {type(value).__name__}"


def _show(value: object, limit: int = 60) -> str:
    """A value as it would be written in TOML, shortened for messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float, str)):
        text = _toml_value(value)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v, limit) for v in value) + "]"
    elif isinstance(value, Mapping):
        text = "{ " + ", ".join(f"{k} = {_show(v, limit)}" for k, v in value.items()) + " }"
    elif hasattr(value, "isoformat"):
        text = value.isoformat()  # TOML dates and times
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml_value(value: object) -> str:
    """TOML text of a scalar (str, int, float, bool)."""
    return tomlkit.item(value).as_string()


def _check(dotted: str, spec: _Spec, value: object) -> tuple[object, str | None]:
    """Return (normalised value, None) or (value, problem) for ``dotted = value``."""
    shown = f"{dotted} = {_show(value)}"
    wrong_type = f"{shown} is {_type_name(value)}; allowed {spec.allowed()}"
    if spec.kind == "bool":
        return (value, None) if isinstance(value, bool) else (value, wrong_type)
    if spec.kind in ("int", "float"):
        accepted = (int, float) if spec.kind == "float" else (int,)
        if isinstance(value, bool) or not isinstance(value, accepted):
            expected = "a number" if spec.kind == "float" else "an integer"
            return value, f"{shown} is {_type_name(value)}, expected {expected}; allowed {spec.allowed()}"
        number = float(value) if spec.kind == "float" else value
        if not (spec.low <= number <= spec.high):  # also rejects nan and inf
            return value, f"{shown} is out of range; allowed {spec.allowed()}"
        return number, None
    if spec.kind == "device":
        if isinstance(value, int) and not isinstance(value, bool):
            return (value, None) if value >= 0 else (value, f"{shown} is negative; allowed {spec.allowed()}")
        if isinstance(value, str):
            return (value, None) if value.strip() else (value, f"{shown} is empty; allowed {spec.allowed()}")
        return value, wrong_type
    # "str" and "model"
    if not isinstance(value, str):
        return value, wrong_type
    if spec.choices and value not in spec.choices:
        return value, f"{shown} is not allowed; allowed {spec.allowed()}"
    if (spec.non_empty or spec.kind == "model") and not value.strip():
        return value, f"{shown} is empty; allowed {spec.allowed()}"
    if spec.kind == "model" and _looks_like_path(value) and not value.lower().endswith(".onnx"):
        return value, f"{shown} is a path but not an .onnx file; allowed {spec.allowed()}"
    return value, None


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or "." in value


def _check_section(instance: object) -> None:
    """Dataclass check: normalise ints given for floats, raise ConfigError listing every bad field."""
    problems = []
    for f in dataclasses.fields(instance):
        value, problem = _check(f"{instance._section}.{f.name}", _spec_of(f), getattr(instance, f.name))
        if problem:
            problems.append(problem)
        else:
            object.__setattr__(instance, f.name, value)
    if problems:
        raise ConfigError("\n".join(problems))


@dataclass(frozen=True)
class PackConfig:
    _section = "pack"
    name: str = _key(
        DEFAULT_PACK, "str", "Emoji pack drawn over the faces: the name of an installed pack, e.g. \"twemoji\".\n"
        "Whether the pack exists is checked when Emoji Cam starts.", non_empty=True)

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class DetectorConfig:
    _section = "detector"
    model: str = _key(
        "auto", "model", "Face detector: \"auto\" (a bundled detector that suits this machine), a bundled detector\n"
        "name (\"blazeface_short\" for faces near the camera, \"blazeface_full\" for faces further away,\n"
        "\"centerface\"), or the path of an .onnx file.",
        allowed_text="\"auto\", a bundled detector name, or a path ending in .onnx")
    min_score: float = _key(
        0.5, "float", "Minimum detector confidence for a face to count; lower finds more faces, and more false ones.",
        low=0.0, high=1.0)
    every_n_frames: int = _key(
        1, "int", "Run the detector on every Nth frame only; tracking fills in the frames between.\n"
        "1 = every frame; higher values save CPU but follow fast movements less well.", low=1, high=10, unit="frames")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class ClassifierConfig:
    _section = "classifier"
    model: str = _key(
        "default", "model", "Expression classifier: \"default\" (the bundled model), a bundled model name, or the\n"
        "path of an .onnx file with its .json manifest beside it (same name, .json instead of .onnx).",
        allowed_text="\"default\", a bundled model name, or a path ending in .onnx")
    rate_hz: float = _key(
        15.0, "float", "Live: classify each face at most this many times a second (several faces take turns);\n"
        "the smoothing behaves the same in milliseconds. 0 = every face on every frame (more CPU).\n"
        "vcam-emoji render classifies every frame unless given --rate-hz.",
        low=0.0, high=240.0, unit="per second")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class SmoothingConfig:
    _section = "smoothing"
    time_constant_ms: float = _key(
        250.0, "float", "How calmly the expression follows the face: the time constant of the smoothing of the\n"
        "expression probabilities. 0 = off (every frame on its own); higher = steadier but slower.",
        low=0.0, high=5000.0, unit="milliseconds")
    switch_margin: float = _key(
        0.15, "float", "How much more probable a new expression must be than the one shown before the emoji\n"
        "changes (0.15 = 15 percentage points). 0 = change as soon as another expression leads.",
        low=0.0, high=1.0, unit="probability")
    min_hold_ms: float = _key(
        300.0, "float", "An expression stays at least this long before it may change.",
        low=0.0, high=10000.0, unit="milliseconds")
    neutral_margin: float = _key(
        0.0, "float", "Going back to neutral needs less evidence than leaving it: the emoji returns to neutral as\n"
        "soon as neutral is this much more probable than the expression shown (0 = as soon as neutral is ahead).",
        low=0.0, high=1.0, unit="probability")
    neutral_hold_ms: float = _key(
        100.0, "float", "An expression other than neutral stays at least this long before it may return to neutral.",
        low=0.0, high=10000.0, unit="milliseconds")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class CameraConfig:
    _section = "camera"
    device: int | str = _key(
        0, "device", "Camera to read: an index (0 = the first camera) or a device name or path as a string,\n"
        "e.g. \"/dev/video2\" or \"Logitech BRIO\".", allowed_text="an integer >= 0 or a non-empty device name")
    width: int = _key(1280, "int", "Requested capture width; the camera may pick the nearest size it supports.",
                      low=16, high=7680, unit="pixels")
    height: int = _key(720, "int", "Requested capture height.", low=16, high=4320, unit="pixels")
    fps: float = _key(30.0, "float", "Requested frame rate.", low=1.0, high=240.0, unit="frames per second")
    mirror: bool = _key(False, "bool", "Flip the picture horizontally, like a mirror.")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class PrivacyConfig:
    _section = "privacy"
    hide_when_no_face: bool = _key(
        True, "bool", "When no face is found in the picture (you turned away, poor light, a hand in front of your\n"
        "face), send a blurred picture instead of the camera's, from the first such frame. Live input only; the\n"
        "bundled demo clip and `vcam-emoji render` are never hidden.")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class OutputConfig:
    _section = "output"
    sink: str = _key(
        "auto", "str", "Where the frames go: \"auto\" (the virtual camera if there is one, else a preview window, else\n"
        "with no display a file as \"file\" writes), \"vcam\" (the virtual camera only; stop if there is none),\n"
        "\"preview\" (a window), \"file\" (a new emoji-cam-output.mp4 in the current folder, numbered if the name\n"
        "is taken, stopped at 500 MB; run --sink FILE names another), \"none\" (nowhere; for benchmarks).",
        choices=("auto", "vcam", "preview", "file", "none"))
    virtual_camera_name: str = _key(
        "Emoji Cam", "str", "Name of the virtual camera, where the backend lets us choose it; \"\" = the backend's "
        "default.")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class RuntimeConfig:
    _section = "runtime"
    execution_provider: str = _key(
        "auto", "str", "Where the models run: \"auto\" (the fastest available, else the CPU), \"cpu\", \"cuda\"\n"
        "(NVIDIA GPUs), \"directml\" (GPUs on Windows), \"coreml\" (Apple).",
        choices=("auto", "cpu", "cuda", "directml", "coreml"))
    threads: int = _key(1, "int", "CPU threads for each model; 0 = let onnxruntime decide. 1 is fastest for one\n"
                        "or two faces and leaves the other cores to the meeting app.",
                        low=0, high=64, unit="threads")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class TimelineConfig:
    _section = "timeline"
    path: str = _key("", "str", "Record the expressions shown over time to this file; \"\" = off.",
                     allowed_text="a file path, or \"\" for off")

    def __post_init__(self) -> None:
        _check_section(self)


@dataclass(frozen=True)
class Config:
    """The whole configuration. Every field has a default, so ``Config()`` is the default configuration."""

    pack: PackConfig = field(default_factory=PackConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    timeline: TimelineConfig = field(default_factory=TimelineConfig)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if type(value) is not f.default_factory:
                raise ConfigError(f"Config.{f.name}: expected {f.default_factory.__name__}, got {_type_name(value)}")

    def with_changes(self, changes: Mapping[str, object]) -> "Config":
        """A copy with dotted keys set, e.g. ``{"smoothing.min_hold_ms": 500}``; raises ConfigError if invalid."""
        data = config_to_dict(self)
        problems = _apply_dotted(data, changes)
        if problems:
            raise ConfigError("\n".join(problems))
        return config_from_dict(data, source="<changes>")


_SECTIONS: Mapping[str, type] = types.MappingProxyType(
    {f.name: f.default_factory for f in dataclasses.fields(Config)}
)


def _section_fields(section: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(_SECTIONS[section])}


class SmoothingPreset(NamedTuple):
    time_constant_ms: float
    switch_margin: float
    min_hold_ms: float


SMOOTHING_PRESETS: Mapping[str, SmoothingPreset] = types.MappingProxyType({
    "off": SmoothingPreset(0.0, 0.0, 0.0),
    "responsive": SmoothingPreset(100.0, 0.08, 120.0),
    "balanced": SmoothingPreset(250.0, 0.15, 300.0),  # = the defaults
    "steady": SmoothingPreset(600.0, 0.25, 800.0),
})


def smoothing_preset_changes(name: str) -> dict[str, float]:
    """The dotted-key changes that select preset ``name`` (for ``update_config_file`` / ``Config.with_changes``)."""
    if name not in SMOOTHING_PRESETS:
        raise ConfigError(f"unknown smoothing preset {name!r}; allowed one of " + ", ".join(SMOOTHING_PRESETS))
    return {f"smoothing.{k}": v for k, v in SMOOTHING_PRESETS[name]._asdict().items()}


def smoothing_preset_name(smoothing: SmoothingConfig) -> str | None:
    """The name of the preset these settings equal, or None for custom settings."""
    current = (smoothing.time_constant_ms, smoothing.switch_margin, smoothing.min_hold_ms)
    for name, preset in SMOOTHING_PRESETS.items():
        if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip(current, preset)):
            return name
    return None


@dataclass(frozen=True)
class SettingInfo:
    """One setting as a settings page shows it: the schema above, made public."""

    key: str  # dotted, e.g. "smoothing.min_hold_ms"
    kind: str  # "str", "int", "float", "bool", "device" or "model"
    default: object
    help: str
    allowed: str  # e.g. "0..5000 (milliseconds)"
    low: float | None = None
    high: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()


def settings_schema() -> tuple[SettingInfo, ...]:
    """Every setting with its type, default, range and help, in the order of the file."""
    return tuple(
        SettingInfo(f"{section}.{f.name}", spec.kind, f.default, spec.help, spec.allowed(), spec.low, spec.high,
                    spec.unit, spec.choices)
        for section in _SECTIONS for f, spec in ((f, _spec_of(f)) for f in dataclasses.fields(_SECTIONS[section]))
    )


# --------------------------------------------------------------------------------------------------------------------
# Loading and validation


def default_config_path() -> Path:
    """``config.toml`` in the platform's user config folder (e.g. ``~/.config/vcam-emoji/config.toml``)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / CONFIG_FILE_NAME


def config_to_dict(config: Config) -> dict[str, dict[str, object]]:
    """Plain nested dict of the configuration, e.g. for ``doctor`` or ``tomlkit.dumps``."""
    return dataclasses.asdict(config)


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _lookup(dotted: object) -> tuple[str, str, _Spec] | str:
    """(section, key, spec) of a dotted key such as "camera.width", or the problem if there is no such key."""
    section, _, key = str(dotted).partition(".")
    fields = _section_fields(section) if section in _SECTIONS else {}
    if key in fields:
        return section, key, _spec_of(fields[key])
    known = [f"{s}.{k}" for s in _SECTIONS for k in _section_fields(s)]
    return f"{dotted} is not a known setting{_suggest(str(dotted), known)}"


def check_setting(dotted: str, value: object) -> object:
    """Validate one setting exactly as the config file's loader does; return it normalised or raise ConfigError.

    For values that come from elsewhere than the file, e.g. command-line options that override a setting.
    """
    found = _lookup(dotted)
    if isinstance(found, str):
        raise ConfigError(found)
    section, key, spec = found
    normalised, problem = _check(f"{section}.{key}", spec, value)
    if problem:
        raise ConfigError(problem)
    return normalised


def setting_allowed(dotted: str) -> tuple[str, tuple[str, ...]]:
    """(what is allowed, the choices if the setting has a fixed list) for a dotted key; for help texts."""
    found = _lookup(dotted)
    if isinstance(found, str):
        raise ConfigError(found)
    spec = found[2]
    return spec.allowed(), spec.choices


def _apply_dotted(data: dict[str, dict[str, object]], changes: Mapping[str, object]) -> list[str]:
    """Set dotted keys in a nested dict of known sections; return problems for unknown keys."""
    problems = []
    for dotted, value in changes.items():
        found = _lookup(dotted)
        if isinstance(found, str):
            problems.append(found)
        else:
            data[found[0]][found[1]] = value
    return problems


def config_from_dict(data: Mapping[str, object], source: str = "<config>") -> Config:
    """Validate parsed TOML and build a Config; raise ConfigError listing every problem, one per line."""
    problems: list[str] = []
    sections: dict[str, object] = {}
    for name, table in data.items():
        if name not in _SECTIONS:
            if isinstance(table, Mapping):
                problems.append(f"[{name}] is not a known section{_suggest(name, list(_SECTIONS))}; "
                                f"allowed sections: {', '.join(_SECTIONS)}")
            else:
                problems.append(f"{name} = {_show(table)} is outside any section; every setting belongs in a "
                                f"section: {', '.join(f'[{s}]' for s in _SECTIONS)}")
            continue
        if not isinstance(table, Mapping):
            problems.append(f"{name} = {_show(table)} must be a section [{name}], not {_type_name(table)}")
            continue
        fields = _section_fields(name)
        values = {}
        for key, value in table.items():
            dotted = f"{name}.{key}"
            if key not in fields:
                problems.append(f"{dotted} = {_show(value)} is not a known setting{_suggest(key, list(fields))}; "
                                f"[{name}] has: {', '.join(fields)}")
                continue
            normalised, problem = _check(dotted, _spec_of(fields[key]), value)
            if problem:
                problems.append(problem)
            else:
                values[key] = normalised
        sections[name] = values
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    return Config(**{name: _SECTIONS[name](**values) for name, values in sections.items()})


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_config(text: str, source: str = "<string>") -> Config:
    """Parse and validate TOML text; ``source`` names the file in messages."""
    return config_from_dict(_parse_toml(text, source), source)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        if match:
            reason = message[: match.start()]
            where = f"line {match.group(1)}, column {match.group(2)}"
        else:
            reason, where = message, "end of file"
            if "(at end of document)" in message:
                reason = message.replace("(at end of document)", "").strip()
                where = f"line {text.count(chr(10)) + 1} (end of file)"
        raise ConfigError(f"{source}: TOML syntax error at {where}: {reason}") from None


def _decode(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError as exc:
        message = f"{source}: not UTF-8 text (bad byte at offset {exc.start}); save the file as UTF-8"
        raise ConfigError(message) from None


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _too_big(path: Path, size: int | None) -> ConfigError:
    what = f"is {_size_text(size)} ({size} bytes)" if size is not None else "grew while it was read"
    return ConfigError(f"{path}: the configuration file {what}, more than the limit of "
                       f"{_size_text(MAX_CONFIG_BYTES)}; a settings file is a few KB (the default one is about 6 KB): "
                       "check that this is the right file, or cut it down to the settings you change")


def _read_bytes(path: Path) -> bytes:
    """The file's bytes. Refused before reading if it is not a regular file or is larger than MAX_CONFIG_BYTES, and
    read with that bound, so a file that grows between the check and the read is refused too."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{path}: not a configuration file but a folder or device; give the path of a .toml "
                              "file")
        if st.st_size > MAX_CONFIG_BYTES:
            raise _too_big(path, st.st_size)
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: the configuration file does not exist") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise _too_big(path, None)
    return data


def _read_text(path: Path) -> str:
    return _decode(_read_bytes(path), str(path))


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the file; raise ConfigError naming every problem (file, key, value, what is allowed)."""
    path = Path(path).expanduser()
    config = parse_config(_read_text(path), str(path))
    log.debug("loaded configuration from %s", path)
    return config


# --------------------------------------------------------------------------------------------------------------------
# The commented default file

_HEADER = """\
# Emoji Cam configuration ({app}).
#
# Written with the default settings on first run; Emoji Cam never overwrites it. Edit it while Emoji Cam runs:
# changes are applied within about a second. If an edit is invalid, Emoji Cam keeps the last good settings and
# says which key is wrong. The tray menu changes only the lines of the settings you pick there.
# Every key is optional: a key you delete takes its default. Delete the whole file to get a fresh default one.
"""


def _comment(text: str) -> list[str]:
    return [f"# {line}".rstrip() for line in text.split("\n")]


def default_config_text() -> str:
    """The commented default file: every key with what it does, what is allowed and its default."""
    lines = _HEADER.format(app=APP_NAME).splitlines()
    for section, cls in _SECTIONS.items():
        lines += ["", f"[{section}]"]
        if section == "smoothing":
            presets = "; ".join(f"{name} = {', '.join(_number_text(v) for v in preset)}"
                                for name, preset in SMOOTHING_PRESETS.items())
            lines += _comment("Presets (time_constant_ms, switch_margin, min_hold_ms), also in the tray menu:\n"
                              f"{presets}.\n")
        for f in dataclasses.fields(cls):
            spec = _spec_of(f)
            lines += _comment(spec.help)
            lines.append(f"# Allowed: {spec.allowed()}. Default: {_toml_value(f.default)}.")
            lines.append(f"{f.name} = {_toml_value(f.default)}")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str, *, replace: bool = True, mode: int | None = None) -> bool:
    """Write via a temp file in the same folder (fileio's rule). With replace=False never overwrite; return False if
    it existed."""
    from .fileio import OutputExists, write_atomic

    try:
        write_atomic(path, text, replace=replace, mode=mode, what="configuration file")
    except OutputExists:
        return False
    except OutputError as exc:
        raise ConfigError(str(exc)) from None
    return True


def ensure_config_file(path: str | os.PathLike[str] | None = None) -> Path:
    """Write the commented default file if there is none yet (creating folders); never touch an existing one."""
    path = Path(path).expanduser() if path is not None else default_config_path()
    if path.exists():
        if not path.is_file():
            raise ConfigError(f"{path}: expected a configuration file, found a folder or device")
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        created = _atomic_write(path, default_config_text(), replace=False)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the default configuration file: {exc.strerror or exc}") from None
    if created:
        log.info("wrote the default configuration file %s", path)
    return path


# --------------------------------------------------------------------------------------------------------------------
# Editing the user's file (for the tray): tomlkit keeps every comment, blank line, order and formatting it does not
# have to change


def _table_of(document: tomlkit.TOMLDocument, section: str, source: str):
    """The (possibly new) table ``[section]`` of a tomlkit document, or ConfigError if that name holds a value."""
    if section not in document:
        document[section] = tomlkit.table()
    table = document[section]
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: not changed: {section} = {_show(table.unwrap())} is not a section [{section}]; "
                          "fix it by hand")
    return table


def update_config_file(path: str | os.PathLike[str], changes: Mapping[str, object]) -> Config:
    """Set dotted keys (e.g. ``{"pack.name": "classic"}``) in the user's file, keeping every other line and comment.

    The result is validated before anything is written; on any problem ConfigError is raised and the file is left
    as it was. A missing file is first created with the commented defaults. Returns the new configuration.
    """
    path = Path(path).expanduser()
    ensure_config_file(path)
    original = _read_text(path)
    source = str(path)
    _parse_toml(original, source)  # our own message for a syntax error, before tomlkit reads it
    problems, wanted = [], {}
    for dotted, value in changes.items():
        found = _lookup(dotted)
        if isinstance(found, str):
            problems.append(found)
            continue
        section, key, spec = found
        normalised, problem = _check(f"{section}.{key}", spec, value)
        if problem:
            problems.append(problem)
        else:
            wanted[(section, key)] = normalised
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))

    try:
        document = tomlkit.parse(original)
    except TOMLKitError as exc:  # tomllib read it: should not happen
        raise ConfigError(f"{source}: not changed: cannot edit this file ({exc}); edit it by hand") from None
    for (section, key), value in wanted.items():
        _table_of(document, section, source)[key] = value
    text = tomlkit.dumps(document)
    if "\r\n" in original:  # lines tomlkit adds end in "\n": keep the file's line endings
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if text == original:
        return parse_config(text, source)
    try:
        config = parse_config(text, source)
    except ConfigError as exc:
        raise ConfigError(f"{source}: not changed, because the result would be invalid:\n{exc}") from None
    for (section, key), value in wanted.items():
        if getattr(getattr(config, section), key) != value:
            raise ConfigError(f"{source}: not changed: could not set {section}.{key} in this file; edit it by hand")
    try:
        _atomic_write(path, text, mode=path.stat().st_mode & 0o7777)
    except OSError as exc:
        raise ConfigError(f"{source}: cannot write the configuration file: {exc.strerror or exc}") from None
    log.info("updated %s: %s", path, ", ".join(f"{s}.{k} = {_show(v)}" for (s, k), v in wanted.items()))
    return config


# --------------------------------------------------------------------------------------------------------------------
# Live reload


class ConfigWatcher:
    """Reloads the file when it changes. No threads: the caller calls ``poll()`` (about once a second is plenty).

    On a bad edit (or a deleted file, or one over MAX_CONFIG_BYTES, which is not read) the last good configuration
    stays in ``current``, ``on_error`` is called once per distinct bad content, and the user's file is never
    rewritten. ``initial``: the configuration already loaded
    from ``path``; if not given the file is loaded now and a ConfigError propagates. ``interval_s``: ``poll()`` does
    nothing if called again sooner than this by ``clock``. ``overrides``: dotted settings that win over the file's
    on every reload (e.g. ``run --threads 2``); ``initial``, when given, must already include them.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[Config], None] | None = None,
        on_error: Callable[[ConfigError], None] | None = None,
        *,
        initial: Config | None = None,
        interval_s: float = 1.0,
        overrides: Mapping[str, object] | None = None,
    ) -> None:
        self.path = Path(path).expanduser()
        self._clock = clock
        self._on_change = on_change
        self._on_error = on_error
        self._interval_s = interval_s
        self._overrides = dict(overrides or {})
        self._last_check: float | None = None
        self._signature: tuple[int, int, int] | None = None
        self._digest: bytes | None = None
        self._reported: object = None  # what the last reported problem was about
        self.last_error: ConfigError | None = None
        if initial is None:
            signature = self._stat_signature()  # before reading, so a change while reading is seen by poll()
            data = _read_bytes(self.path)
            initial = self._parse(data)
            self._signature, self._digest = signature, hashlib.sha256(data).digest()
        self._current = initial

    def _parse(self, data: bytes) -> Config:
        config = parse_config(_decode(data, str(self.path)), str(self.path))
        return config.with_changes(self._overrides) if self._overrides else config

    @property
    def current(self) -> Config:
        """The last good configuration."""
        return self._current

    def _stat_signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _report(self, about: object, error: ConfigError) -> None:
        self.last_error = error
        if about == self._reported:
            return
        self._reported = about
        log.warning("%s\n(keeping the last good configuration)", error)
        if self._on_error is not None:
            self._on_error(error)

    def poll(self, force: bool = False) -> Config | None:
        """Reload if the file changed; return the new Config if it changed and is valid, else None."""
        now = self._clock()
        if not force and self._last_check is not None and now - self._last_check < self._interval_s:
            return None
        self._last_check = now
        try:
            signature = self._stat_signature()
        except OSError as exc:
            self._report(("stat", str(exc)), ConfigError(f"{self.path}: cannot check the file: {exc}"))
            return None
        if signature is None:
            self._signature = self._digest = None
            self._report("missing", ConfigError(
                f"{self.path}: the configuration file was deleted; keeping the last good settings until it is back"))
            return None
        if signature == self._signature:
            return None
        try:
            data = _read_bytes(self.path)  # refuses a file over MAX_CONFIG_BYTES before reading it
        except ConfigError as exc:
            self._digest = None  # whatever comes next is read and checked, even the last good content again
            self._report(("read", str(exc)), exc)
            return None
        self._signature = signature
        digest = hashlib.sha256(data).digest()
        if digest == self._digest:
            return None  # touched, same content
        self._digest = digest
        try:
            config = self._parse(data)
        except ConfigError as exc:
            self._report(digest, exc)
            return None
        if self.last_error is not None:
            log.info("%s is valid again", self.path)
        self._reported, self.last_error = None, None
        if config == self._current:
            return None
        self._current = config
        log.info("reloaded configuration from %s", self.path)
        if self._on_change is not None:
            self._on_change(config)
        return config
