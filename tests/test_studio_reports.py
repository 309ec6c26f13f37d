"""The Session page's reports through Starlette's test client: the reports of `vcam-emoji report` / `analyze` in the
Studio's reports folder and in folders the user adds, their summaries and files, a report of the live session made
through the analytics library, and what the Studio refuses to read or write. The engine is the in-memory fake; the
live session is frames pushed by the test, on an injected clock.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("httpx2", reason="Starlette's test client needs httpx2 (the test extra)")
pytest.importorskip("matplotlib", reason="the report's plots need matplotlib (the analytics extra, in the test extra)")

from starlette.testclient import TestClient  # noqa: E402

from studio_fakes import FakeEngine, face_result  # noqa: E402
from test_studio_api import ORIGIN, PORT, TOKEN, files_under, home  # noqa: E402,F401

from studio.api import API  # noqa: E402
from studio.reports import REPORT_CSP, SessionLog, analytics_problem, reports_dir  # noqa: E402
from studio.security import Guard  # noqa: E402
from studio.state import StudioState  # noqa: E402
from studio.web import create_app  # noqa: E402
from vcam_emoji.analytics import read_report, report_from_timelines  # noqa: E402
from vcam_emoji.config import ensure_config_file, load_config  # noqa: E402
from vcam_emoji.timeline import TimelineWriter  # noqa: E402
from vcam_emoji.types import Expression  # noqa: E402

FPS = 30


def ticking(step: float = 1 / FPS):
    """A clock that moves on one frame each time it is read."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


@pytest.fixture
def studio(home):
    config_path = ensure_config_file(home / "config" / "vcam-emoji" / "config.toml")
    engine = FakeEngine(load_config(config_path))
    state = StudioState(engine, config_path, find_cameras=lambda: [], session_log=SessionLog(clock=ticking()))
    app = create_app(state, Guard(TOKEN, PORT))
    with TestClient(app, base_url=ORIGIN, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        client.engine, client.state = engine, state
        yield client


def live_session(engine, happy: int = 60, sad: int = 30) -> None:
    frame = np.zeros((48, 64, 3), np.uint8)
    for i in range(happy + sad):
        engine.emit(frame, face_result(7, Expression.HAPPY if i < happy else Expression.SAD, index=i))


def timeline_report(out: Path, name: str = "talk", frames: int = 45) -> Path:
    """A report made exactly as `vcam-emoji report TIMELINE --out OUT` makes it."""
    timeline = out.parent / f"{name}.jsonl"
    timeline.parent.mkdir(parents=True, exist_ok=True)
    with open(timeline, "w", encoding="utf-8") as stream:
        writer = TimelineWriter(stream)
        for i in range(frames):
            result = face_result(1, Expression.SURPRISE if i % 3 else Expression.NEUTRAL, index=i)
            writer.write(type(result)(i, i / FPS, result.faces))
    report_from_timelines([timeline], out)
    return out


# ------------------------------------------------------------------------------------------------------ listing
def test_no_reports_yet(studio):
    data = studio.get(f"{API}/reports").json()
    assert data["reports"] == [] and data["problems"] == [] and data["folders"] == []
    assert data["folder"] == str(reports_dir()) and data["can_make"] and data["why_not"] == ""
    assert data["session"]["frames"] == 0


def test_a_report_in_the_studios_folder_is_listed_with_its_summary(studio):
    timeline_report(reports_dir() / "talk")
    (report,) = studio.get(f"{API}/reports").json()["reports"]
    assert report["own"] and report["folder"] == str(reports_dir() / "talk") and report["source"] == "timeline"
    summary = report["summary"]
    assert summary["persons"] == 1 and summary["files"] == 1 and summary["dominant"] == "surprise"
    assert summary["shares"]["surprise"] == pytest.approx(2 / 3, abs=0.05)
    assert sum(summary["shares"].values()) == pytest.approx(1.0, abs=1e-3)
    assert report["files"] == [{"name": "talk.jsonl", "kind": "timeline", "status": "ok",
                                "duration_s": pytest.approx(1.5, abs=0.05), "persons": 1, "dominant": "surprise"}]
    assert report["html"] == f"/api/v1/reports/file?id={report['id']}&name=report.html"


def test_report_html_is_served_in_a_sandbox_and_the_other_files_as_they_are(studio):
    folder = timeline_report(reports_dir() / "talk")
    (report,) = studio.get(f"{API}/reports").json()["reports"]
    page = studio.get(report["html"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == REPORT_CSP.decode()  # no script, not the Studio's origin
    assert page.content == (folder / "report.html").read_bytes()
    data = studio.get(report["json"])
    assert data.status_code == 200 and data.json() == json.loads((folder / "report.json").read_text())
    csv = studio.get(report["csv"])
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.startswith("file,kind,person")
    png = studio.get(f"{API}/reports/file", params={"id": report["id"], "name": "shares.png"})
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"


@pytest.mark.parametrize("params, status, words", [
    ({"name": "report.html"}, 400, "id= is needed"),
    ({"id": "0123456789abcdef"}, 404, "no report '0123456789abcdef' here now"),
    ({"id": "ID", "name": "../../../etc/passwd"}, 400, "is not a report file"),
    ({"id": "ID", "name": "files"}, 400, "is not a report file"),
    ({"id": "ID", "name": "pack.json"}, 400, "is not a report file"),
])
def test_only_report_files_of_listed_reports_are_served(studio, params, status, words):
    timeline_report(reports_dir() / "talk")
    (report,) = studio.get(f"{API}/reports").json()["reports"]
    params = {k: (report["id"] if v == "ID" else v) for k, v in params.items()}
    response = studio.get(f"{API}/reports/file", params=params)
    assert response.status_code == status and words in response.json()["error"]


def test_links_are_neither_followed_nor_served(studio, home):
    secret = home / "secret.txt"
    secret.write_text("not for the browser")
    folder = timeline_report(reports_dir() / "talk")
    (folder / "timeline.csv").unlink()
    (folder / "timeline.csv").symlink_to(secret)
    (reports_dir() / "linked").symlink_to(folder)  # a linked report folder is not listed twice, nor at all
    outside = timeline_report(home / "outside" / "other")
    (reports_dir() / "via-link").mkdir()
    (reports_dir() / "via-link" / "report.json").symlink_to(outside / "report.json")
    reports = studio.get(f"{API}/reports").json()["reports"]
    assert [r["folder"] for r in reports] == [str(folder)]
    response = studio.get(reports[0]["csv"])
    assert response.status_code == 404 and "not for the browser" not in response.text


def test_a_damaged_report_is_named_with_the_problem_and_the_others_still_listed(studio):
    timeline_report(reports_dir() / "good")
    (reports_dir() / "bad").mkdir()
    (reports_dir() / "bad" / "report.json").write_text('{"format": "vcam-emoji-report", "schema_version": 1}')
    (reports_dir() / "junk").mkdir()
    (reports_dir() / "junk" / "report.json").write_text("not json")
    data = studio.get(f"{API}/reports").json()
    assert [r["folder"].rsplit("/", 1)[1] for r in data["reports"]] == ["good"]
    assert len(data["problems"]) == 2
    assert any("bad" in p and "incomplete or damaged" in p for p in data["problems"]), data["problems"]
    assert any("junk" in p and "not a readable JSON report" in p for p in data["problems"]), data["problems"]


# ------------------------------------------------------------------------------------------------ added folders
def test_a_folder_added_on_the_page_is_looked_in_and_remembered(studio, home):
    elsewhere = home / "lectures"
    timeline_report(elsewhere / "monday")
    timeline_report(elsewhere / "tuesday", frames=30)
    assert studio.get(f"{API}/reports").json()["reports"] == []  # never looked in without being told
    added = studio.post(f"{API}/reports/folders", json={"path": str(elsewhere)})
    assert added.status_code == 201 and added.json()["folders"] == [str(elsewhere)]
    data = studio.get(f"{API}/reports").json()
    assert sorted(r["folder"] for r in data["reports"]) == [str(elsewhere / "monday"), str(elsewhere / "tuesday")]
    assert all(not r["own"] and r["found_in"] == str(elsewhere) for r in data["reports"])
    # a report folder itself can be added too
    single = timeline_report(home / "one" / "report")
    assert studio.post(f"{API}/reports/folders", json={"path": str(single)}).status_code == 201
    assert len(studio.get(f"{API}/reports").json()["reports"]) == 3
    # remembered in the Studio's reports folder: a new Studio sees the same
    saved = json.loads((reports_dir() / "folders.json").read_text())
    assert saved == {"folders": [str(elsewhere), str(single)]}
    again = StudioState(studio.engine, studio.state.config_path, find_cameras=lambda: [])
    assert again.reports.folders() == [elsewhere, single]
    # removed: no longer looked in, nothing deleted
    removed = studio.post(f"{API}/reports/folders/remove", json={"path": str(elsewhere)})
    assert removed.status_code == 200 and removed.json()["folders"] == [str(single)]
    assert [r["folder"] for r in studio.get(f"{API}/reports").json()["reports"]] == [str(single)]
    assert (elsewhere / "monday" / "report.json").is_file()


def test_a_folder_that_went_away_is_named(studio, home):
    gone = timeline_report(home / "gone" / "r").parent
    studio.post(f"{API}/reports/folders", json={"path": str(gone)})
    for p in sorted(gone.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    gone.rmdir()
    (problem,) = studio.get(f"{API}/reports").json()["problems"]
    assert str(gone) in problem and "not there any more" in problem


@pytest.mark.parametrize("path, status, words", [
    (None, 400, "\"path\" is needed"),
    ("", 400, "\"path\" is needed"),
    ("lectures", 400, "is not a full path"),
    ("HOME/nowhere", 400, "does not exist"),
    ("HOME/a-file.txt", 400, "is a file, not a folder"),
    ("HOME/empty", 400, "holds no report"),
])
def test_a_folder_that_cannot_be_added_is_named_next_to_the_field(studio, home, path, status, words):
    (home / "a-file.txt").write_text("x")
    (home / "empty").mkdir()
    before = files_under(home)
    body = {} if path is None else {"path": path.replace("HOME", str(home))}
    response = studio.post(f"{API}/reports/folders", json=body)
    assert response.status_code == status
    assert words in response.json()["error"] and words in response.json()["fields"]["path"]
    assert files_under(home) == before


def test_a_folder_is_added_once_and_unknown_ones_cannot_be_removed(studio, home):
    folder = timeline_report(home / "r" / "x").parent
    assert studio.post(f"{API}/reports/folders", json={"path": str(folder)}).status_code == 201
    twice = studio.post(f"{API}/reports/folders", json={"path": str(folder) + "/"})
    assert twice.status_code == 409 and "in the list already" in twice.json()["error"]
    assert studio.post(f"{API}/reports/folders/remove", json={"path": "/nowhere"}).status_code == 404


# ----------------------------------------------------------------------------------------- the live session
def test_a_report_of_the_live_session_is_made_through_the_library(studio, home):
    before = files_under(home)
    live_session(studio.engine, happy=60, sad=30)  # three seconds on the injected clock
    assert studio.get(f"{API}/reports").json()["session"]["frames"] == 90
    response = studio.post(f"{API}/reports/session", json={})
    assert response.status_code == 201, response.text
    made = response.json()["report"]
    folder = Path(made["folder"])
    assert folder.parent == reports_dir() and folder.name.startswith("session-") and made["own"]
    report = read_report(folder / "report.json")  # checked against the report schema
    (result,) = report.files
    assert result.kind == "timeline" and result.name.startswith("Live session ") and result.fps == pytest.approx(FPS)
    assert result.duration_s == pytest.approx(3.0, abs=0.05) and result.size_wh == (64, 48)
    (person,) = result.persons
    assert person.track_id == 7
    shares = made["summary"]["shares"]
    assert shares["happy"] == pytest.approx(2 / 3, abs=0.02) and shares["sad"] == pytest.approx(1 / 3, abs=0.02)
    assert report.settings["smoothing"]["time_constant_ms"] == studio.engine.config.smoothing.time_constant_ms
    assert {p.name for p in folder.iterdir()} >= {"report.json", "report.html", "timeline.csv", "shares.png"}
    new = files_under(home) - before
    assert new and all(Path(p).is_relative_to(reports_dir().relative_to(home)) for p in new), new
    assert not [p for p in reports_dir().iterdir() if p.name.startswith(".")]  # no staging folder left
    assert studio.get(made["html"]).status_code == 200
    # a second one a moment later is a new folder, never over the first
    second = studio.post(f"{API}/reports/session", json={}).json()["report"]
    assert second["folder"] != made["folder"] and len(studio.get(f"{API}/reports").json()["reports"]) == 2


def test_an_uneven_live_pace_still_counts_the_whole_session(studio):
    # frames 30, 30 and 90 ms apart, as a busy machine runs the live loop (with the median step, 30 ms, as the
    # frame period, only 60 ms of each 90 ms step would count: a fifth of the session lost)
    steps = itertools.cycle([0.03, 0.03, 0.09])
    now = [0.0]

    def clock() -> float:
        value = now[0]
        now[0] += next(steps)
        return value

    studio.state.session_log = SessionLog(clock=clock)
    studio.engine.add_frame_listener(studio.state.session_log)
    live_session(studio.engine, happy=49, sad=50)
    made = studio.post(f"{API}/reports/session", json={}).json()["report"]
    t = studio.state.session_log.snapshot().t
    span = t[-1] - t[0]
    assert span == pytest.approx(33 * 0.09 + 65 * 0.03, abs=1e-6)  # 98 steps: 33 of 90 ms, 65 of 30 ms
    assert made["summary"]["duration_s"] == pytest.approx(span + span / 98, abs=0.005)  # the last frame: one step


def test_no_report_of_a_session_without_frames(studio, home):
    before = files_under(home)
    response = studio.post(f"{API}/reports/session", json={})
    assert response.status_code == 409 and "no frames yet" in response.json()["error"]
    assert files_under(home) == before


def test_the_session_log_skips_placeholders_keeps_time_moving_on_and_stops_when_full():
    clock = iter([0.0, 1.0, 0.5, 2.0, 3.0, 4.0]).__next__  # the second frame's clock reading goes back
    session = SessionLog(clock=clock, max_frames=3)
    frame = np.zeros((4, 4, 3), np.uint8)
    session(frame, None)  # a placeholder frame: not recorded, the clock not read
    for i in range(4):
        session(frame, face_result(index=i))
    snapshot = session.snapshot()
    assert list(snapshot.t) == [1.0, 1.0, 2.0] and session.full and session.frames == 3
    assert list(snapshot.face_track) == [1, 1, 1]


def test_without_matplotlib_the_page_is_told_why_no_report_can_be_made():
    assert analytics_problem("no_such_plotting_library_here") == (
        'the report\'s plots need matplotlib: pip install "vcam-emoji[analytics]"')
    assert analytics_problem() == ""


# ------------------------------------------------------------------------------------------------------- security
@pytest.mark.parametrize("path", [f"{API}/reports", f"{API}/reports/file?id=x&name=report.html"])
def test_reports_need_the_token_and_this_host(studio, path):
    with TestClient(studio.app, base_url=ORIGIN) as anonymous:
        assert anonymous.get(path).status_code == 401
    assert studio.get(path, headers={"Host": "evil.example"}).status_code == 403
    assert studio.get(path, headers={"Origin": "https://evil.example"}).status_code == 403


@pytest.mark.parametrize("path, body", [(f"{API}/reports/session", {}),
                                        (f"{API}/reports/folders", {"path": "/"}),
                                        (f"{API}/reports/folders/remove", {"path": "/"})])
def test_report_changes_refuse_a_foreign_origin_and_write_nothing(studio, home, path, body):
    live_session(studio.engine)
    before = files_under(home)
    response = studio.post(path, json=body, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403 and "other web pages" in response.json()["error"]
    with TestClient(studio.app, base_url=ORIGIN) as anonymous:
        anonymous.cookies.set(f"emoji_cam_studio_{PORT}", TOKEN)
        refused = anonymous.post(path, json=body)  # the cookie, but not from a Studio page
        assert refused.status_code == 403
    assert files_under(home) == before


def test_the_session_page_has_the_reports(studio):
    page = studio.get("/session")
    assert page.status_code == 200 and "Make a report of this session" in page.text and "folder-path" in page.text
