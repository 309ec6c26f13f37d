"""The `vcam-emoji` command: its parser, the engine-side commands, and the turning of errors into one message and an
exit code (the subcommands of the avatar, analytics, sticker, setup and Studio modules print their own progress).

Exit codes: 0 done; 1 the command could not do its job (the message says why and what to do); 2 bad usage;
128 + the signal's number when a signal stopped it (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .cli_types import MAX_SECONDS, float_range, int_range, positive_seconds
from .errors import EmojiCamError
from .fileio import Terminated, raise_on_termination

log = logging.getLogger("vcam_emoji")

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
VIDEO_CODECS = ("h264", "mjpeg", "vp9")  # video_writer.CODECS, named here so that --help needs no video libraries


def load_settings(path: str | None):
    """(Config, its path) for ``--config PATH`` or the default file (created with comments on first run)."""
    from .config import load_config

    _, config_path = _load_config_path(path)
    return load_config(config_path), config_path


def _load_config_path(path: str | None):
    """The config file to use: ``--config PATH`` (must exist), else the default one, created on first run."""
    from .config import default_config_path, ensure_config_file

    if path is None:
        created = not default_config_path().exists()
        config_path = ensure_config_file(default_config_path())
        if created:
            print(f"vcam-emoji: wrote the default settings to {config_path} (edit it to change them)", file=sys.stderr)
    else:
        config_path = Path(path).expanduser()
        if not config_path.is_file():
            raise EmojiCamError(f"{config_path}: no such config file; check --config, or leave it out to use "
                                f"{default_config_path()}")
    return None, config_path


# ---------------------------------------------------------------------------------------------------------- render
def cmd_render(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .app import build_pipeline
    from .model_options import apply_model_options
    from .render import render

    config, _ = load_settings(args.config)
    config = apply_model_options(config, args)
    pipeline, info = build_pipeline(config, pack_name=args.pack, rate_hz=args.rate_hz)
    for problem in info.pack_errors:
        print(f"vcam-emoji: warning: {problem}", file=sys.stderr)
    bar = tqdm(desc=Path(args.input).name, unit="frame", disable=args.quiet or None, file=sys.stderr)

    def on_frame(done: int, total: int | None) -> None:
        if total and bar.total != total:
            bar.total = total
        bar.update(1)

    try:
        summary = render(args.input, args.output, pipeline, timeline_path=args.timeline, on_frame=on_frame,
                         copy_audio=not args.no_audio, replace=args.force, codec=args.codec)
    finally:
        bar.close()
    if not args.quiet:
        w, h = summary.size_wh
        print(f"wrote {args.output}: {summary.frames} frame(s), {w}x{h}, {summary.fps:.2f} fps, "
              f"{summary.faces_drawn} emoji(s) drawn on {summary.frames_with_faces} frame(s) with faces; "
              f"{'video: ' + summary.video + '; ' if summary.video else ''}audio: {summary.audio}; detector {info.detector}, classifier {info.classifier}, pack {info.pack}")
        if args.timeline:
            print(f"wrote {args.timeline}: one JSON line per frame")
        if summary.frames_with_faces == 0:
            print("note: no face was found, so the output shows the input unchanged", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------ eval
def cmd_eval(args: argparse.Namespace) -> int:
    from .app import classifier_spec
    from .classify import ExpressionClassifier
    from .evaluate import check_plot_path, confusion_png, evaluate, load_labelled_faces
    from .onnx_session import create_session

    spec = classifier_spec(args.model or "default")
    inputs = [args.data, spec.path, spec.path.with_suffix(".json")]
    if args.plot:  # before the evaluation: a plot that cannot be written is said at once, not after it
        check_plot_path(args.plot, replace=args.force, inputs=inputs)
    x, y = load_labelled_faces(args.data)
    session, used = create_session(spec.path, providers=args.provider, threads=args.threads)
    classifier = ExpressionClassifier(session, spec.manifest, source=str(spec.path))
    result = evaluate(classifier, x, y)
    if args.plot:
        confusion_png(result, args.plot, title=f"{spec.name} on {Path(args.data).name}", replace=args.force,
                      inputs=inputs)
    if args.json:
        print(json.dumps({"model": spec.name, "data": str(args.data), "providers": used, **result.to_json()}))
        return EXIT_OK
    print(f"model {spec.name} ({spec.path}) on {args.data}, {result.n} faces, providers {', '.join(used)}")
    print(f"accuracy {result.accuracy * 100:.2f}%   ({result.ms_per_face:.3f} ms per face, batched)")
    print("per-class accuracy (recall):")
    for label, value in result.per_class.items():
        print(f"  {label:<9} {'n/a' if value != value else f'{value * 100:6.2f}%'}")
    from .types import EXPRESSION_LABELS

    print("confusion matrix (rows: true, columns: predicted):")
    print("          " + " ".join(f"{label[:7]:>7}" for label in EXPRESSION_LABELS))
    for label, row in zip(EXPRESSION_LABELS, result.confusion):
        print(f"  {label:<8}" + " ".join(f"{int(v):>7}" for v in row))
    if args.plot:
        print(f"wrote {args.plot}")
    return EXIT_OK


# ------------------------------------------------------------------------------------------------------------- run
SINK_KINDS = ("auto", "vcam", "preview", "none")


def open_run_sink(kind: str, config, size_wh: tuple[int, int], fps: float, *, preview_gui=None,
                  source: str | None = None, timeline: str | os.PathLike[str] | None = None, force: bool = False):
    """The sink for ``vcam-emoji run``: a kind from SINK_KINDS, "file", or a video file path. Returns (sink,
    description). ``preview_gui``: where a preview window's calls run (vcam_emoji.sink.preview; default its own
    thread). A FILE must not be ``source`` or ``timeline`` and must not exist unless ``force``; "file" and the auto
    fallback record to a new numbered emoji-cam-output.mp4 with a size cap (sink/registry.py)."""
    from .sink.memory import MemorySink
    from .sink.registry import open_sink
    from .sink.threaded import ThreadedSink
    from .sink.video_file import VideoFileSink

    if kind == "none":
        return MemorySink(size_wh, fps, max_frames=1), "no output (frames are dropped; for measuring)"
    guard = {"inputs": [source], "outputs": [timeline]}
    if kind in (*SINK_KINDS, "file"):
        sink, description = open_sink(kind, size_wh, fps, name=config.output.virtual_camera_name, **guard,
                                      **({"gui": preview_gui} if preview_gui is not None else {}))
    else:
        sink, description = open_sink("file", size_wh, fps, path=kind, replace=force, **guard)
    if isinstance(sink, VideoFileSink):  # encoding 1280x720 costs ~10 ms: do it beside the pipeline, not after it
        sink = ThreadedSink(sink)
    return sink, description


def _status_line(status) -> str:
    emotion = status.main_emotion.label if status.main_emotion is not None else "-"
    return (f"{status.state}: {status.fps:5.1f} fps, latency p50 {status.latency_ms_p50:5.1f} ms "
            f"p99 {status.latency_ms_p99:5.1f} ms, faces {status.faces}, emoji {emotion}, pack {status.pack}")


def live_timeline_path(arg: str | None, config) -> Path | None:
    """The live timeline file: ``--timeline`` or else the config's ``timeline.path`` (None: no timeline)."""
    chosen = arg or config.timeline.path
    return Path(chosen).expanduser() if chosen else None


def open_run_timeline(path: Path | None, *, source: str, sink):
    """Open the live timeline at ``path`` (appended to; never the source or the recording): its writer for the
    engine's ``on_result`` and the file to close, or (None, None) without one. Says where it goes."""
    if path is None:
        return None, None
    from .timeline import open_live_timeline

    timeline, timeline_file = open_live_timeline(path, inputs=[source], outputs=[getattr(sink, "path", None)])
    print(f"vcam-emoji: appending the emotion timeline to {path}", file=sys.stderr)
    return timeline.write, timeline_file


def run_until_stopped(engine, seconds: float | None) -> None:
    """Run ``engine`` on this thread until Ctrl-C, SIGTERM, ``seconds`` (None: no limit) or an error stops it; the
    engine then releases the camera and the output on its way out. Used by `run` and `studio`."""
    import signal
    import threading

    timer = threading.Timer(seconds, engine.stop) if seconds is not None else None
    if timer is not None:
        timer.daemon = True  # a Ctrl-C or an error before it fires must not leave the process waiting for it
        timer.start()
    # Ctrl-C and SIGTERM stop the loop between two frames; the camera and the output are then released.
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    try:
        engine.run()
    except KeyboardInterrupt:  # Ctrl-C: engine.run has released the camera on its way out
        pass
    finally:
        if timer is not None:
            timer.cancel()


def run_exit_code(engine) -> int:
    """Say how the live run ended, and its exit code: 0 stopped, 1 the engine stopped on an error."""
    status = engine.status()
    print(f"vcam-emoji: stopped after {status.frames} frames; camera and output released", file=sys.stderr)
    if status.state == "error":
        print(f"vcam-emoji: error: {status.problem}", file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    import threading

    from .config import ConfigWatcher
    from .engine import Engine
    from .inputs import input_opener
    from .model_options import apply_model_options, model_overrides

    config, config_path = load_settings(args.config)
    config = apply_model_options(config, args)
    size_wh, fps = (config.camera.width, config.camera.height), config.camera.fps
    open_input, source_message = input_opener(args.source, config)
    print(f"vcam-emoji: {source_message}", file=sys.stderr)
    from .sink.preview import CallerThreadGui

    # The engine runs on this thread, which also closes the sink: a preview window can live here too (and OpenCV's
    # toolkit then shuts down with the thread that started it, without warnings at exit).
    timeline_path = live_timeline_path(args.timeline, config)
    sink, sink_message = open_run_sink(args.sink or config.output.sink, config, size_wh, fps,
                                       preview_gui=CallerThreadGui(), source=args.source, timeline=timeline_path,
                                       force=args.force)
    print(f"vcam-emoji: output: {sink_message}", file=sys.stderr)
    timeline_file = None
    try:
        on_result, timeline_file = open_run_timeline(timeline_path, source=args.source, sink=sink)
        engine = Engine(config, open_input=open_input, sink=sink, sink_description=sink_message,
                        config_watcher=ConfigWatcher(config_path, initial=config, overrides=model_overrides(args)),
                        on_result=on_result)
        if args.pack:
            engine.set_pack(args.pack)
        print(f"vcam-emoji: {size_wh[0]}x{size_wh[1]} at {fps:g} fps; detector {engine.info.detector}, classifier "
              f"{engine.info.classifier} on {', '.join(engine.info.providers)}; settings: {config_path} "
              "(edits apply live); Ctrl-C stops", file=sys.stderr)
        done = threading.Event()

        def report() -> None:
            while not done.wait(args.stats_every):
                print(_status_line(engine.status()), flush=True)

        if args.stats_every > 0:
            threading.Thread(target=report, name="stats", daemon=True).start()
        try:
            run_until_stopped(engine, args.seconds)
        finally:
            done.set()
    finally:
        sink.close()
        if timeline_file is not None:
            timeline_file.close()
    return run_exit_code(engine)


# ---------------------------------------------------------------------------------------------------------- doctor
def _describe_tray():
    """The tray package's report of the tray emoji-cam would show (None if no package registers one)."""
    for entry_point in _entry_points(DOCTOR_GROUP):
        if entry_point.name == "tray":
            try:
                return entry_point.load()
            except (ImportError, AttributeError):
                return None
    return None


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose

    _, config_path = _load_config_path(args.config)
    report = diagnose(config_path, describe_tray=_describe_tray())
    print("\n".join(report.lines(args.use)))
    print()
    print("\n".join(report.summary(args.use)))
    return EXIT_OK if report.ok_for(args.use) else EXIT_FAIL


# ----------------------------------------------------------------------------------------------------------- packs
def cmd_packs_list(args: argparse.Namespace) -> int:
    from .packs import discover_packs, user_packs_dir

    packs, errors = discover_packs()
    for name, pack in sorted(packs.items()):
        kind = "built-in" if pack.builtin else "user"
        print(f"{name:<16} {kind:<8} {pack.license:<14} {pack.author}  ({pack.folder})")
    print(f"user packs folder: {user_packs_dir()}")
    for error in errors:
        print(f"broken pack: {error}", file=sys.stderr)
    return EXIT_OK if packs else EXIT_FAIL


def cmd_packs_validate(args: argparse.Namespace) -> int:
    from .packs import load_pack

    pack = load_pack(args.path)
    sizes = sorted({f"{img.shape[1]}x{img.shape[0]}" for img in pack.images.values()})
    print(f"{args.path}: OK — pack {pack.name!r} by {pack.author} ({pack.license}), 7 images ({', '.join(sizes)})")
    return EXIT_OK


# ------------------------------------------------------------------------------------------ other packages' commands
# Packages beside the engine (the Studio, the tray) add to the CLI through entry points in pyproject.toml, so this
# package never names them: a "vcam_emoji.commands" entry point NAME -> a function run(argv) -> exit code, whose
# docstring's first line is the command's help, gives `vcam-emoji NAME ...` (it parses its own options); a
# "vcam_emoji.doctor" entry point -> a function that describes what it checks (the tray backend emoji-cam would use).
COMMANDS_GROUP = "vcam_emoji.commands"
DOCTOR_GROUP = "vcam_emoji.doctor"


def _entry_points(group: str) -> list:
    from importlib.metadata import entry_points

    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def _loaded(entry_point):
    """The entry point's object, or an EmojiCamError saying how to get it back."""
    try:
        return entry_point.load()
    except (ImportError, AttributeError) as exc:
        raise EmojiCamError(f"vcam-emoji {entry_point.name} cannot start: {exc}; reinstall vcam-emoji (pip install "
                            "--force-reinstall vcam-emoji) to get what it needs") from None


def _cmd_plugin(entry_point) -> Callable[[argparse.Namespace], int]:
    return lambda args: _loaded(entry_point)(args.plugin_args)


# ----------------------------------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from .training import command

    return command.run(args)


# ------------------------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    from .model_options import add_model_options

    parser = argparse.ArgumentParser(
        prog="vcam-emoji",
        description="Emoji Cam: puts an emoji matching each face's expression over the face.",
    )
    parser.add_argument("--version", action="version", version=f"vcam-emoji {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    # required: a bare `vcam-emoji` is a usage error (exit 2) whose usage line lists the commands
    sub = parser.add_subparsers(title="commands", dest="command", required=True)

    def command(name: str, func: Callable[[argparse.Namespace], int] | None, help: str,
                **kw) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, **kw)
        p.set_defaults(func=func)
        return p

    def config_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", metavar="PATH", help="settings file (default: the one in your user config "
                       "folder, created with comments on first run)")

    p = command("run", cmd_run, "run the live Emoji Cam: camera in, virtual camera out (headless; see emoji-cam "
                "for the tray)")
    p.add_argument("--source", default="auto", metavar="camera|demo|FILE",
                   help="camera: the configured camera (waits while it is unavailable); demo: the bundled demo clip; "
                   "FILE: a video or photo, looped; default auto: the camera, else the demo clip")
    p.add_argument("--sink", metavar="vcam|preview|none|FILE",
                   help="vcam: the virtual camera; preview: a window; none: drop frames; FILE: record to a video "
                   "file (.mp4: H.264; .mkv, .webm, .avi, ...), never over an existing one without --force; default: the config's output.sink (auto: virtual camera, else a preview "
                   "window, else a file)")
    p.add_argument("--pack", metavar="NAME", help="emoji pack to start with (default: the config's pack.name)")
    p.add_argument("--seconds", type=positive_seconds, default=None, metavar="S",
                   help=f"stop after S seconds (above 0, at most {MAX_SECONDS} = 30 days; default: run until Ctrl-C)")
    p.add_argument("--timeline", metavar="FILE.jsonl", help="append one JSON line per frame (faces, probabilities, "
                   "emotion shown); default: the config's timeline.path")
    p.add_argument("--stats-every", type=float_range(0, 86400, note="0 = never"), default=5.0, metavar="S",
                   help="print fps, latency and faces every S seconds (0 = never; at most 86400 = a day; default 5)")
    p.add_argument("--force", action="store_true", help="let --sink FILE replace an existing file (never the "
                   "source); without it an existing file is an error")
    add_model_options(p)
    config_option(p)

    p = command("doctor", cmd_doctor, "check cameras, virtual camera, tray, models, execution providers, packs and "
                "settings, per use; exits 1 when the use asked for cannot work")
    p.add_argument("--for", dest="use", choices=["live", "render"], default="live",
                   help="live: use in a meeting (camera and virtual camera needed); render: render and analyse "
                   "recorded videos and photos (no camera needed). Default: live")
    config_option(p)

    p = command("render", cmd_render, "emojify a video or a photo")
    p.add_argument("input", help="a video OpenCV can read, or a photo (.jpg, .png, ...)")
    p.add_argument("output", help="where to write: a video (.mp4, .mkv, .mov, .m4v, .webm, .avi) for a video, an "
                   "image for a photo; never over an existing file without --force")
    p.add_argument("--pack", metavar="NAME", help="emoji pack (default: the config's pack.name)")
    p.add_argument("--timeline", metavar="FILE.jsonl", help="also write one JSON line per frame: faces, track ids, "
                   "boxes, scores, probabilities, and the emotion drawn")
    p.add_argument("--no-audio", action="store_true", help="do not copy the input's audio track (by default it "
                   "is copied, or re-encoded where the container cannot hold it)")
    p.add_argument("--codec", choices=VIDEO_CODECS, help="video codec (default: h264, which plays everywhere; "
                   "vp9 for .webm; mjpeg for .avi)")
    p.add_argument("--force", action="store_true", help="replace an existing output or timeline (never the input)")
    p.add_argument("--rate-hz", type=float_range(0, 240, note="classifications per second; 0 = every frame"),
                   default=0.0, metavar="HZ",
                   help="classify each face at most HZ times a second of video, as live use does "
                   "(classifier.rate_hz; 0..240); default 0: every face on every frame")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    add_model_options(p)
    config_option(p)

    from .analytics import command as analytics_command

    analytics_command.add_parsers(sub)

    p = command("eval", cmd_eval, "measure an expression model on labelled face crops")
    p.add_argument("--data", required=True, metavar="FILE.npz", help="x: N x 48 x 48 uint8 grey faces, y: labels in "
                   "FER-2013 order (0 angry .. 6 neutral; 255 = skip)")
    p.add_argument("--model", metavar="PATH", help="an .onnx with its .json manifest, or a bundled model name "
                   "(default: the bundled default classifier)")
    p.add_argument("--json", action="store_true", help="print one JSON object: accuracy, per_class, confusion, n, "
                   "ms_per_face")
    p.add_argument("--plot", metavar="FILE.png", help="write the confusion matrix as a PNG (checked before the "
                   "evaluation starts; never over an existing file without --force)")
    p.add_argument("--force", action="store_true", help="let --plot replace an existing file (never the data or "
                   "the model)")
    p.add_argument("--provider", default="auto", choices=["auto", "cpu", "cuda", "directml", "coreml"],
                   help="onnxruntime execution provider (default: auto)")
    p.add_argument("--threads", type=int_range(0, 64, note="0 = onnxruntime decides"), default=0, metavar="N",
                   help="CPU threads, 0..64 (default 0: onnxruntime decides)")

    p = command("packs", None, "list or check emoji packs")
    packs_sub = p.add_subparsers(dest="action", required=True)
    q = packs_sub.add_parser("list", help="list the installed packs (built-in and user packs)")
    q.set_defaults(func=cmd_packs_list)
    q = packs_sub.add_parser("validate", help="check a pack folder and say what is wrong with it")
    q.add_argument("path", help="the pack folder (with pack.json)")
    q.set_defaults(func=cmd_packs_validate)

    from . import setup_vcam

    setup_vcam.add_parser(sub)
    from . import setup_runtime

    setup_runtime.add_parser(sub)

    from . import sticker_command
    from .avatar import command as avatar_command

    avatar_command.add_parser(sub)
    sticker_command.add_parser(sub)

    # Commands of the packages beside the engine (the Studio): each parses its own options, everything after the
    # word goes to it, and its package is imported only when the command runs (its help line comes from the entry
    # point's function, defined in the package's light __init__).
    for entry_point in _entry_points(COMMANDS_GROUP):
        try:
            doc = (_loaded(entry_point).__doc__ or "").strip().splitlines()
        except EmojiCamError as exc:
            doc = [f"(cannot start here: {exc})"]
        p = command(entry_point.name, _cmd_plugin(entry_point), f"{doc[0] if doc else entry_point.name}; see "
                    f"vcam-emoji {entry_point.name} --help", add_help=False, prefix_chars="\0")
        p.add_argument("plugin_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    p = command("train", cmd_train, "train an expression model (needs the train extra: "
                'pip install "vcam-emoji[train]" torch==2.13.0)')
    _add_train_arguments(p)
    return parser


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    try:
        from .training import command
    except ImportError as exc:  # the module itself never imports torch at import time
        p.set_defaults(train_import_error=str(exc))
        return
    command.add_arguments(p)


def main(argv: Sequence[str] | None = None) -> int:
    from .onnx_session import disable_onnxruntime_telemetry

    disable_onnxruntime_telemetry()  # before anything imports onnxruntime: README "No network use"
    parser = build_parser()
    args = parser.parse_args(argv)
    # OpenCV's own warnings (e.g. every camera index it cannot open) would bury our messages; ours say what to do.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")  # FFmpeg's own lines ("moov atom not found"): fatal only
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="vcam-emoji: %(levelname)s: %(message)s" if args.verbose else "vcam-emoji: %(message)s",
    )
    raise_on_termination()  # SIGTERM/SIGHUP unwind like Ctrl-C, so temporary files go (fileio.py)
    try:
        return args.func(args)
    except EmojiCamError as exc:
        print(f"vcam-emoji: error: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except Terminated as exc:
        print(f"vcam-emoji: {exc}; nothing half-written was left", file=sys.stderr)
        return 128 + exc.signum
    except KeyboardInterrupt:
        print("vcam-emoji: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
