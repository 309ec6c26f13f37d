"""Shared test helpers. ../shared (datasets and media) is optional: tests that need it skip with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_file(relative: str) -> Path:
    """Path of a file under ../shared, or skip the test saying it is absent."""
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"needs ../shared/{relative} (datasets and media beside the repo); not present here")
    return path


@pytest.fixture
def shared() -> "callable":
    return shared_file


@pytest.fixture
def env(tmp_path, monkeypatch):
    """(tmp_path, config path): a private config file and user folders, so tests never touch the real user's settings
    or packs. Modules that run the CLI in a child process define their own ``env`` (an environment dict)."""
    from vcam_emoji.config import ensure_config_file

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    return tmp_path, str(ensure_config_file(tmp_path / "config.toml"))
