"""Numeric command-line options: finite and in range, or a usage error (exit 2) with one clear line, no traceback."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vcam_emoji import cli_types
from vcam_emoji.cli import build_parser, main
from vcam_emoji.cli_types import float_range, int_range, positive_int, positive_seconds

REPO = Path(__file__).resolve().parents[1]


# --- the type functions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("parse,text,value", [
    (positive_seconds, "2", 2.0),
    (positive_seconds, "0.25", 0.25),
    (positive_seconds, str(cli_types.MAX_SECONDS), float(cli_types.MAX_SECONDS)),
    (cli_types.non_negative_float, "0", 0.0),
    (cli_types.finite_float, "-3.5", -3.5),
    (cli_types.positive_float, "1e-9", 1e-9),
    (positive_int, "7", 7),
    (cli_types.non_negative_int, "0", 0),
    (cli_types.seed, "4294967295", 2**32 - 1),
    (cli_types.port, "0", 0),
    (float_range(0, 1), "1", 1.0),
    (float_range(0, 1, high_open=True), "0.999", 0.999),
    (int_range(0, 64), "64", 64),
])
def test_a_value_in_range_is_returned_as_a_number(parse, text, value):
    result = parse(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("parse,text,message", [
    (positive_seconds, "inf", "must be a finite number above 0 and at most 2592000 (30 days), got 'inf'"),
    (positive_seconds, "nan", "got 'nan'"),
    (positive_seconds, "-1", "above 0"),
    (positive_seconds, "0", "above 0"),
    (positive_seconds, "1e400", "got '1e400'"),  # float() makes it inf
    (positive_seconds, "2592001", "at most 2592000"),
    (positive_seconds, "soon", "must be a finite number"),
    (cli_types.finite_float, "-inf", "must be a finite number, got '-inf'"),
    (cli_types.non_negative_float, "-0.5", "must be a finite number 0 or more, got '-0.5'"),
    (positive_int, "0", "must be a whole number 1 or more, got '0'"),
    (positive_int, "1.5", "must be a whole number 1 or more, got '1.5'"),
    (positive_int, "nan", "must be a whole number"),
    (cli_types.seed, "-1", "must be a whole number from 0 to 4294967295, got '-1'"),
    (cli_types.port, "65536", "from 0 to 65535 (0 = any free port)"),
    (float_range(0, 86400, note="0 = never"), "-1", "must be a finite number from 0 to 86400 (0 = never), got '-1'"),
    (float_range(0, 1, high_open=True), "1", "must be a finite number at least 0 and below 1, got '1'"),
    (float_range(0, None, note="0 = off"), "inf", "must be a finite number 0 or more (0 = off), got 'inf'"),
    (int_range(0, 64, note="0 = onnxruntime decides"), "65", "from 0 to 64 (0 = onnxruntime decides), got '65'"),
])
def test_a_bad_value_says_what_is_allowed_and_what_was_given(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as raised:
        parse(text)
    assert message in str(raised.value)


def test_argparse_turns_the_error_into_a_usage_error_naming_the_option(capsys):
    parser = argparse.ArgumentParser(prog="demo")
    parser.add_argument("--seconds", type=positive_seconds)
    with pytest.raises(SystemExit) as stopped:
        parser.parse_args(["--seconds", "inf"])
    assert stopped.value.code == 2
    assert "demo: error: argument --seconds: must be a finite number above 0" in capsys.readouterr().err


# --- every numeric option of every command uses them -----------------------------------------------------------------
def _actions(parser: argparse.ArgumentParser, prefix: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{prefix} {name}")
        else:
            yield prefix, action


def test_no_option_of_any_command_is_a_plain_int_or_float():
    from studio.command import build_parser as studio_parser
    from tray.app import build_parser as tray_parser
    from vcam_emoji.training.command import add_arguments

    train = argparse.ArgumentParser()
    add_arguments(train)
    parsers = [(build_parser(), "vcam-emoji"), (studio_parser(), "vcam-emoji studio"), (tray_parser(), "emoji-cam"),
               (train, "python -m vcam_emoji.training.command")]
    plain = [f"{where} {'/'.join(action.option_strings) or action.dest}"
             for parser, name in parsers for where, action in _actions(parser, name) if action.type in (int, float)]
    assert plain == []  # type=float lets inf, nan and -1 through; use vcam_emoji.cli_types


# --- as a user runs them ---------------------------------------------------------------------------------------------
def usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 2, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "1e999"])
def test_run_refuses_a_seconds_that_is_not_a_finite_positive_number(value, capsys):
    err = usage_error(["run", "--source", "demo", "--sink", "none", "--seconds", value], capsys)
    assert f"vcam-emoji run: error: argument --seconds: must be a finite number above 0 and at most 2592000 " \
           f"(30 days), got '{value}'" in err
    assert err.startswith("usage: vcam-emoji run")


@pytest.mark.parametrize("value", ["-1", "inf", "nan", "86401"])
def test_run_refuses_a_bad_stats_every(value, capsys):
    err = usage_error(["run", "--source", "demo", "--sink", "none", "--seconds", "1", "--stats-every", value], capsys)
    assert f"argument --stats-every: must be a finite number from 0 to 86400 (0 = never), got '{value}'" in err


@pytest.mark.parametrize("argv,message", [
    (["render", "in.mp4", "out.mp4", "--rate-hz", "nan"], "argument --rate-hz: must be a finite number from 0 to 240"),
    (["render", "in.mp4", "out.mp4", "--threads", "-1"], "argument --threads: "),  # the settings' own check
    (["eval", "--data", "d.npz", "--threads", "-1"], "argument --threads: must be a whole number from 0 to 64"),
    (["analyze", "a.mp4", "--out", "o", "--every-ms", "inf"], "argument --every-ms: must be a finite number from 10"),
    (["analyze", "a.mp4", "--out", "o", "--jobs", "1.5"], "argument --jobs: must be a whole number from 0 to 256"),
    (["report", "t.jsonl", "--out", "o", "--min-visible-s", "nan"], "argument --min-visible-s: must be a finite"),
    (["setup-vcam", "--video-nr", "300"], "argument --video-nr: must be a whole number from 0 to 255, got '300'"),
    (["avatar", "create", "me", "--seed", "-1"], "argument --seed: must be a whole number from 0 to 4294967295"),
    (["train", "--lr", "nan"], "argument --lr: must be a finite number above 0, got 'nan'"),
    (["train", "--epochs", "0"], "argument --epochs: must be a whole number 1 or more, got '0'"),
    (["train", "--ema", "1"], "argument --ema: must be a finite number at least 0 and below 1 (0 = off), got '1'"),
    (["train", "--distill-weight", "1.5"], "argument --distill-weight: must be a finite number from 0 to 1"),
    (["train", "--mixup", "-1"], "argument --mixup: must be a finite number 0 or more (0 = off), got '-1'"),
    (["train", "--threads", "0"], "argument --threads: must be a whole number from 1 to 1024, got '0'"),
    (["train", "--seed", "4294967296"], "argument --seed: must be a whole number from 0 to 4294967295"),
    (["studio", "--port", "70000"], "argument --port: must be a whole number from 0 to 65535 (0 = any free port)"),
    (["studio", "--seconds", "inf"], "argument --seconds: must be a finite number above 0"),
])
def test_other_commands_refuse_bad_numbers(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, and nothing is: the parse fails first
    err = usage_error(argv, capsys)
    assert message in err
    assert list(tmp_path.iterdir()) == []


def test_run_seconds_inf_in_a_real_process_exits_2_at_once(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run([sys.executable, "-m", "vcam_emoji", "run", "--source", "demo", "--sink", "none",
                           "--seconds", "inf"], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert done.returncode == 2
    assert "argument --seconds: must be a finite number above 0" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (tmp_path / "config").exists()  # refused before the settings file is even created


def test_ctrl_c_before_seconds_is_up_stops_at_once_not_when_the_timer_would_fire(tmp_path):
    # On a --seconds timer that was not a daemon, Ctrl-C stopped the engine but the process then waited for the
    # timer: `run --seconds 3600` pressed Ctrl-C and hung for the rest of the hour.
    from vcam_emoji.config import ensure_config_file

    config = ensure_config_file(tmp_path / "config.toml")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "vcam_emoji", "run", "--config", str(config), "--source", "demo",
                             "--sink", "none", "--seconds", "3600", "--stats-every", "0.5"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the first status line: the engine is up
        assert " fps, latency p50 " in line, line
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)  # far less than the hour the timer still had to go
    finally:
        proc.kill()
    assert proc.returncode == 0 and "camera and output released" in stderr and "Traceback" not in stderr
