"""The tray menu as pure data: a snapshot of the app (:class:`MenuState`) in, menu items out, and each item's action
turned into engine commands and config writes by :class:`Controller`.

Nothing here imports pystray or touches the desktop: the backend (``tray/backend.py``) renders the items, and the
controller reaches the outside world only through the small interfaces passed to it (engine, config writer, desktop),
so the whole menu logic is tested with fakes.

Which settings are saved: the emoji pack, mirror, smoothing, camera and "Hide me when no face is found" are written
to the config file (the same keys a person would edit by hand) and applied to the running engine at once.
Enabled/Paused is not saved: pausing is a privacy switch for the current meeting, and Emoji Cam always starts enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from vcam_emoji.config import SMOOTHING_PRESETS, Config, smoothing_preset_changes, smoothing_preset_name
from vcam_emoji.errors import EmojiCamError
from vcam_emoji.types import Expression

log = logging.getLogger(__name__)

APP_TITLE = "Emoji Cam"
SMOOTHING_LABELS: Mapping[str, str] = {"off": "Off", "responsive": "Responsive", "balanced": "Balanced",
                                       "steady": "Steady"}


# --------------------------------------------------------------------------------------------------------- actions
class Action:
    """What a click on a menu item asks for: one frozen dataclass per kind, carried out by :class:`Controller`.

    To add a menu item: subclass this (a frozen dataclass), put the item in the section of :func:`build_menu` it
    belongs to, and handle the action in ``Controller._perform`` (through a :class:`Desktop` method if it needs the
    desktop or the rest of the app). ``tests/test_tray_menu.py`` performs every item of the menu, so an action that
    is not handled fails there.
    """


@dataclass(frozen=True)
class SetEnabled(Action):
    enabled: bool


@dataclass(frozen=True)
class SetHideWhenNoFace(Action):
    hide: bool


@dataclass(frozen=True)
class SetPack(Action):
    name: str


@dataclass(frozen=True)
class SetMirror(Action):
    mirror: bool


@dataclass(frozen=True)
class SetPreview(Action):
    show: bool


@dataclass(frozen=True)
class SetSmoothing(Action):
    preset: str


@dataclass(frozen=True)
class SetCamera(Action):
    device: int | str


@dataclass(frozen=True)
class SetAutostart(Action):
    enabled: bool


@dataclass(frozen=True)
class OpenStudio(Action):
    """Open the Studio page in the browser (its server starts on the first click)."""


@dataclass(frozen=True)
class OpenConfig(Action):
    pass


@dataclass(frozen=True)
class OpenPacksFolder(Action):
    pass


@dataclass(frozen=True)
class SaveSticker(Action):
    """Save the emoji now shown on the main face as a sticker (Pictures folder, timestamped name)."""


@dataclass(frozen=True)
class ShowDiagnostics(Action):
    pass


@dataclass(frozen=True)
class Quit(Action):
    pass


# ----------------------------------------------------------------------------------------------------------- state
@dataclass(frozen=True)
class CameraChoice:
    device: int | str  # what is written to camera.device
    label: str
    aliases: tuple[int | str, ...] = ()  # other spellings of the same camera in the config (path, name)

    def matches(self, device: int | str) -> bool:
        wanted = device.strip() if isinstance(device, str) else device
        if isinstance(wanted, str) and wanted.isdigit():
            wanted = int(wanted)
        return wanted == self.device or wanted in self.aliases


@dataclass(frozen=True)
class MenuState:
    """Everything the menu shows, taken from the engine status, the current config and the desktop."""

    state: str  # EngineStatus.state
    pack: str  # the pack shown now
    mirror: bool
    demo: bool
    problem: str
    main_emotion: Expression | None
    packs: tuple[str, ...]  # valid packs, built-in and user
    config: Config  # the last good configuration (smoothing, camera)
    cameras: tuple[CameraChoice, ...] = ()
    paused: bool = False  # what the user asked for (the engine's state follows a frame later)
    preview_shown: bool = False
    preview_available: bool = True  # False when the main output is the preview window itself
    autostart_enabled: bool = False
    autostart_problem: str = ""  # why "Start at login" cannot be used here ("" when it can)
    studio_problem: str = ""  # why "Open Studio" cannot be used here ("" when it can)


@dataclass(frozen=True)
class Item:
    """One menu entry. ``checked`` is None for a plain item; ``radio`` marks one-of-many choices (shown as check
    items where the backend has no radio items). A separator has ``separator=True`` and nothing else."""

    key: str
    text: str = ""
    action: Action | None = None
    checked: bool | None = None
    radio: bool = False
    enabled: bool = True
    default: bool = False
    submenu: tuple[Item, ...] = ()
    separator: bool = False


SEPARATOR = Item(key="-", separator=True)


def icon_kind(state: MenuState) -> str:
    """Which icon to show: "paused", "error", "demo", "running" (or "starting" before the first frame)."""
    if state.paused or state.state == "paused":
        return "paused"
    if state.state in ("error", "camera unavailable", "stopped"):
        return "error"
    if state.demo:
        return "demo"
    return "running" if state.state == "running" else "starting"


def title(state: MenuState) -> str:
    """The tooltip: what Emoji Cam is doing, in one line."""
    kind = icon_kind(state)
    if kind == "paused":
        text = "paused - the camera is released"
    elif kind == "error":
        text = state.problem or state.state
    elif kind == "starting":
        text = f"starting, pack {state.pack}"
    else:
        text = f"{'demo clip' if state.demo else 'running'}, pack {state.pack}"
    return f"{APP_TITLE}: {text}"


def build_menu(state: MenuState) -> tuple[Item, ...]:
    """The whole menu for ``state``: the sections below, top to bottom, with a separator between two sections."""
    items: list[Item] = []
    for section in (_status_section, _privacy_section, _picture_section, _tools_section, _quit_section):
        entries = section(state)
        if entries and items:
            items.append(SEPARATOR)
        items.extend(entries)
    return tuple(items)


def _status_section(state: MenuState) -> tuple[Item, ...]:
    text = title(state).removeprefix(f"{APP_TITLE}: ")
    return (Item("status", text[:1].upper() + text[1:], enabled=False),)


def _privacy_section(state: MenuState) -> tuple[Item, ...]:
    """What the meeting may see: Enabled / Paused (a click on the icon toggles them where the backend allows), and
    whether a picture without a face found in it is hidden (privacy.hide_when_no_face, saved)."""
    enabled = not state.paused
    hide = state.config.privacy.hide_when_no_face
    return (
        Item("enabled", "Enabled", SetEnabled(not enabled), checked=enabled, default=True),
        Item("paused", "Paused (camera released)", SetEnabled(not enabled), checked=not enabled),
        Item("hide-no-face", "Hide me when no face is found", SetHideWhenNoFace(not hide), checked=hide),
    )


def _picture_section(state: MenuState) -> tuple[Item, ...]:
    """How the picture looks: saved in the config file, applied at once (except Show preview)."""
    preset = smoothing_preset_name(state.config.smoothing)
    device = state.config.camera.device
    pack_items = tuple(Item(f"pack:{name}", name, SetPack(name), checked=name == state.pack, radio=True)
                       for name in state.packs) or (Item("pack:none", "(no valid pack found)", enabled=False),)
    smoothing_items = tuple(Item(f"smoothing:{name}", SMOOTHING_LABELS.get(name, name.title()), SetSmoothing(name),
                                 checked=name == preset, radio=True) for name in SMOOTHING_PRESETS)
    if preset is None:
        smoothing_items += (Item("smoothing:custom", "Custom (set in the config file)", checked=True, radio=True,
                                 enabled=False),)
    camera_items = tuple(Item(f"camera:{c.device}", c.label, SetCamera(c.device), checked=c.matches(device),
                              radio=True) for c in state.cameras)
    if not any(c.matches(device) for c in state.cameras):
        shown = f"camera {device}" if isinstance(device, int) else repr(device)
        camera_items += (Item("camera:configured", f"{shown} (configured; not found now)", checked=True,
                              radio=True, enabled=False),)
    return (
        Item("pack", "Emoji pack", submenu=pack_items),
        Item("mirror", "Mirror", SetMirror(not state.mirror), checked=state.mirror),
        Item("preview", "Show preview" if state.preview_available else "Show preview (the output is the preview)",
             SetPreview(not state.preview_shown), checked=state.preview_shown, enabled=state.preview_available),
        Item("smoothing", "Smoothing", submenu=smoothing_items),
        Item("camera", "Camera", submenu=camera_items),
    )


def _tools_section(state: MenuState) -> tuple[Item, ...]:
    """Files, folders and the desktop: each item is one Desktop call."""
    autostart_text = "Start at login" + (f" (unavailable: {state.autostart_problem})" if state.autostart_problem
                                         else "")
    studio_text = "Open Studio" + (f" (unavailable: {state.studio_problem})" if state.studio_problem else "")
    return (
        Item("studio", studio_text, OpenStudio(), enabled=not state.studio_problem),
        Item("save-sticker", "Save current emoji as sticker", SaveSticker(), enabled=bool(state.packs)),
        Item("open-config", "Open config file", OpenConfig()),
        Item("open-packs", "Open packs folder", OpenPacksFolder()),
        Item("diagnostics", "Diagnostics", ShowDiagnostics()),
        Item("autostart", autostart_text, SetAutostart(not state.autostart_enabled),
             checked=state.autostart_enabled, enabled=not state.autostart_problem),
    )


def _quit_section(state: MenuState) -> tuple[Item, ...]:
    return (Item("quit", "Quit", Quit()),)


def find_item(items: tuple[Item, ...], key: str) -> Item | None:
    """The item with ``key``, searching submenus too."""
    for item in items:
        if item.key == key:
            return item
        found = find_item(item.submenu, key)
        if found is not None:
            return found
    return None


# ------------------------------------------------------------------------------------------------------ controller
class EngineCommands(Protocol):
    """The engine commands the tray uses (vcam_emoji.engine.Engine has them all)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def apply_config(self, config: Config) -> None: ...


class Desktop(Protocol):
    """What the tray asks of the desktop and the rest of the app; the real one is in tray/app.py."""

    def open_path(self, path: Path) -> None: ...

    def notify(self, message: str) -> None: ...

    def set_preview(self, show: bool) -> None: ...

    def show_diagnostics(self) -> None: ...

    def save_sticker(self) -> None: ...

    def open_studio(self) -> None: ...

    def set_autostart(self, enabled: bool) -> None: ...

    def quit(self) -> None: ...


@dataclass
class Controller:
    """Turns menu actions into engine commands and config writes.

    ``write_config(changes)`` sets dotted keys in the user's file and returns the new Config
    (vcam_emoji.config.update_config_file bound to the path); its ConfigError is shown as a notification and nothing
    else changes.
    """

    engine: EngineCommands
    write_config: Callable[[Mapping[str, object]], Config]
    desktop: Desktop
    config_path: Path
    packs_dir: Path
    paused: bool = False
    on_change: Callable[[], None] = field(default=lambda: None)

    def perform(self, action: Action) -> None:
        log.debug("menu action %r", action)
        try:
            self._perform(action)
        except EmojiCamError as exc:
            log.warning("%s", exc)
            self.desktop.notify(str(exc))
        except OSError as exc:
            message = f"{type(action).__name__}: {exc}"
            log.warning("%s", message)
            self.desktop.notify(message)
        self.on_change()

    def _save(self, changes: Mapping[str, object]) -> None:
        self.engine.apply_config(self.write_config(changes))

    def _perform(self, action: Action) -> None:
        match action:
            case SetEnabled(enabled=True):
                self.paused = False
                self.engine.resume()
            case SetEnabled(enabled=False):
                self.paused = True
                self.engine.pause()
            case SetHideWhenNoFace(hide=hide):
                self._save({"privacy.hide_when_no_face": bool(hide)})
            case SetPack(name=name):
                self._save({"pack.name": name})
            case SetMirror(mirror=mirror):
                self._save({"camera.mirror": bool(mirror)})
            case SetSmoothing(preset=preset):
                self._save(smoothing_preset_changes(preset))
            case SetCamera(device=device):
                self._save({"camera.device": device})
            case SetPreview(show=show):
                self.desktop.set_preview(show)
            case SetAutostart(enabled=enabled):
                self.desktop.set_autostart(enabled)
            case OpenStudio():
                self.desktop.open_studio()
            case OpenConfig():
                self.desktop.open_path(self.config_path)
            case OpenPacksFolder():
                self.packs_dir.mkdir(parents=True, exist_ok=True)
                self.desktop.open_path(self.packs_dir)
            case SaveSticker():
                self.desktop.save_sticker()
            case ShowDiagnostics():
                self.desktop.show_diagnostics()
            case Quit():
                self.desktop.quit()
            case _:
                raise TypeError(f"unknown menu action {action!r}")
