"""Where the bundled models and emoji packs live: inside the wheel, or beside the package in a source checkout."""

from __future__ import annotations

from pathlib import Path

from .errors import EmojiCamError

_PACKAGE_DIR = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """Return the folder of bundled data ``name`` ("models" or "emoji_packs")."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise EmojiCamError(
        f"the bundled {name!r} folder is missing from the installation ({_PACKAGE_DIR}); reinstall vcam-emoji"
    )


def models_dir() -> Path:
    return bundled_dir("models")


def packs_dir() -> Path:
    return bundled_dir("emoji_packs")


def model_card() -> str:
    """Where MODELS.md (the model manifest schema, accuracy and speed) is in this installation, for messages."""
    try:
        path = models_dir() / "MODELS.md"
    except EmojiCamError:
        return "MODELS.md in the vcam-emoji package"
    return str(path) if path.is_file() else "MODELS.md in the vcam-emoji package"
