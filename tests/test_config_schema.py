"""The public view of the settings schema (for the Studio's settings page) and the per-key check's messages."""

from __future__ import annotations

import dataclasses

import pytest

from vcam_emoji.config import Config, ConfigError, check_setting, config_to_dict, settings_schema


def test_the_schema_lists_every_setting_with_its_default():
    schema = {info.key: info for info in settings_schema()}
    defaults = {f"{section}.{key}": value for section, table in config_to_dict(Config()).items()
                for key, value in table.items()}
    assert list(schema) == list(defaults)
    assert {key: info.default for key, info in schema.items()} == defaults
    smoothing = schema["smoothing.time_constant_ms"]
    assert (smoothing.kind, smoothing.low, smoothing.high, smoothing.unit) == ("float", 0.0, 5000.0, "milliseconds")
    assert smoothing.allowed == "0..5000 (milliseconds)" and smoothing.help
    assert schema["output.sink"].choices == ("auto", "vcam", "preview", "file", "none")
    assert dataclasses.is_dataclass(smoothing)


@pytest.mark.parametrize("key, value, expected", [
    ("smoothing.time_constant_ms", 300, None),
    ("smoothing.time_constant_ms", 99999, "smoothing.time_constant_ms = 99999 is out of range; allowed 0..5000"),
    ("smoothing.time_constant_ms", "fast", "is a string, expected a number"),
    ("camera.mirror", 1, "is an integer; allowed true or false"),
    ("output.sink", "fax", 'is not allowed; allowed one of "auto"'),
    ("smoothing.min_hold", 1, 'not a known setting (did you mean "smoothing.min_hold_ms"?)'),
])
def test_check_setting_gives_the_files_message(key, value, expected):
    if expected is None:
        assert check_setting(key, value) == value
        return
    with pytest.raises(ConfigError) as one:
        check_setting(key, value)
    assert expected in str(one.value)
    with pytest.raises(ConfigError) as whole:  # the same words as a whole-config check
        Config().with_changes({key: value})
    assert str(one.value) in str(whole.value)
