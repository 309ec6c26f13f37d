"""`analyze --scheduler`: the same per-file work on a Dask distributed cluster gives the same report as the local run.

A real ``distributed.LocalCluster`` with two worker processes on this machine (the test extra installs
dask[distributed]); only loopback addresses are used.
"""

from __future__ import annotations

import json

import pytest
from analytics_helpers import fixture_clip, report_data, without_timings
from conftest import FIXTURES, shared_file

from vcam_emoji.analytics import AnalysisSettings, analyze
from vcam_emoji.cli import main
from vcam_emoji.config import load_config

distributed = pytest.importorskip("distributed", reason="needs dask[distributed] (the cluster or test extra)")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as c:
        yield c


def run_both(env, cluster, inputs):
    tmp, config = env
    assert main(["analyze", "--config", config, "-q", *map(str, inputs), "--out", str(tmp / "local")]) in (0, 1)
    code = main(["analyze", "--config", config, "-q", *map(str, inputs), "--out", str(tmp / "dask"),
                 "--scheduler", cluster.scheduler_address])
    local, dask = report_data(tmp / "local"), report_data(tmp / "dask")
    return code, local, dask


def test_dask_run_equals_local_run_on_fixtures(env, cluster):
    tmp, _ = env
    clip = fixture_clip(tmp / "drift.avi")
    broken = tmp / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    code, local, dask = run_both(env, cluster, [clip, broken, FIXTURES / "astronaut_256.jpg"])
    assert code == 1  # the broken file fails on the cluster too, and is listed
    assert without_timings(dask) == without_timings(local)
    assert [f["status"] for f in dask["files"]] == ["ok", "failed", "ok"]
    assert dask["files"][0]["persons"] and all(f["analysis_s"] > 0 for f in dask["files"] if f["status"] == "ok")


@pytest.mark.needs_shared
def test_dask_run_equals_local_run_on_shared_clips(env, cluster):
    inputs = [shared_file("media/intel_head-pose-face-detection-female-and-male.mp4"),
              shared_file("media/intel_head-pose-face-detection-male.mp4"), shared_file("media/pexels_angry.jpg")]
    code, local, dask = run_both(env, cluster, inputs)
    assert code == 0
    assert without_timings(dask) == without_timings(local)
    assert [len(f["persons"]) for f in dask["files"]] == [2, 1, 1]


def test_api_takes_a_client_and_reports_progress(env, cluster):
    tmp, config = env
    clip = fixture_clip(tmp / "drift.avi", frames=20)
    progress, done = [], []
    settings = AnalysisSettings(config=load_config(config))
    with distributed.Client(cluster) as client:
        outcome = analyze([clip], tmp / "out", settings, scheduler=client,
                          on_progress=lambda path, n, total: progress.append((path, n, total)),
                          on_file=lambda result, reused: done.append(result.name))
    assert done == ["drift.avi"] and outcome.report is not None and not outcome.interrupted
    assert progress and progress[-1] == (str(clip), None, None)  # the file's bar is closed at the end
    assert any(n == 20 and total == 20 for _, n, total in progress)
    assert json.loads((tmp / "out" / "report.json").read_text())["files"][0]["frames"] == 20
