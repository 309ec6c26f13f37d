"""The pure tray menu model: state -> items -> actions -> engine commands and config writes (no pystray)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tray import menu
from tray.menu import (
    CameraChoice,
    Controller,
    Item,
    MenuState,
    build_menu,
    find_item,
    icon_kind,
)
from vcam_emoji.config import Config, load_config, smoothing_preset_changes, update_config_file
from vcam_emoji.errors import ConfigError
from vcam_emoji.types import Expression


def make_state(**changes) -> MenuState:
    base = MenuState(state="running", pack="twemoji", mirror=False, demo=False, problem="",
                     main_emotion=Expression.HAPPY, packs=("classic", "openmoji", "twemoji"), config=Config(),
                     cameras=(CameraChoice(0, "Integrated Camera", ("/dev/video0",)),
                              CameraChoice(2, "Logitech BRIO", ("/dev/video2",))))
    return dataclasses.replace(base, **changes)


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def pause(self) -> None:
        self.calls.append(("pause",))

    def resume(self) -> None:
        self.calls.append(("resume",))

    def apply_config(self, config: Config) -> None:
        self.calls.append(("apply_config", config))


class FakeDesktop:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def open_path(self, path: Path) -> None:
        self.calls.append(("open", path))

    def notify(self, message: str) -> None:
        self.calls.append(("notify", message))

    def set_preview(self, show: bool) -> None:
        self.calls.append(("preview", show))

    def show_diagnostics(self) -> None:
        self.calls.append(("diagnostics",))

    def save_sticker(self) -> None:
        self.calls.append(("sticker",))

    def open_studio(self) -> None:
        self.calls.append(("studio",))

    def set_autostart(self, enabled: bool) -> None:
        self.calls.append(("autostart", enabled))

    def quit(self) -> None:
        self.calls.append(("quit",))


@pytest.fixture
def controller(tmp_path: Path) -> Controller:
    path = tmp_path / "config.toml"
    return Controller(engine=FakeEngine(), write_config=lambda changes: update_config_file(path, changes),
                      desktop=FakeDesktop(), config_path=path, packs_dir=tmp_path / "packs")


def keys(items: tuple[Item, ...]) -> list[str]:
    return [i.key for i in items]


# ------------------------------------------------------------------------------------------------------- building
def test_menu_has_every_entry_of_the_issue_in_order():
    items = build_menu(make_state())
    assert [k for k in keys(items) if k != "-"] == [
        "status", "enabled", "paused", "hide-no-face", "pack", "mirror", "preview", "smoothing", "camera",
        "studio", "save-sticker", "open-config", "open-packs", "diagnostics", "autostart", "quit"]
    assert [i.text for i in items if i.key == "quit"] == ["Quit"]


def test_sections_are_separated_by_one_line_each():
    items = build_menu(make_state())
    assert items[0].key != "-" and items[-1].key == "quit"
    assert not any(a.separator and b.separator for a, b in zip(items, items[1:]))
    assert [i.key for i, after in zip(items, items[1:]) if after.separator] == ["status", "hide-no-face",
                                                                                "camera", "autostart"]


def test_every_action_is_an_action():
    def walk(items):
        for item in items:
            yield item
            yield from walk(item.submenu)

    actions = [i.action for i in walk(build_menu(make_state())) if i.action is not None]
    assert actions and all(isinstance(a, menu.Action) for a in actions)


def test_pack_submenu_is_one_radio_item_per_valid_pack_with_the_current_one_checked():
    pack = find_item(build_menu(make_state(pack="openmoji")), "pack")
    assert [(i.text, i.checked, i.radio) for i in pack.submenu] == [
        ("classic", False, True), ("openmoji", True, True), ("twemoji", False, True)]
    assert pack.submenu[0].action == menu.SetPack("classic")


def test_no_valid_pack_shows_a_disabled_explanation():
    pack = find_item(build_menu(make_state(packs=())), "pack")
    assert [(i.text, i.enabled) for i in pack.submenu] == [("(no valid pack found)", False)]


@pytest.mark.parametrize("paused, enabled_checked, paused_checked, enabled_action", [
    (False, True, False, menu.SetEnabled(False)),
    (True, False, True, menu.SetEnabled(True)),
])
def test_enabled_and_paused_are_opposite_checks(paused, enabled_checked, paused_checked, enabled_action):
    items = build_menu(make_state(paused=paused))
    enabled, pause = find_item(items, "enabled"), find_item(items, "paused")
    assert (enabled.checked, pause.checked) == (enabled_checked, paused_checked)
    assert enabled.action == enabled_action
    assert pause.action == menu.SetEnabled(paused)
    assert enabled.default  # a click on the icon toggles it where the backend has a default action


@pytest.mark.parametrize("hide", [True, False])
def test_hide_when_no_face_is_a_toggle_of_the_setting(hide):
    config = Config().with_changes({"privacy.hide_when_no_face": hide})
    item = find_item(build_menu(make_state(config=config)), "hide-no-face")
    assert (item.checked, item.action) == (hide, menu.SetHideWhenNoFace(not hide))


def test_hide_when_no_face_is_written_to_the_config_and_applied(controller):
    controller.perform(menu.SetHideWhenNoFace(False))
    assert load_config(controller.config_path).privacy.hide_when_no_face is False
    [(name, applied)] = controller.engine.calls
    assert (name, applied.privacy.hide_when_no_face) == ("apply_config", False)


def test_smoothing_submenu_checks_the_preset_of_the_config():
    config = Config().with_changes(smoothing_preset_changes("steady"))
    sub = find_item(build_menu(make_state(config=config)), "smoothing").submenu
    assert [(i.text, i.checked) for i in sub] == [("Off", False), ("Responsive", False), ("Balanced", False),
                                                   ("Steady", True)]


def test_custom_smoothing_is_shown_as_a_disabled_checked_entry():
    config = Config().with_changes({"smoothing.min_hold_ms": 1234})
    sub = find_item(build_menu(make_state(config=config)), "smoothing").submenu
    assert [i.text for i in sub if i.checked] == ["Custom (set in the config file)"]
    assert not sub[-1].enabled


@pytest.mark.parametrize("device, checked", [(0, "Integrated Camera"), ("/dev/video2", "Logitech BRIO"),
                                              ("2", "Logitech BRIO")])
def test_camera_submenu_checks_the_configured_camera_by_any_spelling(device, checked):
    config = Config().with_changes({"camera.device": device})
    sub = find_item(build_menu(make_state(config=config)), "camera").submenu
    assert [i.text for i in sub if i.checked] == [checked]


def test_a_configured_camera_that_is_not_found_is_still_shown():
    config = Config().with_changes({"camera.device": "/dev/video9"})
    sub = find_item(build_menu(make_state(config=config)), "camera").submenu
    assert [(i.text, i.checked, i.enabled) for i in sub][-1] == ("'/dev/video9' (configured; not found now)", True,
                                                                  False)


def test_mirror_preview_and_autostart_are_toggles():
    items = build_menu(make_state(mirror=True, preview_shown=False, autostart_enabled=True))
    assert find_item(items, "mirror").action == menu.SetMirror(False)
    assert find_item(items, "preview").action == menu.SetPreview(True)
    assert find_item(items, "autostart").action == menu.SetAutostart(False)
    assert find_item(items, "autostart").checked


def test_open_studio_is_one_click_in_the_tools(controller):
    item = find_item(build_menu(make_state()), "studio")
    assert (item.text, item.enabled, item.action) == ("Open Studio", True, menu.OpenStudio())
    controller.perform(item.action)
    assert controller.desktop.calls == [("studio",)]
    assert controller.engine.calls == [] and not controller.config_path.exists()


def test_open_studio_without_the_studio_packages_is_disabled_and_says_why():
    item = find_item(build_menu(make_state(studio_problem="the Python package uvicorn is missing")), "studio")
    assert item.text == "Open Studio (unavailable: the Python package uvicorn is missing)"
    assert not item.enabled


def test_unusable_autostart_and_preview_are_disabled_and_say_why():
    items = build_menu(make_state(autostart_problem="no home folder", preview_available=False))
    assert find_item(items, "autostart").text == "Start at login (unavailable: no home folder)"
    assert not find_item(items, "autostart").enabled
    assert not find_item(items, "preview").enabled


@pytest.mark.parametrize("changes, kind", [
    ({}, "running"),
    ({"state": "starting"}, "starting"),
    ({"paused": True}, "paused"),
    ({"state": "paused"}, "paused"),
    ({"demo": True}, "demo"),
    ({"state": "error", "problem": "output failed"}, "error"),
    ({"state": "camera unavailable", "demo": True}, "error"),
])
def test_icon_kind(changes, kind):
    assert icon_kind(make_state(**changes)) == kind


def test_title_names_the_problem_on_error():
    assert menu.title(make_state(state="error", problem="output failed: gone")) == "Emoji Cam: output failed: gone"
    assert find_item(build_menu(make_state(demo=True)), "status").text == "Demo clip, pack twemoji"


# ----------------------------------------------------------------------------------------------------- controller
def test_pause_and_resume_are_engine_commands_and_not_saved(controller):
    controller.perform(menu.SetEnabled(False))
    controller.perform(menu.SetEnabled(True))
    assert controller.engine.calls == [("pause",), ("resume",)]
    assert not controller.config_path.exists()
    assert controller.paused is False


def test_pack_choice_is_written_to_the_config_and_applied(controller):
    controller.perform(menu.SetPack("classic"))
    assert load_config(controller.config_path).pack.name == "classic"
    [(name, applied)] = controller.engine.calls
    assert (name, applied.pack.name) == ("apply_config", "classic")


def test_smoothing_preset_is_written_to_the_config_keeping_comments(controller):
    controller.perform(menu.SetSmoothing("responsive"))
    text = controller.config_path.read_text()
    assert "time_constant_ms = 100.0" in text and "# Presets" in text
    assert controller.engine.calls[0][1].smoothing.min_hold_ms == 120.0


def test_mirror_and_camera_are_written_to_the_config(controller):
    controller.perform(menu.SetMirror(True))
    controller.perform(menu.SetCamera(2))
    config = load_config(controller.config_path)
    assert (config.camera.mirror, config.camera.device) == (True, 2)


def test_a_config_file_that_cannot_be_written_is_reported_and_nothing_is_applied(controller):
    controller.config_path.write_text("[pack\nname = 'x'\n")
    controller.perform(menu.SetPack("classic"))
    assert controller.engine.calls == []
    [(kind, message)] = controller.desktop.calls
    assert kind == "notify" and str(controller.config_path) in message
    assert controller.config_path.read_text() == "[pack\nname = 'x'\n"  # the user's file is never rewritten


def test_desktop_actions(controller):
    for action in (menu.OpenStudio(), menu.OpenConfig(), menu.OpenPacksFolder(), menu.ShowDiagnostics(),
                   menu.SetPreview(True), menu.SetAutostart(True), menu.Quit()):
        controller.perform(action)
    assert controller.desktop.calls == [("studio",), ("open", controller.config_path), ("open", controller.packs_dir),
                                        ("diagnostics",), ("preview", True), ("autostart", True), ("quit",)]
    assert controller.packs_dir.is_dir()  # created so the file manager has something to open


def test_every_enabled_menu_action_is_handled(controller):
    def walk(items):
        for item in items:
            yield item
            yield from walk(item.submenu)

    for item in walk(build_menu(make_state())):
        if item.action is not None and item.enabled:
            controller.perform(item.action)
    kinds = {c[0] for c in controller.desktop.calls}
    assert "notify" not in kinds, controller.desktop.calls
    assert {"studio", "open", "diagnostics", "preview", "autostart", "quit"} <= kinds


def test_on_change_runs_after_each_action(controller):
    seen = []
    controller.on_change = lambda: seen.append(controller.paused)
    controller.perform(menu.SetEnabled(False))
    assert seen == [True]


def test_unknown_action_is_a_programming_error(controller):
    with pytest.raises(TypeError, match="unknown menu action"):
        controller.perform("quit")  # type: ignore[arg-type]


def test_config_error_message_reaches_the_user(controller):
    def failing(changes):
        raise ConfigError("config.toml: pack.name = '' is empty; allowed a non-empty string")

    controller.write_config = failing
    controller.perform(menu.SetPack(""))
    message = "config.toml: pack.name = '' is empty; allowed a non-empty string"
    assert controller.desktop.calls == [("notify", message)]
