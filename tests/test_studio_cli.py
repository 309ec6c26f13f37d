"""`vcam-emoji studio` as a user runs it, the port rule, and the rule that the engine imports no UI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request

from studio_process import REPO, start_studio

from studio.server import bind_socket


def test_the_engine_side_imports_no_ui():
    code = ("import importlib, pkgutil, sys, vcam_emoji\n"
            "for m in pkgutil.walk_packages(vcam_emoji.__path__, 'vcam_emoji.'):\n"
            "    if not m.name.startswith('vcam_emoji.training') and not m.name.endswith('__main__'):\n"
            "        importlib.import_module(m.name)\n"
            "from vcam_emoji.cli import build_parser\n"
            "build_parser().parse_args(['studio', '--source', 'demo'])\n"
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('studio', 'tray', 'starlette', 'uvicorn', "
            "'jinja2', 'pystray')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    # the `studio` entry point's function lives in the package's light __init__ (its help line); nothing else of it
    assert out.stdout.strip() == "['studio']"


def test_no_engine_module_names_the_ui_packages():
    """vcam_emoji reaches the Studio and the tray only through entry points (pyproject.toml), never an import."""
    import ast

    named = []
    for path in sorted((REPO / "vcam_emoji").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            named += [f"{path.relative_to(REPO)}:{node.lineno} {m}" for m in modules
                      if m.split(".")[0] in ("studio", "tray", "starlette", "uvicorn", "jinja2", "pystray")]
    assert named == []


def test_studio_help_and_bad_usage():
    cli = [sys.executable, "-m", "vcam_emoji"]
    shown = subprocess.run([*cli, "studio", "--help"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert shown.returncode == 0 and "--no-browser" in shown.stdout and "--source" in shown.stdout
    assert "--classifier" in shown.stdout  # the model options, as for run and render
    listed = subprocess.run([*cli, "--help"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "studio" in listed.stdout
    bad = subprocess.run([*cli, "studio", "--port", "many"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and "--port: must be a whole number from 0 to 65535" in bad.stderr
    assert "got 'many'" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([*cli, "studio", "--seconds", "inf"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert bad.returncode == 2 and "finite" in bad.stderr


def test_the_socket_is_on_127_0_0_1_only_and_a_busy_port_picks_another_and_says_which():
    first, port, note = bind_socket(0)
    try:
        assert first.getsockname()[0] == "127.0.0.1" and note == ""
        second, other, note = bind_socket(port)
        second.close()
        assert other != port and note == f"port {port} is in use (another Studio, or another program), so this " \
                                          f"Studio uses port {other}"
    finally:
        first.close()


def _get(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_two_studios_run_on_two_ports_each_with_its_own_token(tmp_path):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    a = start_studio(tmp_path / "a", "--source", "demo", "--sink", "none", port=port)
    try:
        assert a.port == port
        b = start_studio(tmp_path / "b", "--source", "demo", "--sink", "none", port=port)
        try:
            assert b.port != port
            said = threading.Event()  # stderr is read on its own thread: wait (bounded) for the line to arrive
            for _ in range(200):
                if any(f"port {port} is in use" in line and f"uses port {b.port}" in line for line in b.stderr):
                    said.set()
                    break
                said.wait(0.05)
            assert said.is_set(), b.stderr
            status, body = _get(f"{a.base}/api/v1/status", a.token)
            assert status == 200 and body["demo"] is True
            status, body = _get(f"{b.base}/api/v1/status", a.token)
            assert status == 401 and "wrong token" in body["error"]  # each run has its own token
            assert _get(f"{b.base}/api/v1/status", b.token)[0] == 200
        finally:
            assert b.stop() == 0
    finally:
        assert a.stop() == 0
    assert any("stopped after" in line for line in a.stderr) and not any("Traceback" in line for line in a.stderr)


def test_studio_writes_the_live_timeline_and_needs_force_to_replace_a_recording(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    existing = home / "rec.mp4"
    existing.write_bytes(b"an earlier recording")
    env = {"XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "PYTHONPATH": str(REPO)}
    refused = subprocess.run([sys.executable, "-m", "vcam_emoji", "studio", "--no-browser", "--source", "demo",
                              "--sink", str(existing), "--seconds", "1"], capture_output=True, text=True, cwd=home,
                             env={**os.environ, **env}, timeout=120)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "rec.mp4: already exists; add --force to replace it" in refused.stderr
    assert existing.read_bytes() == b"an earlier recording"

    timeline = home / "session.jsonl"
    studio = start_studio(home, "--source", "demo", "--sink", str(existing), "--force", "--timeline", str(timeline))
    try:
        for _ in range(600):  # until a few frames are in the timeline (bounded: 60 s)
            if timeline.exists() and len(timeline.read_text().splitlines()) >= 5:
                break
            threading.Event().wait(0.1)
    finally:
        assert studio.stop() == 0
    records = [json.loads(line) for line in timeline.read_text().splitlines()]
    assert len(records) >= 5 and all("faces" in r and "t" in r for r in records)
    assert any(f"appending the emotion timeline to {timeline}" in line for line in studio.stderr)
    assert existing.read_bytes() != b"an earlier recording" and existing.stat().st_size > 0  # --force replaced it
