"""The v4l2loopback set-up script that `vcam-emoji setup-vcam` runs: shellcheck, --help, and --dry-run with fake
system tools on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = REPO / "vcam_emoji" / "installers" / "setup-v4l2loopback.sh"
OPTIONS_LINE = 'options v4l2loopback devices=1 video_nr=10 card_label="Emoji Cam" exclusive_caps=1'
BASIC_TOOLS = ("bash", "cat", "sed", "dirname", "basename", "uname", "id", "mkdir")

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def fake_path(tmp_path: Path, tools: dict[str, str]) -> tuple[str, Path]:
    """A PATH with only basic tools plus fake ``tools`` (name -> extra shell body); every fake call is logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in BASIC_TOOLS:
        real = shutil.which(name)
        if real is None:
            pytest.skip(f"needs {name} on PATH")
        (bin_dir / name).symlink_to(real)
    for name, body in tools.items():
        fake = bin_dir / name
        fake.write_text(f'#!{shutil.which("bash")}\necho "{name} $*" >> "{log}"\n{body}\n')
        fake.chmod(0o755)
    return str(bin_dir), log


def run_script(*args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": path or os.environ.get("PATH", ""), "LC_ALL": "C"}
    return subprocess.run(
        [shutil.which("bash"), str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_is_executable_with_strict_mode():
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert os.access(SCRIPT, os.X_OK)


def test_help():
    result = run_script("--help")
    assert result.returncode == 0
    assert "--dry-run" in result.stdout and "exclusive_caps" not in result.stderr
    assert "v4l2loopback-dkms v4l2loopback-utils" in result.stdout


def test_unknown_option_is_a_usage_error():
    result = run_script("--frobnicate")
    assert result.returncode == 2
    assert "unknown option: --frobnicate" in result.stderr


def test_bad_video_nr_is_refused():
    result = run_script("--dry-run", "--video-nr", "ten")
    assert result.returncode != 0
    assert "--video-nr: expected a number" in result.stderr


def test_dry_run_on_apt_prints_everything_and_changes_nothing(tmp_path):
    tools = {"apt-get": "", "apt-cache": "", "modprobe": "", "mokutil": 'echo "SecureBoot enabled"'}
    path, log = fake_path(tmp_path, tools)
    root = tmp_path / "root"
    root.mkdir()
    etc_conf = Path("/etc/modprobe.d/emoji-cam.conf")
    existed = etc_conf.exists()

    result = run_script("--dry-run", "--root", str(root), path=path)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert OPTIONS_LINE in out
    assert "would run: apt-get install -y v4l2loopback-dkms v4l2loopback-utils" in out
    assert f"would write {root}/etc/modprobe.d/emoji-cam.conf:" in out
    assert f"would write {root}/etc/modules-load.d/emoji-cam.conf:" in out
    assert "would run: modprobe v4l2loopback" in out
    assert "Chrome" in out  # the config explains why exclusive_caps=1
    assert "Secure Boot is enabled" in result.stderr
    # nothing was run except the read-only Secure Boot query, and nothing was written
    assert log.read_text().splitlines() == ["mokutil --sb-state"]
    assert list(root.iterdir()) == []
    assert etc_conf.exists() == existed


def test_dry_run_on_fedora_mentions_rpm_fusion(tmp_path):
    path, log = fake_path(tmp_path, {"dnf": "", "modprobe": ""})
    result = run_script("--dry-run", "--video-nr", "42", "--name", "Party Cam", path=path)
    assert result.returncode == 0, result.stderr
    assert "would run: dnf install -y v4l2loopback akmod-v4l2loopback" in result.stdout
    assert "RPM Fusion" in result.stdout
    assert 'video_nr=42 card_label="Party Cam" exclusive_caps=1' in result.stdout
    assert not log.exists()


def test_without_a_known_package_manager_it_says_what_to_do(tmp_path):
    path, _ = fake_path(tmp_path, {})
    result = run_script("--dry-run", path=path)
    assert result.returncode == 1
    assert "no apt-get or dnf here" in result.stderr and "--skip-install" in result.stderr


def test_real_run_writes_config_under_root_and_loads_the_module(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("a real run needs root (the script refuses otherwise)")
    if Path("/sys/module/v4l2loopback").exists():
        pytest.skip("v4l2loopback is loaded here; this test needs a machine without it")
    path, log = fake_path(tmp_path, {"modprobe": ""})
    root = tmp_path / "root"

    result = run_script("--skip-install", "--root", str(root), path=path)

    # the fake modprobe cannot create a device, so the script ends by saying the camera did not appear
    assert result.returncode == 1
    assert 'no device is named "Emoji Cam"' in result.stderr
    assert OPTIONS_LINE in (root / "etc/modprobe.d/emoji-cam.conf").read_text()
    assert (root / "etc/modules-load.d/emoji-cam.conf").read_text().splitlines()[-1] == "v4l2loopback"
    assert log.read_text().splitlines() == ["modprobe v4l2loopback"]
