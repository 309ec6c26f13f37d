import numpy as np
import pytest

from vcam_emoji.track import Tracker, iou_matrix
from vcam_emoji.types import Detections


def dets(*boxes, score=0.9):
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    lm = np.stack([np.stack([b[:2] + (b[2:] - b[:2]) * [0.3, 0.4], b[:2] + (b[2:] - b[:2]) * [0.7, 0.4]])
                   for b in xyxy]).astype(np.float32) if len(xyxy) else np.zeros((0, 2, 2), np.float32)
    return Detections(xyxy, np.full(len(xyxy), score, np.float32), lm)


def test_iou_matrix_known_values():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]], rtol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4), np.float32)).shape == (1, 0)


def test_ids_stay_stable_while_faces_move():
    tracker = Tracker(box_smoothing=0.0)
    first = tracker.update(dets([0, 0, 100, 100], [300, 0, 400, 100]), 0.0)
    assert [f.track_id for f in first] == [1, 2]
    # Given both faces move 10 px right and arrive in the opposite order
    moved = tracker.update(dets([310, 0, 410, 100], [10, 0, 110, 100]), 0.04)
    by_id = {f.track_id: f.box_xyxy for f in moved}
    assert by_id[1][0] == pytest.approx(10) and by_id[2][0] == pytest.approx(310)


def test_missed_detection_coasts_then_drops():
    tracker = Tracker(max_coast_ms=100)
    tracker.update(dets([0, 0, 100, 100]), 0.0)
    assert [f.track_id for f in tracker.update(dets(), 0.05)] == [1]  # one miss: still drawn
    assert tracker.update(dets(), 0.2) == []  # gone for longer than max_coast_ms
    assert [f.track_id for f in tracker.update(dets([0, 0, 100, 100]), 0.25)] == [2]  # a new face gets a new id


def test_skipped_detection_keeps_tracks():
    tracker = Tracker(max_coast_ms=300)
    tracker.update(dets([0, 0, 100, 100]), 0.0)
    assert [f.track_id for f in tracker.update(None, 0.1)] == [1]


def test_far_jump_is_a_new_track():
    tracker = Tracker()
    tracker.update(dets([0, 0, 100, 100]), 0.0)
    faces = tracker.update(dets([500, 500, 600, 600]), 0.04)
    assert sorted(f.track_id for f in faces) == [1, 2]  # old one coasts, new one appears


@pytest.mark.parametrize("kwargs", [{"iou_threshold": 0}, {"max_coast_ms": -1}, {"box_smoothing": 1.0}])
def test_bad_parameters_are_named(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Tracker(**kwargs)


def test_roll_from_eyes():
    tracker = Tracker()
    d = Detections(np.array([[0, 0, 100, 100]], np.float32), np.array([0.9], np.float32),
                   np.array([[[30, 40], [70, 80]]], np.float32))
    (face,) = tracker.update(d, 0.0)
    assert face.roll_degrees == pytest.approx(45.0)
