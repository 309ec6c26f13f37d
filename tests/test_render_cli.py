"""`vcam-emoji render` end to end on real photos and clips, and on the bad inputs users will meet."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, shared_file
from helpers import assert_timeline_matches_drawing
from media import make_clip, probe, set_mp4_rotation
from vcam_emoji.cli import main
from vcam_emoji.packs import discover_packs
from vcam_emoji.source.image import load_image_bgr

PHOTOS = ["pexels_angry.jpg", "pexels_happy-baby.jpeg", "pexels_neutral.jpeg", "pexels_sad-baby.jpeg",
          "pexels_surprised.jpeg", "skimage_astronaut.png"]


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


def test_existing_output_is_replaced_only_with_force(env, capsys):
    tmp, config = env
    out = tmp / "out.png"
    out.write_bytes(b"old")
    assert render(config, FIXTURES / "astronaut_256.jpg", out) == 1
    err = capsys.readouterr().err
    assert "out.png: already exists; add --force to replace it" in err and "Traceback" not in err
    assert out.read_bytes() == b"old"
    assert render(config, FIXTURES / "astronaut_256.jpg", out, "--force") == 0
    assert cv2.imread(str(out)) is not None
    assert sorted(p.name for p in tmp.iterdir()) == ["config.toml", "out.png"]


def astronaut_frames(n: int, size_wh=(320, 240)) -> list[np.ndarray]:
    face = cv2.resize(cv2.imread(str(FIXTURES / "astronaut_256.jpg")), size_wh)
    return [np.roll(face, 2 * i, axis=1) for i in range(n)]


def test_h264_with_the_inputs_audio_and_rotation_honoured(env, capsys):
    tmp, config = env
    # Given a 2 s portrait clip with a 440 Hz sound track, stored as landscape with rotation metadata (as phones do)
    src = set_mp4_rotation(make_clip(tmp / "phone.mp4", astronaut_frames(20), fps=10, audio="aac"), 90)
    # When it is rendered to .mp4 with the defaults
    out = tmp / "out.mp4"
    assert main(["render", "--config", config, str(src), str(out)]) == 0
    # Then it is H.264 (4:2:0, which plays everywhere) with the input's AAC track copied, 2 s of the same tone
    found = probe(out)
    assert (found.container, found.video_codec, found.pix_fmt) == ("mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p")
    assert found.audio_codec == "aac" and found.audio_seconds == pytest.approx(2.0, abs=0.1)
    assert found.audio_peak_hz == pytest.approx(440, abs=5)
    assert "video: h264 in .mp4; audio: copied (aac)" in capsys.readouterr().out
    # and OpenCV plays it: the same frame count, the upright (rotated) size, the same fps
    src_frames, src_fps = read_video(src)
    out_frames, out_fps = read_video(out)
    assert len(out_frames) == len(src_frames) == found.frames == 20
    assert out_frames[0].shape == src_frames[0].shape == (320, 240, 3)
    assert out_fps == pytest.approx(src_fps) == pytest.approx(10)


@pytest.mark.parametrize(
    "audio_in,output,codec,video,audio_out,summary",
    [
        ("pcm_s16le", "out.mp4", None, "h264", "aac", "re-encoded (pcm_s16le to aac)"),
        ("aac", "out.mkv", None, "h264", "aac", "copied (aac)"),
        ("aac", "out.webm", None, "vp9", "opus", "re-encoded (aac to opus)"),
        ("aac", "out.mp4", "vp9", "vp9", "aac", "copied (aac)"),
        ("pcm_s16le", "out.avi", None, "mjpeg", "pcm_s16le", "copied (pcm_s16le)"),
    ],
    ids=["pcm-to-mp4", "mkv", "webm", "vp9-asked", "avi"],
)
def test_other_containers_and_codecs_where_asked(env, capsys, audio_in, output, codec, video, audio_out, summary):
    tmp, config = env
    src = make_clip(tmp / "in.mov", astronaut_frames(10), fps=10, audio=audio_in)
    args = ["--codec", codec] if codec else []
    assert main(["render", "--config", config, str(src), str(tmp / output), *args]) == 0
    found = probe(tmp / output)
    assert (found.video_codec, found.audio_codec, found.frames) == (video, audio_out, 10)
    assert found.audio_peak_hz == pytest.approx(440, abs=5)
    assert f"audio: {summary}" in capsys.readouterr().out
    assert len(read_video(tmp / output)[0]) == 10


def test_no_audio_and_silent_inputs(env, capsys):
    tmp, config = env
    with_sound = make_clip(tmp / "a.mp4", astronaut_frames(5), audio="aac")
    silent = make_clip(tmp / "s.mp4", astronaut_frames(5), audio=None)
    assert main(["render", "--config", config, str(with_sound), str(tmp / "o1.mp4"), "--no-audio"]) == 0
    assert "audio: off" in capsys.readouterr().out and probe(tmp / "o1.mp4").audio_codec is None
    assert main(["render", "--config", config, str(silent), str(tmp / "o2.mp4")]) == 0
    assert "audio: none in input" in capsys.readouterr().out and probe(tmp / "o2.mp4").audio_codec is None


@pytest.mark.parametrize("args,expected", [
    (["out.webm", "--codec", "h264"], ".webm cannot hold h264 video; use vp9 there, or write h264 to .avi, .m4v, "),
    (["out.flv"], "the output of a video must be a video file (.avi, .m4v, .mkv, .mov, .mp4, .webm)"),
])
def test_a_codec_the_container_cannot_hold_is_refused_up_front(env, capsys, args, expected):
    tmp, config = env
    src = make_clip(tmp / "in.mp4", astronaut_frames(3), audio=None)
    assert main(["render", "--config", config, str(src), *[str(tmp / args[0]), *args[1:]]]) == 1
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert sorted(p.name for p in tmp.iterdir()) == ["config.toml", "in.mp4"]


@pytest.mark.parametrize("size_wh", [(63, 47), (2, 2)])
def test_odd_and_tiny_sizes_keep_their_size(env, size_wh):
    tmp, config = env
    frames = [np.full((size_wh[1], size_wh[0], 3), 90, np.uint8)] * 3
    src = make_clip(tmp / "in.mov", frames, audio=None, video_codec="png", pix_fmt="rgb24")
    assert read_video(src)[0][0].shape == (size_wh[1], size_wh[0], 3)
    assert render(config, src, tmp / "out.mp4") == 0
    out_frames, _ = read_video(tmp / "out.mp4")
    assert len(out_frames) == 3 and out_frames[0].shape == (size_wh[1], size_wh[0], 3)
    assert probe(tmp / "out.mp4").pix_fmt == ("yuv444p" if size_wh[0] % 2 else "yuv420p")


def test_the_codec_choices_of_the_cli_are_the_writers():
    from vcam_emoji.cli import VIDEO_CODECS
    from vcam_emoji.video_writer import CODECS

    assert list(VIDEO_CODECS) == sorted(CODECS)
