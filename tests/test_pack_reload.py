"""A running engine shows a pack that was re-rendered on disk (e.g. by `vcam-emoji avatar edit`) without a restart,
and keeps the last good pack when the new files are broken."""

from __future__ import annotations

import os
import shutil

import numpy as np

from test_engine import SIZE, FPS, camera_engine, run_steps
from test_packs import make_pack, write_png
from vcam_emoji.packs import user_packs_dir
from vcam_emoji.sink.memory import MemorySink
from vcam_emoji.source.scripted import Frames, ManualClock, ScriptedCamera
from vcam_emoji.types import Expression


def _swap_in(folder, build) -> None:
    """Replace ``folder`` the way avatar edit does: build the new one beside it, then rename it into place."""
    staged = folder.with_name(f".{folder.name}.new")
    build(staged)
    old = folder.with_name(f".{folder.name}.old")
    os.replace(folder, old)
    os.replace(staged, folder)
    shutil.rmtree(old)


def test_engine_reloads_the_pack_it_shows_when_its_files_change(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = make_pack(user_packs_dir() / "mine", name="mine")
    clock = ManualClock(0.0)
    sink = MemorySink(SIZE, FPS)
    problems = []
    engine = camera_engine(ScriptedCamera([Frames()], clock=clock), clock, sink, on_problem=problems.append)
    engine.begin()
    try:
        engine.set_pack("mine")
        run_steps(engine, clock, 0.0, 0.2)
        first = engine.pipeline.pack
        assert first.name == "mine"

        def rebuilt(staged):
            make_pack(staged, name="mine")
            write_png(staged / "happy.png", (255, 0, 255, 255))

        _swap_in(folder, rebuilt)
        run_steps(engine, clock, 0.2, 1.5)  # the folder is looked at about once a second
        second = engine.pipeline.pack
        assert second is not first and second.name == "mine"
        assert tuple(second.images[Expression.HAPPY][0, 0]) == (255, 0, 255, 255)

        def broken(staged):
            make_pack(staged, name="mine")
            (staged / "sad.png").write_text("not an image")

        _swap_in(folder, broken)
        run_steps(engine, clock, 1.5, 3.0)
        assert engine.pipeline.pack is second  # the last good pack stays
        assert engine.status().pack == "mine"
        assert any("sad.png" in p for p in problems)
        assert np.array_equal(engine.pipeline.pack.images[Expression.HAPPY], second.images[Expression.HAPPY])
    finally:
        engine.end()


def test_packs_signature_changes_when_a_pack_is_added_changed_or_removed(tmp_path):
    from vcam_emoji.packs import packs_signature

    root = tmp_path / "packs"
    (root / "a").mkdir(parents=True)
    (root / "a" / "pack.json").write_text("{}")
    first = packs_signature([root, tmp_path / "missing"])
    assert packs_signature([root, tmp_path / "missing"]) == first  # nothing changed: the same signature
    (root / "b").mkdir()
    added = packs_signature([root, tmp_path / "missing"])
    assert added != first
    (root / "a" / "pack.json").write_text('{"name": "a"}')  # a different size
    os.utime(root / "a" / "pack.json", ns=(1, 1))
    changed = packs_signature([root, tmp_path / "missing"])
    assert changed != added
    (root / "b").rmdir()
    assert packs_signature([root, tmp_path / "missing"]) != changed
    assert any("unreadable" in part for part in first if part[0] == str(tmp_path / "missing"))
