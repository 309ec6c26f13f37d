"""--classifier, --detector, --provider, --threads: override the settings file for one command, checked like it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES
from vcam_emoji import app as app_module
from vcam_emoji.cli import main
from vcam_emoji.config import Config, ConfigWatcher, ensure_config_file, update_config_file
from vcam_emoji.model_options import add_model_options, apply_model_options, model_overrides


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_model_options(parser)
    return parser.parse_args(list(argv))


def test_given_options_replace_the_settings_and_the_others_stay():
    base = Config().with_changes({"runtime.threads": 3, "classifier.model": "default", "detector.model": "auto"})
    args = parse("--classifier", "mini_xception_fer2013", "--provider", "cpu", "--threads", "0")
    config = apply_model_options(base, args)
    assert config.classifier.model == "mini_xception_fer2013"
    assert config.runtime.execution_provider == "cpu"
    assert config.runtime.threads == 0
    assert config.detector.model == "auto"  # not given: the file's value
    assert config.smoothing == base.smoothing and config.pack == base.pack


def test_no_option_changes_nothing():
    base = Config()
    args = parse()
    assert model_overrides(args) == {}
    assert apply_model_options(base, args) is base


def test_an_onnx_path_is_accepted_like_in_the_file(tmp_path):
    path = str(tmp_path / "mine.onnx")
    assert model_overrides(parse("--detector", path)) == {"detector.model": path}


@pytest.mark.parametrize("argv, message", [
    (["--threads", "99"], "argument --threads: runtime.threads = 99 is out of range; allowed 0..64"),
    (["--threads", "two"], "argument --threads: 'two' is not valid for runtime.threads; allowed 0..64"),
    (["--provider", "gpu"], 'runtime.execution_provider = "gpu" is not allowed; allowed one of "auto", "cpu"'),
    (["--classifier", "model.pt"], 'classifier.model = "model.pt" is a path but not an .onnx file'),
    (["--detector", ""], 'detector.model = "" is empty'),
])
@pytest.mark.parametrize("command", ["render", "run"])
def test_bad_values_are_usage_errors_with_the_configs_message(command, argv, message, capsys, tmp_path):
    args = [command, *argv] + (["in.jpg", "out.jpg"] if command == "render" else [])
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    config = ensure_config_file(tmp_path / "config.toml")
    update_config_file(config, {"runtime.threads": 1, "runtime.execution_provider": "auto"})
    return tmp_path, str(config)


def test_render_uses_the_options_over_the_settings_file(env, capsys, monkeypatch):
    # Given a settings file with the defaults, and a spy on the sessions the pipeline creates
    tmp, config = env
    sessions = []
    real = app_module.create_session

    def spy(path, providers="auto", threads=0):
        sessions.append((os.path.basename(str(path)), providers, threads))
        return real(path, providers=providers, threads=threads)

    monkeypatch.setattr(app_module, "create_session", spy)
    # When a photo is rendered with all four options
    out = tmp / "out.png"
    code = main(["render", "--config", config, str(FIXTURES / "astronaut_256.jpg"), str(out),
                 "--classifier", "mini_xception_fer2013", "--detector", "blazeface_short",
                 "--provider", "cpu", "--threads", "2"])
    # Then the summary names the models asked for, and the classifier session got that provider and thread count
    assert code == 0
    summary = capsys.readouterr().out
    assert "detector blazeface_short, classifier mini_xception_fer2013" in summary
    assert sessions == [("mini_xception_fer2013.onnx", "cpu", 2)]
    assert out.is_file()


def test_watcher_keeps_the_overrides_when_the_file_is_edited(tmp_path):
    # Given a watcher for `run --threads 2` over a file that says threads = 1
    path = ensure_config_file(tmp_path / "config.toml")
    update_config_file(path, {"runtime.threads": 1})
    overrides = {"runtime.threads": 2}
    now = [0.0]
    watcher = ConfigWatcher(path, clock=lambda: now[0], overrides=overrides)
    assert watcher.current.runtime.threads == 2
    # When the file is edited (another key, and the overridden key itself)
    update_config_file(path, {"camera.mirror": True, "runtime.threads": 4})
    now[0] += 5
    new = watcher.poll(force=True)
    # Then the edit applies and the command line still wins for its key
    assert new is not None and new.camera.mirror is True
    assert new.runtime.threads == 2


def test_run_reports_the_models_given_on_the_command_line(tmp_path):
    environ = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"))
    environ.pop("DISPLAY", None)
    config = ensure_config_file(tmp_path / "config.toml")
    proc = subprocess.run([sys.executable, "-m", "vcam_emoji", "run", "--config", str(config), "--source", "demo",
                           "--sink", "none", "--seconds", "1", "--stats-every", "0", "--detector", "blazeface_short",
                           "--classifier", "mini_xception_fer2013", "--provider", "cpu"],
                          env=environ, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "detector blazeface_short, classifier mini_xception_fer2013 on CPUExecutionProvider" in proc.stderr
