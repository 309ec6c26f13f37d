"""`vcam-emoji studio` in a child process with its own temporary home, and the address it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r"Emoji Cam Studio: (http://127\.0\.0\.1:(\d+)/\?token=([\w-]+))")


@dataclass
class StudioProcess:
    proc: subprocess.Popen
    home: Path
    stderr: list[str] = field(default_factory=list)
    url: str = ""
    port: int = 0
    token: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.home / "config" / "vcam-emoji" / "config.toml"

    @property
    def packs_dir(self) -> Path:
        return self.home / "data" / "vcam-emoji" / "packs"

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the engine stops between two frames, then the server
        return self.proc.wait(timeout=timeout)


def start_studio(home: Path, *args: str, port: int = 0) -> StudioProcess:
    """Start it and wait for its address (printed once the server answers)."""
    home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_CACHE_HOME=str(home / "cache"), PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "vcam_emoji", "studio", "--no-browser", "--port", str(port),
                             *args], cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    studio = StudioProcess(proc, home)
    threading.Thread(target=lambda: studio.stderr.extend(proc.stderr), daemon=True).start()
    for line in proc.stdout:
        match = URL_LINE.search(line)
        if match:
            studio.url, studio.port, studio.token = match.group(1), int(match.group(2)), match.group(3)
            threading.Thread(target=lambda: proc.stdout.read(), daemon=True).start()  # keep the pipe drained
            return studio
    proc.wait(timeout=30)
    raise RuntimeError("vcam-emoji studio ended without printing its address:\n" + "".join(studio.stderr))
