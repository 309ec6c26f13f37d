"""Exceptions raised by the engine. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class EmojiCamError(Exception):
    """Base class: the message is written for the user and says what to do."""


class ConfigError(EmojiCamError):
    """An invalid configuration file or value."""


class ModelError(EmojiCamError):
    """A model file or manifest is missing, corrupt or does not match."""


class PackError(EmojiCamError):
    """An emoji pack is missing or broken."""


class InputError(EmojiCamError):
    """An input file (video, image, data set) cannot be used."""


class OutputError(EmojiCamError):
    """An output file cannot be written."""


class DeviceError(EmojiCamError):
    """A camera, virtual camera or display cannot be used; the message says how to fix it."""
