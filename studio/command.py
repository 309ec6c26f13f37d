"""`vcam-emoji studio`: the live engine, as `vcam-emoji run` runs it, with the Studio page instead of a tray.

It prints the page's address with this run's token (``http://127.0.0.1:PORT/?token=...``) and opens it in the
default browser unless ``--no-browser``. The command reaches `vcam-emoji` as a ``vcam_emoji.commands`` entry point
(``studio.run_command``, pyproject.toml), which hands it its arguments; this module is imported only when it runs, and
the engine side never imports the UI.

Exit codes as for `vcam-emoji run`: 0 stopped (Ctrl-C, SIGTERM, --seconds), 1 cannot start or the output failed,
2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
import sys
import webbrowser
from collections.abc import Sequence

from vcam_emoji.cli import (EXIT_FAIL, live_timeline_path, load_settings, open_run_sink, open_run_timeline,
                            run_exit_code, run_until_stopped)
from vcam_emoji.cli_types import MAX_SECONDS, port, positive_seconds
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.model_options import add_model_options, apply_model_options, model_overrides

from .server import DEFAULT_PORT

log = logging.getLogger(__name__)

HELP = ("run the live Emoji Cam with Studio, a page in your browser (on this computer only) to see and set "
        "everything")


def build_parser(prog: str = "vcam-emoji studio") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=HELP + ". Prints the page's address with its token and "
                                "opens it in the default browser.")
    p.add_argument("--source", default="auto", metavar="camera|demo|FILE",
                   help="camera: the configured camera (waits while it is unavailable); demo: the bundled demo clip; "
                   "FILE: a video or photo, looped; default auto: the camera, else the demo clip")
    p.add_argument("--sink", metavar="vcam|preview|none|FILE",
                   help="where the frames go: vcam, preview, none, or a video file (default: the config's "
                   "output.sink)")
    p.add_argument("--port", type=port, default=DEFAULT_PORT, metavar="N",
                   help=f"port on 127.0.0.1, 0..65535 (default {DEFAULT_PORT}; a busy port picks the next free one, "
                   "and says so; 0 = any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open the browser; only print the address")
    p.add_argument("--seconds", type=positive_seconds, default=None, metavar="S",
                   help=f"stop after S seconds (above 0, at most {MAX_SECONDS} = 30 days; default: until Ctrl-C)")
    p.add_argument("--timeline", metavar="FILE.jsonl", help="append one JSON line per frame (faces, probabilities, "
                   "emotion shown), as vcam-emoji run does; default: the config's timeline.path")
    p.add_argument("--force", action="store_true", help="let --sink FILE replace an existing file (never the "
                   "source or the timeline)")
    p.add_argument("--config", metavar="PATH", help="settings file (default: the one in your user config folder, "
                   "created with comments on first run)")
    add_model_options(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except EmojiCamError as exc:
        print(f"vcam-emoji: error: {exc}", file=sys.stderr)
        return EXIT_FAIL


def run(args: argparse.Namespace) -> int:
    from vcam_emoji.config import ConfigWatcher
    from vcam_emoji.engine import Engine
    from vcam_emoji.inputs import input_opener

    from .server import StudioServer
    from .state import StudioState

    config, config_path = load_settings(args.config)
    config = apply_model_options(config, args)
    overrides = model_overrides(args)
    size_wh, fps = (config.camera.width, config.camera.height), config.camera.fps
    open_input, source_message = input_opener(args.source, config)
    print(f"vcam-emoji: {source_message}", file=sys.stderr)
    timeline_path = live_timeline_path(args.timeline, config)
    sink, sink_message = open_run_sink(args.sink or config.output.sink, config, size_wh, fps, source=args.source,
                                       timeline=timeline_path, force=args.force)
    print(f"vcam-emoji: output: {sink_message}", file=sys.stderr)
    server = timeline_file = None
    try:
        on_result, timeline_file = open_run_timeline(timeline_path, source=args.source, sink=sink)
        engine = Engine(config, open_input=open_input, sink=sink, sink_description=sink_message,
                        config_watcher=ConfigWatcher(config_path, initial=config, overrides=overrides),
                        on_result=on_result)
        server = StudioServer(StudioState(engine, config_path, overrides=overrides), port=args.port)
        url = server.start()
        if server.port_note:
            print(f"vcam-emoji: {server.port_note}", file=sys.stderr)
        print(f"vcam-emoji: {size_wh[0]}x{size_wh[1]} at {fps:g} fps; detector {engine.info.detector}, classifier "
              f"{engine.info.classifier} on {', '.join(engine.info.providers)}; settings: {config_path}; Ctrl-C stops",
              file=sys.stderr)
        print(f"Emoji Cam Studio: {url}", flush=True)
        if not args.no_browser and not webbrowser.open(url):
            print("vcam-emoji: no browser could be opened here; open the address above yourself", file=sys.stderr)
        run_until_stopped(engine, args.seconds)
    finally:
        if server is not None:
            server.stop()
        sink.close()
        if timeline_file is not None:
            timeline_file.close()
    return run_exit_code(engine)
