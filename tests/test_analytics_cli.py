"""`vcam-emoji analyze` and `vcam-emoji report` end to end with the real models: on a clip made from the bundled
fixture photo (always), and on the shared clips and photos (skipped where ../shared is absent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from analytics_helpers import fixture_clip, report_data, without_timings
from conftest import FIXTURES, shared_file

from vcam_emoji.analytics import SCHEMA_FILE, read_report
from vcam_emoji.analytics import runner as runner_module
from vcam_emoji.cli import main
from vcam_emoji.fileio import Terminated, pending_temp_files
from vcam_emoji.types import EXPRESSION_LABELS

CLIPS = {"intel_head-pose-face-detection-male.mp4": 1, "intel_head-pose-face-detection-female-and-male.mp4": 2}
PHOTOS = ["pexels_angry.jpg", "pexels_happy-baby.jpeg", "pexels_neutral.jpeg", "pexels_sad-baby.jpeg",
          "pexels_surprised.jpeg", "skimage_astronaut.png"]


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))


def analyze(config, *args) -> int:
    return main(["analyze", "--config", config, "-q", *map(str, args)])


def check_shares(data: dict) -> None:
    for f in data["files"]:
        for p in f.get("persons", []):
            assert sum(p["shares"].values()) == pytest.approx(1.0, abs=1e-3), (f["name"], p["track_id"])
            assert set(p["shares"]) == set(EXPRESSION_LABELS)


# ------------------------------------------------------------------------------------------------ no ../shared
def test_analyze_fixture_clip_and_photo(env, validator, capsys):
    tmp, config = env
    clip = fixture_clip(tmp / "drift.avi")
    out = tmp / "out"
    assert main(["analyze", "--config", config, str(clip), str(FIXTURES / "astronaut_256.jpg"), "--out",
                 str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 of 2 file(s) analysed" in printed and "report.html" in printed
    data = report_data(out)
    validator.validate(data)
    check_shares(data)
    video, photo = data["files"]
    assert video["kind"] == "video" and video["frames"] == 30 and video["fps"] == pytest.approx(10.0)
    assert len(video["persons"]) == 1 and video["persons"][0]["visible_s"] == pytest.approx(3.0)
    assert len(video["persons"][0]["samples"]["t_s"]) == 15  # 3 s in windows of 200 ms
    assert photo["kind"] == "photo" and len(photo["persons"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["files", "report.html", "report.json", "shares.png",
                                                     "timeline.csv", "timeline.png", "valence.png"]
    csv_rows = (out / "timeline.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 15 + 1


def test_non_empty_out_needs_force_and_force_keeps_other_files(env, capsys):
    tmp, config = env
    out = tmp / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert analyze(config, FIXTURES / "astronaut_256.jpg", "--out", out) == 1
    err = capsys.readouterr().err
    assert "not empty" in err and "--force" in err and "Traceback" not in err
    assert analyze(config, FIXTURES / "astronaut_256.jpg", "--out", out, "--force") == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "report.json").is_file()


@pytest.mark.parametrize("args,problem", [(["--every-ms", "0"], "--every-ms"), (["--jobs", "-1"], "--jobs")])
def test_bad_values_exit_2(env, capsys, args, problem):
    tmp, config = env
    with pytest.raises(SystemExit) as stopped:
        analyze(config, FIXTURES / "astronaut_256.jpg", "--out", tmp / "out", *args)
    assert stopped.value.code == 2 and problem in capsys.readouterr().err
    assert not (tmp / "out").exists()


def test_jobs_and_scheduler_together_exit_2(env, capsys):
    tmp, config = env
    assert analyze(config, FIXTURES / "astronaut_256.jpg", "--out", tmp / "out", "--jobs", "2", "--scheduler",
                   "tcp://127.0.0.1:1") == 2
    assert "give one of them" in capsys.readouterr().err and not (tmp / "out").exists()


def test_model_options_override_the_settings_file(env, capsys):
    tmp, config = env
    assert analyze(config, FIXTURES / "astronaut_256.jpg", "--out", tmp / "out", "--classifier",
                   "mini_xception_fer2013", "--detector", "blazeface_full", "--threads", "2") == 0
    settings = report_data(tmp / "out")["settings"]
    assert (settings["classifier"], settings["detector"], settings["threads"]) == ("mini_xception_fer2013",
                                                                                  "blazeface_full", 2)
    # an unknown model stops the run before anything is written, naming the models there are
    assert analyze(config, FIXTURES / "astronaut_256.jpg", "--out", tmp / "out2", "--classifier", "nope") == 1
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "emocnn_fer2013" in err and not (tmp / "out2").exists()


def test_ctrl_c_keeps_finished_files_and_resume_skips_them(env, capsys, monkeypatch):
    tmp, config = env
    clip_a, clip_b = fixture_clip(tmp / "a.avi"), fixture_clip(tmp / "b.avi", frames=20)
    out = tmp / "out"
    real = runner_module.analyse_file
    calls = []

    def interrupted_on_second(path, *a, **kw):
        calls.append(Path(path).name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(path, *a, **kw)

    monkeypatch.setattr(runner_module, "analyse_file", interrupted_on_second)
    assert analyze(config, clip_a, clip_b, "--out", out) == 130
    assert "--resume" in capsys.readouterr().err
    assert len(list((out / "files").iterdir())) == 1 and not (out / "report.json").exists()
    # without --resume the half-done folder is not touched
    assert analyze(config, clip_a, clip_b, "--out", out) == 1
    # --resume analyses only the file that was not finished
    calls.clear()
    monkeypatch.setattr(runner_module, "analyse_file", lambda path, *a, **kw: calls.append(Path(path).name)
                        or real(path, *a, **kw))
    assert main(["analyze", "--config", config, str(clip_a), str(clip_b), "--out", str(out), "--resume"]) == 0
    assert calls == ["b.avi"] and "reused 1 file(s)" in capsys.readouterr().out
    resumed = report_data(out)
    # ... and gives the report an uninterrupted run gives
    monkeypatch.setattr(runner_module, "analyse_file", real)
    assert analyze(config, clip_a, clip_b, "--out", tmp / "fresh") == 0
    assert without_timings(resumed) == without_timings(report_data(tmp / "fresh"))


def test_sigterm_keeps_finished_files_and_exits_143(env, capsys, monkeypatch):
    tmp, config = env
    clip_a, clip_b = fixture_clip(tmp / "a.avi", frames=10), fixture_clip(tmp / "b.avi", frames=10)
    real = runner_module.analyse_file
    calls = []

    def terminated_on_second(path, *a, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise Terminated(signal.SIGTERM)  # what fileio.raise_on_termination raises in the main thread
        return real(path, *a, **kw)

    monkeypatch.setattr(runner_module, "analyse_file", terminated_on_second)
    assert analyze(config, clip_a, clip_b, "--out", tmp / "out") == 143
    err = capsys.readouterr().err
    assert "stopped by SIGTERM: 1 of 2 file(s) done" in err and "--resume" in err and "Traceback" not in err
    assert len(list((tmp / "out" / "files").iterdir())) == 1 and not (tmp / "out" / "report.json").exists()
    assert pending_temp_files() == []


def test_resume_analyses_again_when_the_settings_changed(env, monkeypatch):
    tmp, config = env
    clip = fixture_clip(tmp / "a.avi", frames=10)
    out = tmp / "out"
    assert analyze(config, clip, "--out", out) == 0
    calls = []
    real = runner_module.analyse_file
    monkeypatch.setattr(runner_module, "analyse_file", lambda path, *a, **kw: calls.append(path)
                        or real(path, *a, **kw))
    assert analyze(config, clip, "--out", out, "--resume") == 0 and calls == []
    assert analyze(config, clip, "--out", out, "--resume", "--every-ms", "500") == 0 and len(calls) == 1
    assert report_data(out)["settings"]["every_ms"] == 500


def test_report_from_a_timeline_file_says_what_is_wrong(env, capsys):
    tmp, config = env
    (tmp / "t.jsonl").write_text("this is not a timeline\n")
    assert main(["report", str(tmp / "t.jsonl"), "--out", str(tmp / "out")]) == 1
    err = capsys.readouterr().err
    assert "no frame record" in err and "Traceback" not in err and not (tmp / "out").exists()


def test_report_on_live_sessions_of_the_demo(env, validator, capsys):
    """`run --timeline` twice into one file (it appends): classified at classifier.rate_hz (15 Hz at 30 fps, so a
    face's probs repeat between classifications), then `report` gives one recording per session."""
    tmp, config = env
    environ = {**os.environ, "XDG_CONFIG_HOME": str(tmp / "xdg-config"), "XDG_DATA_HOME": str(tmp / "xdg-data")}
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-m", "vcam_emoji", "run", "--config", config, "--source", "demo",
                               "--sink", "none", "--seconds", "2", "--stats-every", "0", "--timeline", "t.jsonl"],
                              env=environ, cwd=tmp, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in (tmp / "t.jsonl").read_text().splitlines()]
    starts = [i for i, r in enumerate(lines) if r["frame"] == 0]
    assert len(starts) == 2
    faces = [f for r in lines for f in r["faces"]]
    assert faces and any(a["probs"] == b["probs"] for a, b in zip(faces, faces[1:]))  # held between classifications
    assert main(["report", str(tmp / "t.jsonl"), "--out", str(tmp / "out")]) == 0
    assert "2 of 2 file(s) analysed" in capsys.readouterr().out
    data = report_data(tmp / "out")
    validator.validate(data)
    check_shares(data)
    assert data["settings"]["source"] == "timeline"
    for f, (begin, end) in zip(data["files"], [(starts[0], starts[1]), (starts[1], len(lines))]):
        session = lines[begin:end]
        assert f["kind"] == "timeline" and f["frames"] == len(session) and f"from line {begin + 1}" in f["name"]
        # the demo shows one face all along: seen for the session's length, from its first frame on
        (person,) = f["persons"]
        span = session[-1]["t"] - session[0]["t"]
        assert person["visible_s"] == pytest.approx(span, abs=0.2) and f["duration_s"] == pytest.approx(span, abs=0.2)
        assert f["audience"]["t_s"][0] == pytest.approx(0.2 * int(session[0]["t"] / 0.2 + 1e-6), abs=1e-3)
        assert set(f["audience"]["faces"]) == {1}  # no window before the first frame
        assert person["samples"]["t_s"] == f["audience"]["t_s"]
    rows = (tmp / "out" / "timeline.csv").read_text().splitlines()
    assert len(rows) == 1 + sum(len(p["samples"]["t_s"]) for f in data["files"] for p in f["persons"])


# ------------------------------------------------------------------------------------------------ ../shared
@pytest.mark.needs_shared
def test_shared_clips_and_photos_with_a_corrupt_file_among_them(env, validator, capsys):
    tmp, config = env
    paths = [shared_file(f"media/{name}") for name in [*CLIPS, *PHOTOS]]
    corrupt = tmp / "corrupt.mp4"
    good = paths[0].read_bytes()
    corrupt.write_bytes(good[:2000] + bytes(5000))  # a cut-off, zeroed mp4
    out = tmp / "out"
    assert analyze(config, paths[0], corrupt, *paths[1:], "--out", out) == 1  # one failed -> exit 1
    err = capsys.readouterr().err
    assert str(corrupt) in err and "Traceback" not in err
    data = report_data(out)
    validator.validate(data)
    check_shares(data)
    by_name = {f["name"]: f for f in data["files"]}
    assert [f["name"] for f in data["files"]] == [paths[0].name, "corrupt.mp4", *(p.name for p in paths[1:])]
    assert by_name["corrupt.mp4"]["status"] == "failed" and by_name["corrupt.mp4"]["path"] == str(corrupt)
    assert "corrupt.mp4" in by_name["corrupt.mp4"]["error"]
    assert data["summary"]["files_failed"] == 1 and data["summary"]["files_ok"] == len(paths)
    for clip, faces in CLIPS.items():
        assert by_name[clip]["status"] == "ok" and len(by_name[clip]["persons"]) == faces
    for photo in PHOTOS:
        assert len(by_name[photo]["persons"]) == 1, photo
    # photos whose name says the expression: the report says it too (the bundled model reads the "surprised"
    # photo as neutral, so that one is not checked)
    for photo, expected in [("pexels_happy-baby.jpeg", "happy"), ("skimage_astronaut.png", "happy"),
                            ("pexels_angry.jpg", "angry"), ("pexels_neutral.jpeg", "neutral"),
                            ("pexels_sad-baby.jpeg", "sad")]:
        assert by_name[photo]["persons"][0]["dominant"] == expected, photo
    # the smiling man of the one-face clip: happy for a good part of the clip
    assert by_name["intel_head-pose-face-detection-male.mp4"]["persons"][0]["shares"]["happy"] > 0.3
    html = (out / "report.html").read_text()
    assert "corrupt.mp4" in html and "failed" in html


def bin_timeline(records: list[dict], track_id: int, every_s: float) -> tuple[list[float], np.ndarray]:
    """An independent reading of a render --timeline: the mean probs of a track per window (equal frame times)."""
    sums: dict[int, list[np.ndarray]] = {}
    for r in records:
        for f in r["faces"]:
            if f["track_id"] == track_id:
                sums.setdefault(int(np.floor(r["t"] / every_s + 1e-6)), []).append(np.array(f["probs"]))
    keys = sorted(sums)
    return [k * every_s for k in keys], np.array([np.mean(sums[k], axis=0) for k in keys])


@pytest.mark.needs_shared
@pytest.mark.parametrize("clip", list(CLIPS))
def test_timeline_agrees_with_render_timeline(env, clip):
    tmp, config = env
    src = shared_file(f"media/{clip}")
    assert main(["render", "--config", config, "-q", str(src), str(tmp / "out.mp4"), "--timeline",
                 str(tmp / "t.jsonl")]) == 0
    records = [json.loads(line) for line in (tmp / "t.jsonl").read_text().splitlines()]
    assert analyze(config, src, "--out", tmp / "analysed") == 0
    (analysed,) = read_report(tmp / "analysed" / "report.json").files
    # the same faces, frames and track ids as the render timeline
    tracks = sorted({f["track_id"] for r in records for f in r["faces"]})
    assert [p.track_id for p in analysed.persons] == tracks and len(tracks) == CLIPS[clip]
    assert analysed.frames == len(records)
    for person in analysed.persons:
        assert person.frames == sum(1 for r in records for f in r["faces"] if f["track_id"] == person.track_id)
        t_s, probs = bin_timeline(records, person.track_id, 0.2)
        np.testing.assert_allclose(person.series.t_s, t_s, atol=1e-6)
        np.testing.assert_allclose(person.series.probs, probs, atol=2e-4)  # report.json keeps 4 decimals
    # and `report` on that timeline gives the same figures as `analyze` on the clip
    assert main(["report", "-q", str(tmp / "t.jsonl"), "--out", str(tmp / "from-timeline")]) == 0
    (from_timeline,) = read_report(tmp / "from-timeline" / "report.json").files
    assert from_timeline.kind == "timeline" and from_timeline.frames == len(records)
    for a, b in zip(analysed.persons, from_timeline.persons):
        assert a.track_id == b.track_id and a.frames == b.frames
        np.testing.assert_allclose(a.shares, b.shares, atol=2e-3)
        np.testing.assert_allclose(a.series.probs, b.series.probs, atol=2e-3)
        np.testing.assert_allclose(a.visible_s, b.visible_s, rtol=2e-3)


@pytest.mark.needs_shared
def test_two_jobs_give_the_same_report_as_one(env):
    tmp, config = env
    paths = [shared_file(f"media/{name}") for name in [*CLIPS, "pexels_neutral.jpeg"]]
    assert analyze(config, *paths, "--out", tmp / "one") == 0
    assert analyze(config, *paths, "--out", tmp / "two", "--jobs", "2") == 0
    assert without_timings(report_data(tmp / "one")) == without_timings(report_data(tmp / "two"))
