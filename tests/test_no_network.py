"""No network use: `vcam-emoji run` and `render` open no socket but local ones, and onnxruntime's telemetry is off.

onnxruntime (1.29 and later) has built-in telemetry in native code: it looks up and uploads to
mobile.events.data.microsoft.com about 10 s after it is imported, and keeps a device id and an event queue under
``$HOME/.cache/Microsoft/DeveloperTools/.onnxruntime`` from the moment it is imported. Native code does not go
through Python's ``socket`` module, so three checks, each run as a user would start the program (a subprocess with a
fresh HOME and none of the CI variables that make onnxruntime quiet by itself):

- a Python audit hook (``sys.addaudithook`` in a ``sitecustomize``) records every ``socket.*`` event: catches any
  Python code (ours or a library's) that opens a socket or looks up a host name;
- the fresh HOME is searched for onnxruntime's files: they appear at import unless its telemetry is really off, so
  this catches the native telemetry immediately, on every machine (the control test shows they do appear here when
  the switch is missing);
- where strace is installed, the native ``socket()`` calls of the whole process tree are traced for longer than the
  telemetry's first upload delay, with every ``socket()`` call made to fail (so nothing can leave the machine even
  if a check fails); the control run shows that this harness does see onnxruntime's own attempts.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO
from vcam_emoji.config import ensure_config_file

DEMO_CLIP = REPO / "vcam_emoji" / "demo" / "demo_one_face.mp4"
# Variables that make onnxruntime switch its telemetry off by itself (strings in its library): a test run on a CI
# machine would otherwise pass whether or not Emoji Cam does anything.
QUIETING_VARIABLES = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
                      "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
                      "ORT_RUNNING_UNIT_TESTS", "ORT_DISABLE_TELEMETRY")
TELEMETRY_UPLOAD_DELAY_S = 10  # measured: the first lookup comes 9-10 s after the import
AUDIT_HOOK = textwrap.dedent("""
    import os, sys
    _log = open(os.environ["EMOJI_CAM_SOCKET_LOG"], "a", encoding="utf-8", buffering=1)

    def _family(args):
        sock = args[0] if args else None
        if sock is not None and hasattr(sock, "family"):
            try:
                return int(sock.family)
            except Exception:
                return -1
        return -1

    def _hook(event, args):
        if not event.startswith("socket."):
            return
        if event == "socket.__new__":
            family = int(args[1]) if len(args) > 1 and isinstance(args[1], int) else -1
        else:
            family = _family(args)
        _log.write(f"{os.getpid()} {event} family={family} {args[1:2]!r}\\n")

    sys.addaudithook(_hook)
""")


def clean_environment(home: Path, hook_dir: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in QUIETING_VARIABLES}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"))
    if hook_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
        env["EMOJI_CAM_SOCKET_LOG"] = str(hook_dir / "sockets.log")
    return env


def onnxruntime_files(home: Path) -> list[str]:
    found = [p for p in home.rglob("*") if "Microsoft" in p.parts or p.name in ("deviceid", "onnxruntime.db")]
    return sorted(str(p.relative_to(home)) for p in found)


@pytest.fixture
def sandbox(tmp_path):
    """(home, hook_dir, config, work): a fresh HOME, the audit hook, a private config and a working folder."""
    home, hook_dir, work = tmp_path / "home", tmp_path / "hook", tmp_path / "work"
    for folder in (home, hook_dir, work):
        folder.mkdir()
    (hook_dir / "sitecustomize.py").write_text(AUDIT_HOOK)
    config = ensure_config_file(work / "config.toml")
    return home, hook_dir, config, work


def commands(config: Path, work: Path, run_seconds: float) -> list[list[str]]:
    python = [sys.executable, "-m", "vcam_emoji"]
    return [
        [*python, "run", "--config", str(config), "--source", "demo", "--sink", "none", "--seconds", str(run_seconds),
         "--stats-every", "0"],
        [*python, "run", "--config", str(config), "--source", "demo", "--sink", str(work / "live.avi"),
         "--seconds", "2", "--stats-every", "0"],
        [*python, "render", "--config", str(config), "-q", str(DEMO_CLIP), str(work / "clip.mp4")],
        [*python, "render", "--config", str(config), "-q", str(FIXTURES / "astronaut_256.jpg"),
         str(work / "photo.png")],
        [*python, "analyze", "--config", str(config), "-q", str(FIXTURES / "astronaut_256.jpg"), "--out",
         str(work / "report")],
    ]


def socket_events(hook_dir: Path) -> list[str]:
    log = hook_dir / "sockets.log"
    lines = log.read_text().splitlines() if log.exists() else []
    import socket

    local = f"family={int(socket.AF_UNIX)} "
    return [line for line in lines if local not in line]


def test_every_onnxruntime_import_goes_through_import_onnxruntime():
    """The telemetry switch must be set before onnxruntime is imported: only onnx_session.py may import it."""
    offenders = []
    for folder in ("vcam_emoji", "tray", "studio", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path.name == "onnx_session.py" and path.parent.name == "vcam_emoji":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # onnxruntime.quantization & co. may be imported where import_onnxruntime() is called first
            switched = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "import_onnxruntime"
                           for n in ast.walk(tree))
            for node in ast.walk(tree):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                if any(n == "onnxruntime" or (n.startswith("onnxruntime.") and not switched) for n in names):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == [], "import onnxruntime through vcam_emoji.onnx_session.import_onnxruntime(): " + \
        ", ".join(offenders)


def test_control_onnxruntime_writes_its_files_when_the_switch_is_missing(tmp_path):
    """Shows that the fresh-HOME check below can fail: plain onnxruntime, imported without the switch, writes its
    device id at once (the process exits right away, before its first upload)."""
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run([sys.executable, "-c", "import onnxruntime"], env=clean_environment(home), check=True,
                   timeout=120)
    if not onnxruntime_files(home):
        pytest.skip("this onnxruntime build has no telemetry (it wrote nothing), so there is nothing to switch off")
    assert any(name.endswith("deviceid") for name in onnxruntime_files(home))


def test_run_render_and_analyze_open_no_network_socket_and_leave_no_onnxruntime_files(sandbox):
    home, hook_dir, config, work = sandbox
    env = clean_environment(home, hook_dir)
    for cmd in commands(config, work, run_seconds=3):
        proc = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd[3:]}: {proc.stderr}"
        assert "Traceback" not in proc.stderr
    assert (work / "clip.mp4").stat().st_size > 0 and (work / "photo.png").stat().st_size > 0
    assert (work / "live.avi").stat().st_size > 0 and (work / "report" / "report.json").stat().st_size > 0
    assert (hook_dir / "sockets.log").exists(), "the audit hook was not installed"
    assert socket_events(hook_dir) == []
    assert onnxruntime_files(home) == []


def _strace_works() -> str | None:
    strace = shutil.which("strace")
    if strace is None:
        return "strace is not installed (apt install strace); the audit-hook and HOME checks still ran"
    probe = subprocess.run([strace, "-f", "-qq", "-e", "trace=socket", "-o", os.devnull, sys.executable, "-c", "0"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"strace cannot trace here ({probe.stderr.strip()[:200]})"
    return None


def traced(cmd: list[str], trace: Path) -> list[str]:
    # Every socket() call fails (EACCES), so even a failing check sends nothing; strace still records the attempt.
    return ["strace", "-f", "-qq", "-e", "trace=socket", "-e", "inject=socket:error=EACCES", "-o", str(trace), *cmd]


def native_sockets(trace: Path) -> list[str]:
    calls = [line for line in trace.read_text().splitlines() if "socket(" in line]
    return [line for line in calls if not re.search(r"socket\((AF_UNIX|AF_LOCAL),", line)]


def test_no_native_socket_for_longer_than_the_telemetry_upload_delay(sandbox, tmp_path):
    why_not = _strace_works()
    if why_not:
        pytest.skip(why_not)
    home, hook_dir, config, work = sandbox
    env = clean_environment(home, hook_dir)
    # The control: plain onnxruntime without the switch, alive past its upload delay, traced the same way.
    control_home = tmp_path / "control-home"
    control_home.mkdir()
    control_trace = tmp_path / "control.trace"
    control = subprocess.Popen(traced([sys.executable, "-c", f"import time, onnxruntime; "
                                       f"time.sleep({TELEMETRY_UPLOAD_DELAY_S + 5})"], control_trace),
                               env=clean_environment(control_home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        for i, cmd in enumerate(commands(config, work, run_seconds=TELEMETRY_UPLOAD_DELAY_S + 5)):
            trace = tmp_path / f"command{i}.trace"
            proc = subprocess.run(traced(cmd, trace), env=env, cwd=work, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, f"{cmd[3:]}: {proc.stderr}"
            assert native_sockets(trace) == [], f"{cmd[3:]} tried to open network sockets"
    finally:
        control.wait(timeout=120)
    assert socket_events(hook_dir) == []
    assert onnxruntime_files(home) == []
    if not native_sockets(control_trace):
        pytest.skip("this onnxruntime build makes no network attempt of its own; the commands made none either")
    assert any("AF_INET" in line for line in native_sockets(control_trace))


def test_the_switch_is_forced_on_and_a_late_switch_is_reported(monkeypatch, caplog):
    from vcam_emoji import onnx_session

    monkeypatch.setenv("ORT_DISABLE_TELEMETRY", "0")  # a user's "0" does not turn it back on
    monkeypatch.setitem(sys.modules, "onnxruntime", sys.modules.get("onnxruntime", object()))
    assert onnx_session.disable_onnxruntime_telemetry() is False  # imported before the switch: said so
    assert os.environ["ORT_DISABLE_TELEMETRY"] == "1"
    assert "imported before Emoji Cam could switch its telemetry off" in caplog.text
    caplog.clear()
    assert onnx_session.disable_onnxruntime_telemetry() is True  # on before the (pretend) import: nothing to say
    assert caplog.text == ""
