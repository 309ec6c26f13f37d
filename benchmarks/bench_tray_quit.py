"""How long Quit takes in the tray app with each output it can have without a virtual camera (preview window,
"Show preview" beside no output, a video file), on a virtual desktop: Xvfb and trayer, the real `emoji-cam` process.

    .venv/bin/python benchmarks/bench_tray_quit.py [--runs 3]

Quit is timed from the menu click (the tray's test control) to the process's exit. The issue's bound is 2 s; before
the preview window lived on one thread it took 20-40 s. Needs Debian's xvfb, xdotool, trayer and dbus-daemon (the
test command installs them). Prints figures; asserts nothing (tests/test_tray_desktop.py checks that Quit is clean).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import describe  # noqa: E402  (benchmarks/_machine.py)

from tests.tray_desktop import desktop, poll  # noqa: E402  (the tray tests' virtual desktop)
from vcam_emoji.config import ensure_config_file  # noqa: E402

SINKS = {"preview": ["--sink", "preview"], "tee": ["--sink", "none"], "file": ["--sink", "{tmp}/out.mp4"]}


def quit_once(folder: Path, sink: str) -> tuple[float, int, str]:
    with desktop(folder) as d:
        config = ensure_config_file(folder / "config.toml")
        args = [a.replace("{tmp}", str(folder)) for a in SINKS[sink]]
        tray = d.tray("--source", "demo", "--config", str(config), *args)
        try:
            tray.wait_for("the first frame", lambda s: s["state"] == "running")
            if sink == "tee":
                tray.ask("click preview")
            if sink != "file" and not poll(lambda: d.xdotool("search", "--name", "^Emoji Cam preview$")):
                raise SystemExit(f"no preview window appeared; stderr:\n{tray.stderr}")
            time.sleep(1.0)  # frames flowing into the window
            started = time.monotonic()
            tray.send("click quit")
            code = tray.wait_exit()
            return time.monotonic() - started, code, tray.stderr
        finally:
            tray.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="Quits per output (default 3)")
    runs = max(1, parser.parse_args().runs)
    print(describe())
    for sink in SINKS:
        took, notes = [], set()
        for i in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, code, stderr = quit_once(Path(tmp), sink)
            took.append(seconds)
            if code != 0:
                notes.add(f"exit code {code}")
            if "did not stop within" in stderr or "Traceback" in stderr:
                notes.add("not a clean quit (see the tray's stderr)")
        print(f"{sink:8s} Quit in {min(took):.2f}-{max(took):.2f} s (median {statistics.median(took):.2f}, "
              f"{runs} runs){'; ' + ', '.join(sorted(notes)) if notes else ''}")


if __name__ == "__main__":
    main()
