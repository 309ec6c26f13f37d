"""The preview window's one thread (vcam_emoji/sink/preview.py): every window call on it, in order, whoever asks;
then, under Xvfb, real windows opened, fed and closed from different threads, one after another, in one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from vcam_emoji.sink.preview import CallerThreadGui, GuiThread

REPO = Path(__file__).resolve().parents[1]
WAIT_S = 60.0  # a guard against hanging, not a speed requirement


def test_calls_from_any_thread_run_on_the_one_window_thread_in_order():
    gui, ran = GuiThread(name="test-window"), []
    callers = [threading.Thread(target=lambda k=k: gui.call(lambda: ran.append((k, threading.get_ident())), WAIT_S))
               for k in range(5)]
    for caller in callers:
        caller.start()
        caller.join()
    gui.post(lambda: ran.append(("posted", threading.get_ident())))
    gui.call(lambda: None, WAIT_S)  # the posted job ran before this one
    assert [k for k, _ in ran] == [0, 1, 2, 3, 4, "posted"]
    assert {ident for _, ident in ran} == {gui.ident} and gui.ident != threading.get_ident()


def test_a_call_returns_the_result_or_raises_the_error_on_the_caller():
    gui = GuiThread(name="test-window")
    assert gui.call(lambda: 42, WAIT_S) == 42
    with pytest.raises(ZeroDivisionError):
        gui.call(lambda: 1 / 0, WAIT_S)
    assert gui.call(lambda: gui.call(lambda: "inner", WAIT_S), WAIT_S) == "inner"  # from the thread itself: at once


def test_a_failing_posted_job_does_not_end_the_thread(caplog):
    gui = GuiThread(name="test-window")
    gui.post(lambda: 1 / 0)
    assert gui.call(lambda: "still here", WAIT_S) == "still here"
    assert "a preview window call failed" in caplog.text


def test_a_call_that_does_not_finish_in_time_is_a_timeout_not_a_hang():
    gui, release = GuiThread(name="test-window"), threading.Event()
    gui.post(lambda: release.wait(WAIT_S))
    with pytest.raises(TimeoutError, match="did not answer within 0.2 s"):
        gui.call(lambda: None, 0.2)
    release.set()


def test_on_macos_the_calls_run_on_the_callers_thread():
    gui = CallerThreadGui()
    assert gui.call(threading.get_ident, WAIT_S) == threading.get_ident()


PROGRAM = textwrap.dedent("""
    import threading, numpy as np
    from vcam_emoji.sink.preview import PreviewSink
    import cv2

    frame = np.full((120, 160, 3), 90, np.uint8)
    box = {}
    for round in range(3):  # open on one thread, feed from another, close from the main thread; three times
        opener = threading.Thread(target=lambda: box.update(sink=PreviewSink((160, 120), window_name=f"w{round}")))
        opener.start(); opener.join()
        feeder = threading.Thread(target=lambda: [box["sink"].send(frame) for _ in range(30)])
        feeder.start(); feeder.join()
        seen = box["sink"]._gui.call(lambda: cv2.getWindowProperty(f"w{round}", cv2.WND_PROP_VISIBLE), 10)
        box["sink"].close()
        print(f"round {round}: visible {seen}", flush=True)
    print("done", flush=True)
    # end as emoji-cam does (tray.app.entry): Qt's exit-time destructors run on the main thread and would warn about
    # the window thread's timers (vcam-emoji run keeps its window on the main thread instead)
    import os, sys
    sys.stderr.flush()
    os._exit(0)
""")


@pytest.mark.needs_display
def test_windows_opened_fed_and_closed_from_different_threads_work_and_warn_nothing(tmp_path: Path):
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install -y xvfb)")
    from tests.tray_desktop import Xvfb

    xvfb = Xvfb()
    try:
        env = {**os.environ, "DISPLAY": xvfb.display, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
        result = subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True,
                                timeout=WAIT_S, cwd=tmp_path, check=False)
    finally:
        xvfb.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"round {k}: visible 1.0" for k in range(3)] + ["done"], result.stdout
    assert "Timers cannot" not in result.stderr and "QObject" not in result.stderr, result.stderr
