"""Sinks by name ("vcam", "preview", "file", "memory") and the ``auto`` policy:
the virtual camera, else a preview window if there is a display, else a video file - with the reason for each step.

    sink, reason = open_sink("auto", (1280, 720), 30, path="emoji-cam.mp4")
    log.info("output: %s", reason)   # e.g. "no virtual camera available (...). To fix: ...; no display: recording to ..."
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DeviceError, EmojiCamError
from .base import Sink
from .preview import display_available

DEFAULT_FILE = "emoji-cam-output.mp4"
FALLBACK_MAX_BYTES = 500_000_000  # the fallback recording stops here (about 1.5 h of 720p; said on start)
FILE_OPTIONS = frozenset({"path", "replace", "inputs", "outputs", "max_bytes", "codec"})


@dataclass(frozen=True)
class SinkEntry:
    """How to create one kind of sink; ``options`` are the keyword options it understands."""

    name: str
    create: Callable[[tuple[int, int], float, Mapping[str, Any]], Sink]
    options: frozenset[str]
    description: str


def _pick(options: Mapping[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in names}


def _create_vcam(size_wh: tuple[int, int], fps: float, options: Mapping[str, Any]) -> Sink:
    from .virtual_camera import VirtualCameraSink

    return VirtualCameraSink(size_wh, fps, **_pick(options, {"name", "backend", "device", "system", "sys_root"}))


def _create_preview(size_wh: tuple[int, int], fps: float, options: Mapping[str, Any]) -> Sink:
    from .preview import PreviewSink

    return PreviewSink(size_wh, fps, **_pick(options, {"window_name", "environ", "system", "gui"}))


def _create_file(size_wh: tuple[int, int], fps: float, options: Mapping[str, Any]) -> Sink:
    """A recording. Without ``path`` it is the program's own fallback: DEFAULT_FILE in the current folder under a
    numbered name that is free (never replacing a file) and stopped at FALLBACK_MAX_BYTES unless ``max_bytes`` says
    otherwise. With ``path`` (the user's name): an existing file only with ``replace`` (--force), never an input."""
    try:
        module = importlib.import_module("vcam_emoji.sink.video_file")
    except ImportError as exc:
        raise EmojiCamError(f"video file output is not available in this installation ({exc}); reinstall vcam-emoji")
    own = "path" not in options
    return module.VideoFileSink(
        Path(options.get("path", DEFAULT_FILE)), size_wh, fps,
        replace=bool(options.get("replace", False)) and not own,
        numbered=own,
        inputs=options.get("inputs", ()),
        outputs=options.get("outputs", ()),
        max_bytes=options.get("max_bytes", FALLBACK_MAX_BYTES if own else None),
        codec=options.get("codec"),
    )


def _create_memory(size_wh: tuple[int, int], fps: float, options: Mapping[str, Any]) -> Sink:
    from .memory import MemorySink

    return MemorySink(size_wh, fps, **_pick(options, {"max_frames"}))


class SinkRegistry:
    """Sink factories by name; :func:`default_registry` gives one with the built-in kinds."""

    def __init__(self, entries: list[SinkEntry] | None = None) -> None:
        self._entries: dict[str, SinkEntry] = {}
        for entry in entries or []:
            self.register(entry)

    def register(self, entry: SinkEntry) -> None:
        if entry.name == "auto":
            raise ValueError("sink kind 'auto' is reserved for the fallback policy")
        self._entries[entry.name] = entry

    def names(self) -> list[str]:
        return list(self._entries)

    def entry(self, kind: str) -> SinkEntry:
        try:
            return self._entries[kind]
        except KeyError:
            allowed = ", ".join(["auto", *self._entries])
            raise ValueError(f"unknown sink kind {kind!r}; expected one of: {allowed}") from None

    def create(self, kind: str, size_wh: tuple[int, int], fps: float, options: Mapping[str, Any]) -> Sink:
        return self.entry(kind).create(size_wh, fps, options)

    def known_options(self) -> set[str]:
        return set().union(*(e.options for e in self._entries.values())) if self._entries else set()


def default_registry() -> SinkRegistry:
    return SinkRegistry(
        [
            SinkEntry("vcam", _create_vcam, frozenset({"name", "backend", "device", "system", "sys_root"}),
                      "the virtual camera meeting apps pick"),
            SinkEntry("preview", _create_preview, frozenset({"window_name", "environ", "system", "gui"}),
                      "a window on this screen"),
            SinkEntry("file", _create_file, FILE_OPTIONS, "a video file"),
            SinkEntry("memory", _create_memory, frozenset({"max_frames"}), "frames kept in memory (tests)"),
        ]
    )


def describe_sink(kind: str, sink: Sink) -> str:
    if kind == "vcam":
        shows_as, device = getattr(sink, "shows_as", "?"), getattr(sink, "device", "?")
        return f"virtual camera {shows_as!r} ({getattr(sink, 'backend', '?')} {device})"
    if kind == "preview":
        return "preview window"
    if kind == "file":
        return describe_recording(sink)
    return f"{kind} sink"


def describe_recording(sink: Sink) -> str:
    """"recording to out.mp4 (H.264; a new file; stops at 500 MB)": where, how, and the limits that apply."""
    from .video_file import format_size

    notes = [str(getattr(sink, "codec", "?")).upper().replace("H264", "H.264")]
    if getattr(sink, "numbered", False):
        notes.append("a new file")
    cap = getattr(sink, "max_bytes", None)
    if cap:
        notes.append(f"stops at {format_size(cap)}")
    return f"recording to {getattr(sink, 'path', '?')} ({'; '.join(notes)})"


def open_sink(
    kind: str,
    size_wh: tuple[int, int],
    fps: float,
    *,
    registry: SinkRegistry | None = None,
    **options: Any,
) -> tuple[Sink, str]:
    """Open the sink ``kind`` (or follow the ``auto`` policy); returns the sink and a sentence saying what was chosen
    and why. Raises DeviceError/OutputError with the whole fallback chain when nothing can be opened."""
    registry = registry or default_registry()
    unknown = sorted(set(options) - registry.known_options())
    if unknown:
        known = ", ".join(sorted(registry.known_options()))
        raise ValueError(f"unknown sink option(s) {', '.join(unknown)}; known: {known}")
    if kind != "auto":
        sink = registry.create(kind, size_wh, fps, options)
        return sink, describe_sink(kind, sink)

    reasons: list[str] = []
    if "vcam" in registry.names():
        try:
            sink = registry.create("vcam", size_wh, fps, options)
        except EmojiCamError as exc:
            reasons.append(str(exc))
        else:
            return sink, describe_sink("vcam", sink)
    if "preview" in registry.names():
        if display_available(options.get("environ"), options.get("system")):
            try:
                sink = registry.create("preview", size_wh, fps, options)
            except EmojiCamError as exc:
                reasons.append(str(exc))
            else:
                return sink, "; ".join([*reasons, "showing a preview window"])
        else:
            reasons.append("no display")
    try:
        sink = registry.create("file", size_wh, fps, options)
    except EmojiCamError as exc:
        raise DeviceError("; ".join([*reasons, f"and no video file either: {exc}"])) from exc
    return sink, "; ".join(reasons[:-1] + [f"{reasons[-1]}: {describe_sink('file', sink)}"] if reasons
                           else [describe_sink("file", sink)])
