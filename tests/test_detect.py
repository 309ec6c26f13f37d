"""Face detectors on real photos and clips, on frames without faces, on odd frame sizes, and their pure helpers."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from conftest import FIXTURES, shared_file
from vcam_emoji.detect import (
    BlazeFaceDetector,
    CenterFaceDetector,
    FaceDetector,
    create_detector,
    hard_nms,
    letterbox,
    order_pairs,
    ssd_anchors,
    weighted_nms,
)
from vcam_emoji.errors import ModelError
from vcam_emoji.models import load_model_spec
from vcam_emoji.types import Detections

DETECTOR_NAMES = ["blazeface_short", "blazeface_full", "centerface"]
SHARED_PHOTOS = ["pexels_angry.jpg", "pexels_happy-baby.jpeg", "pexels_neutral.jpeg", "pexels_sad-baby.jpeg",
                 "pexels_surprised.jpeg", "skimage_astronaut.png"]


@pytest.fixture(scope="module", params=DETECTOR_NAMES)
def detector(request) -> FaceDetector:
    return create_detector(load_model_spec(request.param), providers="cpu", threads=1)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    image = cv2.imread(str(FIXTURES / "astronaut_256.jpg"), cv2.IMREAD_COLOR)
    assert image is not None, "tests/fixtures/astronaut_256.jpg is missing"
    return image


def assert_one_plausible_face(dets: Detections, frame: np.ndarray) -> None:
    h, w = frame.shape[:2]
    assert len(dets) == 1
    (x1, y1, x2, y2) = dets.xyxy[0]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert 0.0 < dets.scores[0] <= 1.0
    eyes = dets.landmarks[0, :2]
    assert np.all((eyes[:, 0] > x1) & (eyes[:, 0] < x2) & (eyes[:, 1] > y1) & (eyes[:, 1] < y2))
    assert eyes[0, 0] < eyes[1, 0], "landmark 0 must be the image-left eye"


def read_frame(path, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
    finally:
        cap.release()
    assert ok, f"cannot read frame {index} of {path}"
    return frame


def test_detectors_implement_the_protocol(detector):
    assert isinstance(detector, FaceDetector)
    assert isinstance(detector, (BlazeFaceDetector, CenterFaceDetector))
    assert detector.providers == ["CPUExecutionProvider"]


def test_finds_the_face_in_the_committed_fixture(detector, astronaut):
    dets = detector(astronaut)

    assert_one_plausible_face(dets, astronaut)
    assert dets.landmarks.shape == (1, detector.num_landmarks, 2)
    # the face is in the upper middle of the picture (x 85..140, y 30..90 at 256x256)
    cx, cy = dets.xyxy[0, 0::2].mean(), dets.xyxy[0, 1::2].mean()
    assert 95 < cx < 130 and 45 < cy < 75


def test_mirrored_frame_still_gives_the_image_left_eye_first(detector, astronaut):
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    dets = detector(mirrored)

    assert_one_plausible_face(dets, mirrored)


def test_letterboxed_webcam_sized_frame_maps_back_to_frame_pixels(detector, astronaut):
    # a 1280x720 frame with a ~190 px face, as from a webcam at about 1 m (short range needs faces >~150 px here)
    frame = np.zeros((720, 1280, 3), np.uint8)
    big = cv2.resize(astronaut[0:150, 37:187], (600, 600))
    frame[60:660, 500:1100] = big

    dets = detector(frame)

    assert_one_plausible_face(dets, frame)
    ref = detector(big)
    # eye positions hardly depend on the scale the detector ran at, so they must agree after mapping back
    # (within about one model-input pixel: 10 frame pixels for a 128 px input on a 1280 px wide frame)
    np.testing.assert_allclose(dets.landmarks[0, :2], ref.landmarks[0, :2] + [500, 60], atol=14)


@pytest.mark.needs_shared
@pytest.mark.parametrize("photo", SHARED_PHOTOS)
def test_finds_exactly_one_face_in_each_shared_photo(detector, photo):
    frame = cv2.imread(str(shared_file(f"media/{photo}")), cv2.IMREAD_COLOR)

    assert_one_plausible_face(detector(frame), frame)


@pytest.mark.needs_shared
@pytest.mark.parametrize("index", [5, 30])
def test_finds_both_faces_in_the_two_person_clip(detector, index):
    frame = read_frame(shared_file("media/intel_head-pose-face-detection-female-and-male.mp4"), index)

    dets = detector(frame)

    assert len(dets) == 2
    left, right = sorted(dets.xyxy.tolist())
    assert left[2] <= right[0] + 5, "the two faces must be separate boxes"
    for i in range(2):
        assert dets.landmarks[i, 0, 0] < dets.landmarks[i, 1, 0]


def test_finds_many_faces(detector, astronaut):
    face = astronaut[20:110, 70:155]
    grid = np.concatenate([np.concatenate([face] * 4, axis=1)] * 3, axis=0)

    dets = detector(grid)

    assert len(dets) == 12
    centres = np.stack([dets.xyxy[:, 0::2].mean(1), dets.xyxy[:, 1::2].mean(1)], axis=1)
    cells = {(int(x // face.shape[1]), int(y // face.shape[0])) for x, y in centres}
    assert len(cells) == 12, "one face per tile"


@pytest.mark.parametrize("value", [0, 128, 255])
def test_no_faces_on_a_blank_frame(detector, value):
    dets = detector(np.full((720, 1280, 3), value, np.uint8))

    assert len(dets) == 0
    assert dets.xyxy.shape == (0, 4)
    assert dets.landmarks.shape == (0, detector.num_landmarks, 2)


def test_no_faces_on_smooth_grey_noise(detector):
    rng = np.random.default_rng(1)
    small = rng.integers(90, 160, (9, 16, 3), dtype=np.uint8)
    frame = cv2.resize(small, (480, 270), interpolation=cv2.INTER_CUBIC)

    assert len(detector(frame)) == 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (8, 8, 3), (2, 300, 3), (300, 2, 3), (31, 33, 3)])
def test_tiny_and_odd_frames_do_not_crash(detector, shape):
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, shape, dtype=np.uint8)

    dets = detector(frame)

    assert isinstance(dets, Detections)
    assert dets.landmarks.shape[1:] == (detector.num_landmarks, 2)
    h, w = shape[:2]
    assert np.all((dets.xyxy >= 0) & (dets.xyxy <= [w, h, w, h]))


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), "frame"])
def test_rejects_frames_that_are_not_bgr_uint8(detector, bad):
    with pytest.raises(ValueError, match="frame_bgr: expected"):
        detector(bad)


def test_create_detector_rejects_a_classifier_and_bad_scores():
    with pytest.raises(ModelError, match="not a face detector"):
        create_detector(load_model_spec("mini_xception_fer2013"))
    with pytest.raises(ModelError, match="min_score: expected a number between 0 and 1"):
        create_detector(load_model_spec("blazeface_short"), min_score=1.5)


def test_min_score_overrides_the_manifest_threshold():
    det = create_detector(load_model_spec("blazeface_short"), providers="cpu", threads=1, min_score=0.7)

    assert det.min_score == 0.7


# ---- pure helpers --------------------------------------------------------------------------------------------------


def test_ssd_anchors_match_the_mediapipe_counts():
    short = ssd_anchors((128, 128), [8, 16, 16, 16])
    full = ssd_anchors((192, 192), [4], interpolated_scale_aspect_ratio=0.0)

    assert short.shape == (896, 2) and full.shape == (2304, 2)
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[1], short[0])  # two anchors per cell on the stride-8 layer
    np.testing.assert_allclose(short[512], [0.5 / 8, 0.5 / 8])  # the stride-16 layer starts at 16 * 16 * 2
    np.testing.assert_allclose(full[-1], [47.5 / 48, 47.5 / 48])


def test_letterbox_maps_frame_points_into_the_model_input():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :, 2] = 255  # red in BGR

    rgb, scale, pad_x, pad_y = letterbox(frame, (128, 128))

    assert rgb.shape == (128, 128, 3)
    np.testing.assert_allclose(scale, [0.64, 0.64])
    assert (pad_x, pad_y) == (0.0, 32.0)
    assert rgb[64, 64, 0] == 255 and rgb[64, 64, 2] == 0  # converted to RGB
    assert rgb[10, 64].sum() == 0  # black padding above


def test_weighted_nms_merges_overlapping_boxes_by_score():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    points = np.zeros((3, 1, 2))
    points[:, 0, 0] = [5, 7, 55]
    scores = np.array([0.9, 0.6, 0.8])

    out_boxes, out_points, out_scores = weighted_nms(boxes, points, scores, 0.3)

    assert out_scores.tolist() == [0.9, 0.8]
    np.testing.assert_allclose(out_boxes[0], [0.4, 0, 10.4, 10])
    np.testing.assert_allclose(out_points[0, 0, 0], (5 * 0.9 + 7 * 0.6) / 1.5)
    np.testing.assert_allclose(out_boxes[1], boxes[2])


def test_hard_nms_keeps_the_best_of_each_cluster():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    keep = hard_nms(boxes, np.array([0.6, 0.9, 0.8]), 0.3)

    assert keep.tolist() == [1, 2]


def test_order_pairs_puts_the_image_left_point_first():
    pts = np.array([[[10, 0], [2, 1], [0, 0]], [[1, 0], [3, 1], [0, 0]]], float)

    out = order_pairs(pts, [(0, 1)])

    assert out[0, :2].tolist() == [[2, 1], [10, 0]]
    assert out[1, :2].tolist() == [[1, 0], [3, 1]]


def test_box_to_reference_rescales_and_shifts_boxes():
    frame = cv2.imread(str(FIXTURES / "astronaut_256.jpg"))
    spec = load_model_spec("blazeface_full")
    plain = create_detector(dataclasses.replace(spec, manifest={**spec.manifest, "box_to_reference": {}}), providers="cpu")(frame)
    adjusted_spec = dataclasses.replace(spec, manifest={**spec.manifest,
                                                       "box_to_reference": {"scale": 0.8, "shift_y": 0.1}})
    adjusted = create_detector(adjusted_spec, providers="cpu")(frame)
    (x0, y0, x1, y1), (a0, b0, a1, b1) = plain.xyxy[0], adjusted.xyxy[0]
    assert (a1 - a0) == pytest.approx(0.8 * (x1 - x0), rel=1e-4)
    assert (a0 + a1) / 2 == pytest.approx((x0 + x1) / 2, abs=1e-3)
    assert (b0 + b1) / 2 == pytest.approx((y0 + y1) / 2 + 0.1 * (b1 - b0), rel=1e-4)
    np.testing.assert_allclose(adjusted.landmarks, plain.landmarks)  # landmarks are where they are


@pytest.mark.parametrize("bad", [{"scale": 5}, {"shift_y": "down"}, "0.9"])
def test_bad_box_to_reference_is_explained(bad):
    spec = load_model_spec("centerface")
    with pytest.raises(ModelError, match="box_to_reference"):
        create_detector(dataclasses.replace(spec, manifest={**spec.manifest, "box_to_reference": bad}), providers="cpu")
