"""Emotion analytics, the pure parts: figures from scripted frame records, the JSON format and its schema, timelines,
the output-folder rules. No model, no ../shared."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from vcam_emoji.analytics import (
    SCHEMA_FILE,
    FrameLog,
    aggregate,
    analyse_log,
    format_time,
    read_report,
    timeline_results,
    write_report,
)
from vcam_emoji.analytics.model import Report
from vcam_emoji.analytics.outputs import ResultStore, normalised, prepare_out_dir, timeline_csv_text
from vcam_emoji.analytics.runner import collect_inputs
from vcam_emoji.analytics.timeline_input import read_timeline
from vcam_emoji.errors import InputError, OutputError
from vcam_emoji.fileio import OutputExists
from vcam_emoji.types import EXPRESSION_LABELS, Expression

FPS = 10.0


def onehot(e: Expression, p: float = 1.0) -> list[float]:
    v = [(1.0 - p) / 6] * 7
    v[e] = p
    return v


def record(i: int, faces: list[tuple[int, list[float]]], fps: float = FPS, smoothed=None) -> dict:
    return {"frame": i, "t": round(i / fps, 4),
            "faces": [{"track_id": tid, "probs": probs, "smoothed": smoothed or probs, "emotion": "neutral"}
                      for tid, probs in faces]}


def log_of(records) -> FrameLog:
    log = FrameLog()
    for r in records:
        log.add_record(r)
    return log


def scripted() -> FrameLog:
    """Two faces over 4 s at 10 fps: face 1 happy for 3 s then sad for 1 s; face 2 neutral, only in the first 2 s."""
    records = []
    for i in range(40):
        faces = [(1, onehot(Expression.HAPPY if i < 30 else Expression.SAD))]
        if i < 20:
            faces.append((2, onehot(Expression.NEUTRAL, 0.7)))
        records.append(record(i, faces))
    return log_of(records)


def analysed(log=None, **kw):
    kw.setdefault("every_ms", 500)
    kw.setdefault("nominal_period_s", 1 / FPS)
    return analyse_log(log or scripted(), path="clip.mp4", name="clip.mp4", kind="video", fps=FPS, **kw)


@pytest.fixture(scope="module")
def schema():
    data = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return jsonschema.Draft202012Validator(data)


# ------------------------------------------------------------------------------------------------ figures
def test_shares_visible_time_and_valence_of_scripted_faces():
    result = analysed()
    face1, face2 = result.persons
    assert (face1.track_id, face2.track_id) == (1, 2)
    assert face1.visible_s == pytest.approx(4.0) and face2.visible_s == pytest.approx(2.0)
    assert face1.frames == 40 and face2.frames == 20
    assert face1.shares[Expression.HAPPY] == pytest.approx(0.75) and face1.shares[Expression.SAD] == pytest.approx(0.25)
    assert face2.shares[Expression.NEUTRAL] == pytest.approx(1.0)
    for p in result.persons:
        assert p.shares.sum() == pytest.approx(1.0)
    # valence: happy +1 for 3 s, sad -1 for 1 s -> +0.5; face 2: the 0.3 left over spread evenly, 4 of 6 negative
    assert face1.mean_valence == pytest.approx(0.5)
    assert face2.mean_valence == pytest.approx(0.05 - 4 * 0.05)
    # the file weighs its faces by visible time: face 1 counts twice as much as face 2
    assert result.summary.shares[Expression.HAPPY] == pytest.approx(0.75 * 4 / 6)
    assert result.summary.visible_s == pytest.approx(6.0) and result.duration_s == pytest.approx(4.0)


def test_samples_average_the_frames_of_each_window():
    result = analysed(every_ms=500)
    face1, face2 = result.persons
    np.testing.assert_allclose(face1.series.t_s, np.arange(8) * 0.5)
    np.testing.assert_allclose(face2.series.t_s, np.arange(4) * 0.5)  # windows without the face are left out
    assert face1.series.probs[5, Expression.HAPPY] == pytest.approx(1.0)
    assert face1.series.probs[6, Expression.SAD] == pytest.approx(1.0)
    np.testing.assert_allclose(face1.series.probs.sum(axis=1), 1.0)


def test_window_mixing_two_expressions_is_their_mean():
    # frames 0-4 happy, 5-9 sad, one 1-second window: the sample is half and half
    log = log_of([record(i, [(1, onehot(Expression.HAPPY if i < 5 else Expression.SAD))]) for i in range(10)])
    (face,) = analysed(log, every_ms=1000).persons
    assert face.series.probs[0, Expression.HAPPY] == pytest.approx(0.5)
    assert face.series.probs[0, Expression.SAD] == pytest.approx(0.5)
    assert face.series.valence[0] == pytest.approx(0.0)


def test_shares_follow_the_smoothed_probabilities():
    # the classifier says sad on every frame, the smoothing still says happy: the share is the smoothed one
    log = log_of([record(i, [(1, onehot(Expression.SAD))], smoothed=onehot(Expression.HAPPY)) for i in range(10)])
    (face,) = analysed(log).persons
    assert face.shares[Expression.HAPPY] == pytest.approx(1.0)
    assert face.mean_probs[Expression.SAD] == pytest.approx(1.0)


def test_strongest_moments_are_the_peaks_at_least_a_second_apart():
    # happiness rises and falls twice: peaks at 1.0 s and 3.0 s
    records = []
    for i in range(50):
        t = i / FPS
        p = max(0.1, 0.9 - abs(t - 1.0), 0.8 - abs(t - 3.0))
        records.append(record(i, [(1, onehot(Expression.HAPPY, p))]))
    (face,) = analysed(log_of(records), every_ms=100).persons
    moments = face.moments[Expression.HAPPY]
    assert [m.t_s for m in moments[:2]] == pytest.approx([1.0, 3.0])
    assert moments[0].p == pytest.approx(0.9) and moments[1].p == pytest.approx(0.8)
    assert all(abs(a.t_s - b.t_s) >= 1.0 - 1e-9 for a in moments for b in moments if a is not b)


def test_audience_counts_faces_and_shares_of_faces_per_sample():
    result = analysed(every_ms=500)
    a = result.audience
    assert list(a.faces) == [2, 2, 2, 2, 1, 1, 1, 1]
    # in the first 2 s one face of two is mostly happy: 50% "smiled"
    assert a.dominant_shares[0, Expression.HAPPY] == pytest.approx(0.5)
    assert a.dominant_shares[0, Expression.NEUTRAL] == pytest.approx(0.5)
    assert a.dominant_shares[7, Expression.SAD] == pytest.approx(1.0)
    np.testing.assert_allclose(a.mean_probs.sum(axis=1), 1.0)
    happy = a.moments[Expression.HAPPY][0]
    assert happy.faces == 1 and happy.share == 1.0 and happy.t_s >= 2.0  # alone, face 1 is all happy


def test_gaps_in_a_live_session_do_not_count_as_seen():
    # 10 frames, a 60 s pause (camera off), 10 frames: about 2 s seen, not 62
    records = [record(i, [(1, onehot(Expression.HAPPY))]) for i in range(10)]
    records += [{**record(i, [(1, onehot(Expression.HAPPY))]), "t": 61.0 + i / FPS} for i in range(10, 20)]
    (face,) = analysed(log_of(records)).persons
    assert face.visible_s == pytest.approx(2.0 + 1 / FPS)


def test_a_live_session_starts_where_its_first_frame_came():
    # a live session's times count from when the app started: its first frame may come at 0.45 s
    records = [{**record(i, [(1, onehot(Expression.HAPPY))]), "t": 0.45 + i / FPS} for i in range(20)]
    result = analysed(log_of(records), every_ms=200)
    a = result.audience
    assert a.t_s[0] == pytest.approx(0.4) and a.t_s[-1] == pytest.approx(2.2)  # the windows of 0.45 s and 2.35 s
    assert a.faces.min() == 1  # no window before the first frame, so none "without a face"
    (face,) = result.persons
    np.testing.assert_allclose(face.series.t_s, a.t_s)


def test_repeated_probs_between_classifications_count_for_the_time_they_held():
    # classifier.rate_hz 15 at 30 fps: every other frame repeats the last output; a frame's time is what counts
    fps, happy, sad = 30.0, onehot(Expression.HAPPY), onehot(Expression.SAD)
    classified = [happy] * 10 + [sad] * 5  # 15 classifications over 1 s
    records = [record(i, [(1, classified[i // 2])], fps=fps) for i in range(30)]
    (face,) = analysed(log_of(records), every_ms=1000, nominal_period_s=1 / fps).persons
    assert face.mean_probs[Expression.HAPPY] == pytest.approx(2 / 3, abs=1e-4) and face.shares.sum() == pytest.approx(1.0)
    every_frame = [record(i, [(1, classified[i // 2])], fps=fps) for i in range(0, 30, 2)]  # 15 fps, no repeats
    (same,) = analysed(log_of(every_frame), every_ms=1000, nominal_period_s=2 / fps).persons
    np.testing.assert_allclose(face.series.probs, same.series.probs, atol=1e-4)  # times in timelines: 4 decimals
    np.testing.assert_allclose(face.shares, same.shares, atol=1e-4)


def test_short_tracks_are_left_out_and_counted():
    records = [record(i, [(1, onehot(Expression.HAPPY))] + ([(7, onehot(Expression.SAD))] if i < 3 else []))
               for i in range(20)]
    result = analysed(log_of(records), min_visible_s=0.5)
    assert [p.track_id for p in result.persons] == [1] and result.dropped_tracks == 1
    assert len(analysed(log_of(records), min_visible_s=0).persons) == 2


def test_a_photo_is_one_instant_with_one_hot_shares():
    log = log_of([record(0, [(1, onehot(Expression.SURPRISE, 0.6)), (2, onehot(Expression.FEAR, 0.9))])])
    result = analyse_log(log, path="p.jpg", name="p.jpg", kind="photo", every_ms=200, nominal_period_s=0.0,
                         min_visible_s=10)
    assert result.duration_s == 0 and len(result.persons) == 2  # never left out for being short
    assert result.persons[0].shares[Expression.SURPRISE] == 1.0 and result.persons[0].visible_s == 0
    assert result.summary.shares[Expression.SURPRISE] == pytest.approx(0.5)  # each face counts once


def test_no_faces_gives_empty_figures():
    result = analysed(log_of([record(i, []) for i in range(5)]))
    assert result.persons == () and result.summary.persons == 0 and list(result.audience.faces) == [0]


def test_across_files_each_file_counts_once():
    a = normalised(analysed())
    b = normalised(analyse_log(log_of([record(0, [(1, onehot(Expression.ANGRY))])]), path="x.png", name="x.png",
                               kind="photo", every_ms=500, nominal_period_s=0))
    report = aggregate([a, b], {"source": "analyze", "every_ms": 500.0, "min_visible_s": 0.5}, {"program": "t",
                                                                                               "version": "0"})
    np.testing.assert_allclose(report.summary.shares, (a.summary.shares + b.summary.shares) / 2)
    assert report.summary.persons == 3


@pytest.mark.parametrize("seconds,text", [(0, "00:00.0"), (134.04, "02:14.0"), (59.96, "01:00.0"),
                                          (3725.5, "1:02:05.5")])
def test_format_time(seconds, text):
    assert format_time(seconds) == text


@pytest.mark.parametrize("bad,problem", [
    ({"t": 0, "faces": [{"track_id": 1, "probs": [0.5, 0.5]}]}, "7 values"),
    ({"t": 0, "faces": [{"track_id": "a", "probs": [0.1] * 7}]}, "track_id"),
    ({"faces": []}, "missing"),
])
def test_bad_records_are_refused(bad, problem):
    with pytest.raises(ValueError, match=problem):
        FrameLog().add_record(bad)


# ------------------------------------------------------------------------------------------------ JSON
def sample_report(tmp_path=None) -> Report:
    files = [normalised(analysed())]
    from vcam_emoji.analytics.model import FileResult

    files.append(FileResult.failed("broken.mp4", "broken.mp4: not a video OpenCV can read", "video"))
    return aggregate(files, {"source": "analyze", "every_ms": 500.0, "min_visible_s": 0.5},
                     {"program": "vcam-emoji", "version": "test"})


def test_report_json_validates_and_reads_back(tmp_path, schema):
    report = sample_report()
    written = write_report(report, tmp_path)
    assert {p.name for p in written} == {"report.json", "timeline.csv", "shares.png", "timeline.png",
                                         "valence.png", "report.html"}
    data = json.loads((tmp_path / "report.json").read_text())
    schema.validate(data)
    again = read_report(tmp_path / "report.json")
    assert again.to_json() == data
    assert again.files[1].error.startswith("broken.mp4") and data["summary"]["files_failed"] == 1


def test_write_report_replaces_only_when_asked(tmp_path):
    (tmp_path / "report.json").write_text("an earlier report")
    with pytest.raises(OutputExists):
        write_report(sample_report(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]  # nothing written, no temporary file
    assert (tmp_path / "report.json").read_text() == "an earlier report"
    write_report(sample_report(), tmp_path, replace=True)
    assert read_report(tmp_path / "report.json").files[0].name == "clip.mp4"
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "report.html").stat().st_mode & 0o777 == 0o666 & ~umask  # like any file the user makes


def test_schema_catches_a_broken_report(schema):
    data = sample_report().to_json()
    data["files"][0]["persons"][0]["shares"]["happy"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(data)
    data = sample_report().to_json()
    del data["files"][0]["audience"]
    with pytest.raises(jsonschema.ValidationError):
        schema.validate(data)


@pytest.mark.parametrize("content,problem", [
    ("not json", "not a readable JSON report"),
    ('{"format": "other"}', "not an Emoji Cam report"),
    ('{"format": "vcam-emoji-report", "schema_version": 99}', "schema version 99"),
    ('{"format": "vcam-emoji-report", "schema_version": 1}', "incomplete or damaged at the top level"),
])
def test_read_report_says_what_is_wrong(tmp_path, content, problem):
    path = tmp_path / "report.json"
    path.write_text(content)
    with pytest.raises(InputError, match=problem):
        read_report(path)


def test_read_report_checks_the_schema(tmp_path):
    data = sample_report().to_json()
    data["files"][0]["persons"][0]["shares"]["happy"] = 1.5
    (tmp_path / "report.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="damaged at files/0/persons/0/shares/happy"):
        read_report(tmp_path / "report.json")


def test_timeline_csv_one_row_per_face_per_sample():
    text = timeline_csv_text(sample_report())
    lines = text.splitlines()
    assert lines[0].split(",") == ["file", "kind", "person", "t_s", "time", *EXPRESSION_LABELS, "valence",
                                   "dominant"]
    assert len(lines) == 1 + 8 + 4
    first = lines[1].split(",")
    assert first[:5] == ["clip.mp4", "video", "1", "0.000", "00:00.0"] and first[-1] == "happy"


# ------------------------------------------------------------------------------------------------ timelines
def write_jsonl(path: Path, records, extra_lines=()) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "".join(extra_lines))
    return path


def test_appended_sessions_are_split_and_bad_lines_skipped(tmp_path):
    first = [record(i, [(1, onehot(Expression.HAPPY))]) for i in range(20)]
    second = [record(i, [(1, onehot(Expression.SAD))]) for i in range(30)]
    path = tmp_path / "live.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in first) + '{"frame": 20, "t": 2.0, "fa\n'
                    + "".join(json.dumps(r) + "\n" for r in second))
    parsed = read_timeline(path)
    assert [len(s.log) for s in parsed.sessions] == [20, 30]
    assert parsed.skipped_lines == 1 and parsed.first_skipped == 21
    results = timeline_results(path, every_ms=500)
    assert [r.name for r in results] == ["live.jsonl (session 1, from line 1)", "live.jsonl (session 2, from line 22)"]
    assert results[0].persons[0].dominant == Expression.HAPPY and results[1].persons[0].dominant == Expression.SAD
    assert results[1].duration_s == pytest.approx(3.0, abs=1e-3) and results[1].fps == pytest.approx(FPS, rel=1e-3)


@pytest.mark.parametrize("content", ["", "hello\n", '{"frame": "x"}\n'])
def test_a_file_without_frame_records_is_an_error(tmp_path, content):
    path = tmp_path / "t.jsonl"
    path.write_text(content)
    with pytest.raises(InputError, match="no frame record"):
        read_timeline(path)


# ------------------------------------------------------------------------------------------------ folders
def test_out_dir_must_be_empty_unless_forced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(OutputError, match="not empty.*--force"):
        prepare_out_dir(out, [])
    prepare_out_dir(out, [], force=True)
    assert (out / "mine.txt").read_text() == "keep me"


def test_outputs_never_replace_an_input(tmp_path):
    (tmp_path / "report.json").write_text("{}")
    with pytest.raises(OutputError, match="would be overwritten"):
        prepare_out_dir(tmp_path, [tmp_path / "report.json"], force=True)


def test_out_dir_inside_an_input_folder_is_refused(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    with pytest.raises(OutputError, match="inside the input folder"):
        prepare_out_dir(videos / "report", [videos])


def test_collect_inputs_walks_folders_and_keeps_missing_files(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/2.mp4", "a/1.JPG", "a/notes.txt", "a/.hidden.mp4", "b.mov"):
        (tmp_path / name).write_bytes(b"x")
    files, notes = collect_inputs([tmp_path / "a", tmp_path / "b.mov", tmp_path / "a" / "2.mp4", tmp_path / "no.mp4"])
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["a/1.JPG", "a/2.mp4", "b.mov", "no.mp4"]
    assert any("left out 1 file" in n for n in notes)


def test_result_store_reuses_only_the_same_input_and_settings(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"0" * 10)
    store = ResultStore(tmp_path, {"every_ms": 500.0})
    saved = store.save(video, analysed())
    assert store.load(video).to_json() == saved.to_json()
    assert ResultStore(tmp_path, {"every_ms": 200.0}).load(video) is None  # other settings
    video.write_bytes(b"1" * 11)
    assert store.load(video) is None  # the file changed
    from vcam_emoji.analytics.model import FileResult

    store.save(video, FileResult.failed(str(video), "broken"))
    assert store.load(video) is None  # failed files are tried again
