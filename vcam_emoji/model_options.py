"""``--classifier``, ``--detector``, ``--provider`` and ``--threads``: the model settings, overridden for one command.

Any command that builds a pipeline takes them the same way::

    add_model_options(parser)                   # when building the parser
    config = apply_model_options(config, args)  # after loading the settings

Each option is checked when the command line is parsed, by the same rules as the key it overrides in the settings
file (a bad value is a usage error, exit 2, with the config's message); an option left out keeps the file's value.
``model_overrides(args)`` gives the dotted changes, e.g. for a ``ConfigWatcher`` that must keep them over live
reloads of the file.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping

from .config import Config, check_setting, setting_allowed
from .errors import ConfigError

# option destination -> (flag, the setting it overrides, how the text is read, what it is)
MODEL_OPTIONS: Mapping[str, tuple[str, str, Callable[[str], object], str]] = {
    "classifier": ("--classifier", "classifier.model", str, "expression classifier"),
    "detector": ("--detector", "detector.model", str, "face detector"),
    "provider": ("--provider", "runtime.execution_provider", str, "onnxruntime execution provider"),
    "threads": ("--threads", "runtime.threads", int, "CPU threads per model"),
}


def _setting_type(dotted: str, parse: Callable[[str], object]) -> Callable[[str], object]:
    def convert(text: str) -> object:
        try:
            value = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid for {dotted}; allowed "
                                             f"{setting_allowed(dotted)[0]}") from None
        try:
            return check_setting(dotted, value)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = dotted  # argparse names the type in some of its messages
    return convert


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Add the four options (default: the settings file's values) to ``parser``."""
    group = parser.add_argument_group("models (override the settings file for this run)")
    for dest, (flag, dotted, parse, what) in MODEL_OPTIONS.items():
        allowed, choices = setting_allowed(dotted)
        group.add_argument(flag, dest=dest, type=_setting_type(dotted, parse), default=None,
                           metavar="|".join(choices) if choices else ("N" if parse is int else "NAME|FILE.onnx"),
                           help=f"{what}: {allowed} (default: the config's {dotted})")


def model_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The dotted settings given on the command line, e.g. ``{"runtime.threads": 2}``; empty when none was."""
    return {dotted: getattr(args, dest) for dest, (_, dotted, _, _) in MODEL_OPTIONS.items()
            if getattr(args, dest, None) is not None}


def apply_model_options(config: Config, args: argparse.Namespace) -> Config:
    """``config`` with the options given on the command line in place of the file's values."""
    overrides = model_overrides(args)
    return config.with_changes(overrides) if overrides else config
