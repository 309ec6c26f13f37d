import numpy as np
import pytest

from vcam_emoji.pipeline import Pipeline
from vcam_emoji.types import Detections, Expression


class FakeDetector:
    def __init__(self, boxes_per_call):
        self.boxes = boxes_per_call
        self.calls = 0

    def __call__(self, frame):
        boxes = np.array(self.boxes[min(self.calls, len(self.boxes) - 1)], np.float32).reshape(-1, 4)
        self.calls += 1
        lm = np.stack([boxes[:, [0, 1]] + [10, 10], boxes[:, [2, 1]] + [-10, 10]], axis=1)
        return Detections(boxes, np.full(len(boxes), 0.9, np.float32), lm.astype(np.float32))


class FakeClassifier:
    """Says happy for faces on the left half, sad on the right."""

    def __call__(self, frame, faces):
        out = np.zeros((len(faces), 7), np.float32)
        for i, f in enumerate(faces):
            out[i, Expression.HAPPY if f.box_xyxy[0] < frame.shape[1] / 2 else Expression.SAD] = 1
        return out


class MarkingCompositor:
    """Paints each face box with the expression number, so the test can see what was drawn."""

    def compose(self, frame, faces, pack):
        for face, expression in faces:
            x0, y0, x1, y1 = (int(v) for v in face.box_xyxy)
            frame[y0:y1, x0:x1] = int(expression) * 30 + 10
        return frame


def make(boxes, **kw):
    detector = FakeDetector(boxes)
    return Pipeline(detector, FakeClassifier(), MarkingCompositor(), pack=None, **kw), detector


def test_two_faces_each_get_their_emoji_and_the_input_is_untouched():
    pipeline, _ = make([[[10, 10, 60, 60], [120, 10, 170, 60]]])
    frame = np.zeros((100, 200, 3), np.uint8)
    out, result = pipeline.process(frame, 0.0)
    assert frame.max() == 0  # the input frame is not modified
    assert [r.emotion for r in result.faces] == [Expression.HAPPY, Expression.SAD]
    assert out[30, 30, 0] == Expression.HAPPY * 30 + 10 and out[30, 140, 0] == Expression.SAD * 30 + 10
    assert set(result.stage_ms) == {"detect", "track", "classify", "smooth", "compose"}


def test_detect_every_n_frames_uses_the_tracker_in_between():
    pipeline, detector = make([[[10, 10, 60, 60]]], detect_every=3)
    frame = np.zeros((100, 200, 3), np.uint8)
    ids = [pipeline.process(frame, i / 30)[1].faces[0].face.track_id for i in range(9)]
    assert detector.calls == 3 and set(ids) == {1}


def test_no_faces_passes_the_frame_through():
    pipeline, _ = make([[]])
    frame = np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8)
    out, result = pipeline.process(frame, 0.0)
    assert result.faces == () and np.array_equal(out, frame)


def test_frame_index_and_time_are_recorded():
    pipeline, _ = make([[[10, 10, 60, 60]]])
    frame = np.zeros((100, 200, 3), np.uint8)
    results = [pipeline.process(frame, t)[1] for t in (0.0, 0.5, 1.0)]
    assert [(r.index, r.t_seconds) for r in results] == [(0, 0.0), (1, 0.5), (2, 1.0)]


@pytest.mark.parametrize("frame,expected", [
    (np.zeros((10, 10), np.uint8), "shape"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    ([[1, 2, 3]], "numpy array"),
])
def test_odd_frames_are_rejected_with_a_reason(frame, expected):
    pipeline, _ = make([[]])
    with pytest.raises(ValueError, match=expected):
        pipeline.process(frame, 0.0)
