"""The live loop, headless: fps, per-frame latency (input frame taken -> handed to the sink) and CPU use.

    .venv/bin/python benchmarks/bench_live.py [--seconds 20] [--source demo|FILE] [--sink none|FILE.avi] [--studio]
                                              [--rates 15,0]

Runs the real engine (models, tracking, smoothing, compositing) at 1280x720, 30 fps, the way `vcam-emoji run` does,
once per classifier.rate_hz in --rates (default 15 then 0 = every frame), one after the other in the same process,
and prints for each: fps, latency, the process's CPU, and the classify stage's share of one core (its time per
second of wall time; onnxruntime runs it on one thread). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vcam_emoji.cli import open_run_sink  # noqa: E402
from vcam_emoji.config import Config  # noqa: E402
from vcam_emoji.engine import Engine  # noqa: E402
from vcam_emoji.inputs import input_opener  # noqa: E402
from vcam_emoji.types import FrameResult  # noqa: E402
from _machine import describe  # noqa: E402  (benchmarks/_machine.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--source", default="demo", help="demo, or a video/photo file")
    ap.add_argument("--sink", default="none", help="none (drop frames), or a video file path")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads per model")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--classifier", default="default")
    ap.add_argument("--rates", default="15,0", help="classifier.rate_hz values to run one after the other")
    ap.add_argument("--studio", action="store_true", help="run with the Studio server instead: --seconds with no "
                    "page open, then --seconds with the Live page's picture stream open (read by another process), "
                    "side by side")
    args = ap.parse_args()
    print(describe())
    if args.studio:
        run_studio(args)
        return
    for rate in (float(r) for r in args.rates.split(",")):
        run_once(args, rate)


def run_once(args: argparse.Namespace, rate_hz: float) -> None:
    config = Config().with_changes({"runtime.threads": args.threads, "runtime.execution_provider": "cpu",
                                    "detector.model": args.detector, "classifier.model": args.classifier,
                                    "classifier.rate_hz": rate_hz})
    size, fps = (config.camera.width, config.camera.height), config.camera.fps
    open_input, source_message = input_opener(args.source, config)
    sink, sink_message = open_run_sink(args.sink, config, size, fps)
    results: list[tuple[float, FrameResult]] = []
    engine = Engine(config, open_input=open_input, sink=sink, sink_description=sink_message,
                    on_result=lambda r: results.append((time.perf_counter(), r)))
    latencies: list[float] = []
    sent_at: list[float] = []
    original_send = engine._send  # measure the latency of every frame, not only the stats window

    def send(frame, t_capture, result=None):
        original_send(frame, t_capture, result)
        now = time.monotonic()
        sent_at.append(now)
        if t_capture is not None:
            latencies.append((now - t_capture) * 1000)

    engine._send = send
    timer = threading.Timer(args.seconds, engine.stop)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    timer.start()
    engine.run()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    sink.close()
    lat = np.array(latencies[30:])  # skip the first second (warm-up)
    faces = [len(r.faces) for _, r in results]
    steady_results = [r for t, r in results if t - results[0][0] >= 1.0]
    span = results[-1][0] - results[0][0] - 1.0
    classify_ms = sum(r.stage_ms.get("classify", 0.0) for r in steady_results)
    classified = sum(f.classified for r in steady_results for f in r.faces)
    face_frames = sum(len(r.faces) for r in steady_results)
    print(f"\n== classifier.rate_hz = {rate_hz:g}" + (" (every frame)" if rate_hz == 0 else ""))
    print(f"live loop, {source_message}; output: {sink_message}")
    print(f"{size[0]}x{size[1]} target {fps:g} fps, detector {engine.info.detector}, classifier {engine.info.classifier}, "
          f"{args.threads} thread(s) per model, {os.cpu_count()} cores, {wall:.1f} s")
    steady = [t for t in sent_at if t - sent_at[0] >= 1.0]  # after the first second (start-up, warm-up)
    steady_fps = (len(steady) - 1) / (steady[-1] - steady[0])
    print(f"frames {len(sent_at)} in {wall:.1f} s including start-up; steady {steady_fps:.2f} fps after the first "
          f"second; faces per frame min {min(faces)} max {max(faces)}")
    print(f"latency ms: p50 {np.percentile(lat, 50):.1f}  p99 {np.percentile(lat, 99):.1f}  max {lat.max():.1f}")
    print(f"CPU: {100 * cpu / wall:.0f}% of one core ({100 * cpu / wall / os.cpu_count():.0f}% of the machine)")
    print(f"classify stage: {classified / span:.1f} classifications/s for {face_frames / span:.1f} face-frames/s, "
          f"{classify_ms / max(classified, 1):.2f} ms each, {classify_ms / span / 10:.1f}% of one core "
          f"(after the first second)")


def run_studio(args: argparse.Namespace) -> None:
    """The same engine with the Studio attached: a phase with no page open, then one with the Live picture open."""
    import subprocess
    import tempfile

    from studio.server import StudioServer
    from studio.state import StudioState
    from vcam_emoji.config import ensure_config_file

    config = Config().with_changes({"runtime.threads": args.threads, "runtime.execution_provider": "cpu",
                                    "detector.model": args.detector, "classifier.model": args.classifier})
    size, fps = (config.camera.width, config.camera.height), config.camera.fps
    open_input, source_message = input_opener(args.source, config)
    sink, sink_message = open_run_sink(args.sink, config, size, fps)
    engine = Engine(config, open_input=open_input, sink=sink, sink_description=sink_message)
    sent: list[tuple[float, float | None]] = []
    original_send = engine._send

    def send(frame, t_capture, result=None):
        original_send(frame, t_capture, result)
        now = time.monotonic()
        sent.append((now, (now - t_capture) * 1000 if t_capture is not None else None))

    engine._send = send
    folder = tempfile.mkdtemp(prefix="bench-studio-")
    server = StudioServer(StudioState(engine, ensure_config_file(Path(folder) / "config.toml")), port=0)
    server.start()
    marks: dict[str, tuple[float, float]] = {}
    reader: list[subprocess.Popen] = []

    def phases() -> None:
        marks["start"] = (time.monotonic(), time.process_time())
        time.sleep(args.seconds)
        marks["open"] = (time.monotonic(), time.process_time())
        code = ("import sys, urllib.request\n"
                f"r = urllib.request.urlopen(urllib.request.Request('{server.guard.url('/api/v1/live.mjpeg')}'))\n"
                "n = 0\nwhile True:\n    b = r.read(65536)\n    n += len(b)\n    if not b: break\n")
        reader.append(subprocess.Popen([sys.executable, "-c", code]))
        time.sleep(args.seconds)
        marks["end"] = (time.monotonic(), time.process_time())
        engine.stop()

    time.sleep(2.0)  # models warm, first frames out
    threading.Thread(target=phases, daemon=True).start()
    engine.run()
    viewers_seen = server.state.hub.frames_seen
    for proc in reader:
        proc.terminate()
        proc.wait(10)
    server.stop()
    sink.close()

    def figures(a: str, b: str) -> tuple[float, float, float, float]:
        (t0, c0), (t1, c1) = marks[a], marks[b]
        t0 += 1.0  # skip a second after each switch
        part = [(t, lat) for t, lat in sent if t0 <= t <= t1]
        lat = np.array([lat for _, lat in part if lat is not None])
        fps_ = (len(part) - 1) / (part[-1][0] - part[0][0])
        return fps_, float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), 100 * (c1 - c0) / (t1 - t0 + 1.0)

    closed, opened = figures("start", "open"), figures("open", "end")
    print(f"live loop with the Studio server, {source_message}; output: {sink_message}; {size[0]}x{size[1]} target "
          f"{fps:g} fps, detector {engine.info.detector}, classifier {engine.info.classifier}, {args.threads} "
          f"thread(s) per model, {args.seconds:g} s per column")
    print(f"{'':28}{'no page open':>16}{'Live page open':>18}")
    print(f"{'fps':28}{closed[0]:16.2f}{opened[0]:18.2f}")
    print(f"{'latency p50 ms':28}{closed[1]:16.1f}{opened[1]:18.1f}")
    print(f"{'latency p99 ms':28}{closed[2]:16.1f}{opened[2]:18.1f}")
    print(f"{'CPU, % of one core':28}{closed[3]:16.0f}{opened[3]:18.0f}")
    print(f"frames handed to the live picture: {viewers_seen} (all while the page was open)")


if __name__ == "__main__":
    main()
