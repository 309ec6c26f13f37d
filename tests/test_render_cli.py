"""`vcam-emoji render` end to end on real photos and clips, and on the bad inputs users will meet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, shared_file
from helpers import assert_timeline_matches_drawing
from vcam_emoji.cli import main
from vcam_emoji.config import ensure_config_file
from vcam_emoji.packs import discover_packs
from vcam_emoji.render import find_ffmpeg
from vcam_emoji.source.image import load_image_bgr

PHOTOS = ["pexels_angry.jpg", "pexels_happy-baby.jpeg", "pexels_neutral.jpeg", "pexels_sad-baby.jpeg",
          "pexels_surprised.jpeg", "skimage_astronaut.png"]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A private config file and user folders, so tests never touch the real user's settings."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    config = ensure_config_file(tmp_path / "config.toml")
    return tmp_path, str(config)


@pytest.fixture(scope="module")
def packs():
    found, errors = discover_packs()
    assert not errors
    return found


def render(config, *args):
    return main(["render", "--config", config, "-q", *map(str, args)])


def read_timeline(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines()]


def read_video(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return frames, fps


def test_render_bundled_fixture_photo(env, packs):
    # Given a real photo that ships with the tests (no ../shared needed)
    tmp, config = env
    out, timeline = tmp / "out.png", tmp / "t.jsonl"
    # When it is rendered
    assert render(config, FIXTURES / "astronaut_256.jpg", out, "--timeline", timeline) == 0
    # Then the output keeps the size, has one face in the timeline, and shows exactly the emoji the timeline names
    src, dst = load_image_bgr(FIXTURES / "astronaut_256.jpg"), cv2.imread(str(out))
    assert dst.shape == src.shape
    (record,) = read_timeline(timeline)
    assert record["frame"] == 0 and record["t"] == 0
    (face,) = record["faces"]
    assert set(face) >= {"track_id", "box_xyxy", "score", "probs", "emotion"}
    assert len(face["probs"]) == 7 and abs(sum(face["probs"]) - 1) < 1e-3
    assert_timeline_matches_drawing(src, dst, record["faces"], packs["twemoji"])


@pytest.mark.parametrize("photo", PHOTOS)
def test_render_shared_photos_one_emoji_per_face(env, packs, photo):
    tmp, config = env
    src_path = shared_file(f"media/{photo}")
    out, timeline = tmp / "out.png", tmp / "t.jsonl"
    assert render(config, src_path, out, "--timeline", timeline, "--pack", "classic") == 0
    (record,) = read_timeline(timeline)
    assert len(record["faces"]) == 1, f"{photo}: expected one face, timeline has {len(record['faces'])}"
    src, dst = load_image_bgr(src_path), cv2.imread(str(out))
    x0, y0, x1, y1 = (int(v) for v in record["faces"][0]["box_xyxy"])
    assert np.mean(np.abs(src[y0:y1, x0:x1].astype(int) - dst[y0:y1, x0:x1].astype(int))) > 20  # face covered
    assert_timeline_matches_drawing(src, dst, record["faces"], packs["classic"])


@pytest.mark.parametrize("clip,faces_per_frame", [("intel_head-pose-face-detection-male.mp4", 1),
                                                  ("intel_head-pose-face-detection-female-and-male.mp4", 2)])
def test_render_shared_clips_every_frame(env, packs, clip, faces_per_frame):
    tmp, config = env
    src_path = shared_file(f"media/{clip}")
    out, timeline = tmp / "out.mp4", tmp / "t.jsonl"
    assert render(config, src_path, out, "--timeline", timeline) == 0
    src_frames, src_fps = read_video(src_path)
    out_frames, out_fps = read_video(out)
    records = read_timeline(timeline)
    # Frame count, size and fps are kept; every frame has an emoji on every visible face
    assert len(out_frames) == len(src_frames) == len(records)
    assert out_frames[0].shape == src_frames[0].shape
    assert out_fps == pytest.approx(src_fps, rel=1e-3)
    assert [len(r["faces"]) for r in records] == [faces_per_frame] * len(records)
    assert [r["frame"] for r in records] == list(range(len(records)))
    assert records[-1]["t"] == pytest.approx((len(records) - 1) / src_fps, abs=1e-3)
    # Track ids are stable across the clip
    assert len({f["track_id"] for r in records for f in r["faces"]}) == faces_per_frame
    # What the timeline says was drawn is what the (lossy) video shows, checked on a few frames
    for i in (0, len(records) // 2, len(records) - 1):
        assert_timeline_matches_drawing(src_frames[i], out_frames[i], records[i]["faces"], packs["twemoji"])


def test_twenty_faces(env):
    tmp, config = env
    face = cv2.imread(str(FIXTURES / "astronaut_256.jpg"))[20:200, 60:220]
    grid = np.vstack([np.hstack([face] * 5)] * 4)
    cv2.imwrite(str(tmp / "crowd.png"), grid)
    assert render(config, tmp / "crowd.png", tmp / "out.png", "--timeline", tmp / "t.jsonl") == 0
    (record,) = read_timeline(tmp / "t.jsonl")
    assert len(record["faces"]) == 20
    assert len({f["track_id"] for f in record["faces"]}) == 20


@pytest.mark.parametrize("shape", [(8, 8, 3), (1, 1, 3), (720, 1280, 3), (3, 500, 3)])
def test_tiny_grey_and_odd_frames_render_without_faces(env, capsys, shape):
    tmp, config = env
    cv2.imwrite(str(tmp / "in.png"), np.full(shape, 128, np.uint8))
    assert render(config, tmp / "in.png", tmp / "out.png", "--timeline", tmp / "t.jsonl") == 0
    assert cv2.imread(str(tmp / "out.png")).shape == shape
    assert read_timeline(tmp / "t.jsonl")[0]["faces"] == []


def test_no_face_says_so(env, capsys):
    tmp, config = env
    cv2.imwrite(str(tmp / "in.png"), np.full((64, 64, 3), 200, np.uint8))
    assert main(["render", "--config", config, str(tmp / "in.png"), str(tmp / "out.png")]) == 0
    assert "no face was found" in capsys.readouterr().err


def _no_leftovers(folder: Path, allowed: set[str]):
    assert {p.name for p in folder.iterdir()} <= allowed


@pytest.mark.parametrize(
    "make_input,output_name,expected",
    [
        (lambda d: d / "missing.mp4", "out.mp4", "no such file"),
        (lambda d: (d / "notavideo.mp4").write_text("hello") and d / "notavideo.mp4", "out.mp4", "not a video"),
        (lambda d: (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage") and d / "broken.png", "out.png",
         "not an image"),
        (lambda d: d, "out.mp4", "not a file"),
        (lambda d: FIXTURES / "astronaut_256.jpg", "out.mp4", "must be an image"),
        (lambda d: FIXTURES / "astronaut_256.jpg", "no-such-folder/out.png", "does not exist"),
    ],
    ids=["missing", "not-a-video", "corrupt-image", "folder", "photo-to-video", "no-output-folder"],
)
def test_bad_inputs_clear_message_nonzero_exit(env, capsys, make_input, output_name, expected):
    tmp, config = env
    work = tmp / "work"
    work.mkdir()
    src = make_input(work)
    before = {p.name for p in work.iterdir()}
    assert render(config, src, work / output_name) == 1
    err = capsys.readouterr().err
    assert "error:" in err and expected in err and "Traceback" not in err
    _no_leftovers(work, before)


def test_zero_frame_video(env, capsys):
    tmp, config = env
    path = tmp / "empty.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    writer.release()
    assert render(config, path, tmp / "out.avi") == 1
    err = capsys.readouterr().err
    assert ("no frames" in err or "not a video" in err) and not (tmp / "out.avi").exists()


def test_failure_midway_leaves_no_half_written_output(env, monkeypatch):
    tmp, config = env
    src = shared_file("media/intel_head-pose-face-detection-male.mp4")
    from vcam_emoji import pipeline as pipeline_module

    real = pipeline_module.Pipeline.process
    calls = {"n": 0}

    def failing(self, frame, t):
        calls["n"] += 1
        if calls["n"] == 10:
            raise OSError(28, "No space left on device")
        return real(self, frame, t)

    monkeypatch.setattr(pipeline_module.Pipeline, "process", failing)
    (tmp / "out").mkdir()
    with pytest.raises(OSError):
        render(config, src, tmp / "out" / "video.mp4", "--timeline", tmp / "out" / "t.jsonl")
    assert list((tmp / "out").iterdir()) == []


def test_existing_output_is_replaced_atomically(env):
    tmp, config = env
    out = tmp / "out.png"
    out.write_bytes(b"old")
    assert render(config, FIXTURES / "astronaut_256.jpg", out) == 0
    assert cv2.imread(str(out)) is not None


@pytest.mark.skipif(find_ffmpeg() is None, reason="needs an ffmpeg (pip install imageio-ffmpeg)")
def test_audio_is_kept_and_rotation_honoured(env):
    tmp, config = env
    ffmpeg = find_ffmpeg()
    # Given a 2 s portrait clip with a sound track, stored as landscape with rotation metadata
    frames = tmp / "frames.avi"
    writer = cv2.VideoWriter(str(frames), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    face = cv2.resize(cv2.imread(str(FIXTURES / "astronaut_256.jpg")), (320, 240))
    for _ in range(20):
        writer.write(face)
    writer.release()
    plain, src = tmp / "plain.mp4", tmp / "with_audio.mp4"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-i", str(frames), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-c:v", "mpeg4", "-c:a", "aac", "-shortest", str(plain)], check=True)
    subprocess.run([ffmpeg, "-v", "error", "-y", "-display_rotation", "90", "-i", str(plain), "-c", "copy", str(src)],
                   check=True)
    # When it is rendered
    out = tmp / "out.mp4"
    assert main(["render", "--config", config, str(src), str(out)]) == 0
    # Then the output has the audio track, the same frame count, and the upright (rotated) size
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(out)], capture_output=True, text=True).stderr
    assert "Audio:" in probe
    src_frames, _ = read_video(src)
    out_frames, _ = read_video(out)
    assert len(out_frames) == len(src_frames) == 20
    assert out_frames[0].shape == src_frames[0].shape == (320, 240, 3)
