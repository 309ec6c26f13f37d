import cv2
import numpy as np
import pytest

from conftest import FIXTURES
from vcam_emoji.classify import ClassifierInput, ExpressionClassifier, aligned_crop
from vcam_emoji.errors import ModelError
from vcam_emoji.models import load_model_spec
from vcam_emoji.onnx_session import create_session
from vcam_emoji.types import EXPRESSION_LABELS, TrackedFace


def face_at(cx, cy, side, roll_deg):
    r = np.radians(roll_deg)
    dx, dy = np.cos(r) * side * 0.2, np.sin(r) * side * 0.2
    lm = np.array([[cx - dx, cy - dy], [cx + dx, cy + dy]], np.float32)
    return TrackedFace(1, (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2), 0.9, lm)


@pytest.mark.parametrize("roll", [0, 25, -40])
def test_aligned_crop_levels_the_eyes(roll):
    # Given a white bar through the face centre, tilted like the eye line
    frame = np.zeros((400, 600, 3), np.uint8)
    r = np.radians(roll)
    p0 = (int(300 - 150 * np.cos(r)), int(200 - 150 * np.sin(r)))
    p1 = (int(300 + 150 * np.cos(r)), int(200 + 150 * np.sin(r)))
    cv2.line(frame, p0, p1, (255, 255, 255), 9)
    crop = aligned_crop(frame, face_at(300, 200, 160, roll), (48, 48), margin=0.0)
    # Then the bar is horizontal in the crop: one bright band of rows in the middle
    rows = crop.mean(axis=1)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    assert abs(int(np.argmax(rows)) - 24) <= 2
    assert rows[:18].max() < 20 and rows[30:].max() < 20


def test_aligned_crop_margin_grows_the_area():
    frame = np.zeros((300, 300, 3), np.uint8)
    frame[100:200, 100:200] = 255  # the face box exactly
    tight = aligned_crop(frame, face_at(150, 150, 100, 0), (50, 50), margin=0.0)
    loose = aligned_crop(frame, face_at(150, 150, 100, 0), (50, 50), margin=0.25)
    assert tight.mean() > 250
    assert loose.mean() == pytest.approx(255 * (1 / 1.5) ** 2, rel=0.05)


def test_aligned_crop_at_frame_edge_is_safe():
    frame = np.full((100, 100, 3), 90, np.uint8)
    crop = aligned_crop(frame, face_at(5, 95, 80, 10), (64, 64), margin=0.3)
    assert crop.shape == (64, 64)


MANIFEST = {"input": {"size_hw": [64, 64], "channels": 1, "layout": "NCHW"},
            "preprocess": {"color": "gray", "mean": 127.5, "std": 127.5}, "crop": {"margin": 0.1},
            "classes": list(EXPRESSION_LABELS), "output": "probabilities"}


@pytest.mark.parametrize("change,expected", [
    ({"classes": list(reversed(EXPRESSION_LABELS))}, "FER-2013 order"),
    ({"input": {"size_hw": [64, 64], "channels": 3, "layout": "NCHW"}}, "1-channel"),
    ({"preprocess": {"color": "gray", "mean": 0, "std": 0}}, "std = 0"),
    ({"output": "scores"}, "output"),
    ({"crop": {"margin": 3}}, "crop.margin"),
    ({"input": None}, "bad field"),
])
def test_bad_classifier_manifest_is_explained(change, expected):
    with pytest.raises(ModelError, match=expected):
        ClassifierInput.from_manifest({**MANIFEST, **change}, "model.json")


@pytest.fixture(scope="module")
def baseline():
    spec = load_model_spec("mini_xception_fer2013")
    session, _ = create_session(spec.path, providers="cpu", threads=1)
    return ExpressionClassifier(session, spec.manifest, str(spec.path))


def test_batch_of_faces_gives_probabilities(baseline):
    img = cv2.imread(str(FIXTURES / "astronaut_256.jpg"))
    faces = [face_at(112, 63, 48, 0), face_at(112, 63, 52, 5), face_at(200, 200, 40, 0)]
    probs = baseline(img, faces)
    assert probs.shape == (3, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(probs[0])) == EXPRESSION_LABELS.index("happy")  # the astronaut smiles
    assert baseline(img, []).shape == (0, 7)


class Tensor:
    """What onnxruntime's NodeArg tells: name, shape (ints, names for free dimensions) and element type."""

    def __init__(self, name, shape, type="tensor(float)"):
        self.name, self.shape, self.type = name, shape, type


def test_logits_output_is_softmaxed():
    class Session:
        def get_inputs(self):
            return [Tensor("x", ["batch", 1, 64, 64])]

        def get_outputs(self):
            return [Tensor("logits", ["batch", 7])]

        def run(self, _, feeds):
            return [np.tile(np.arange(7, dtype=np.float32), (len(feeds["x"]), 1))]

    clf = ExpressionClassifier(Session(), {**MANIFEST, "output": "logits"})
    probs = clf.predict_crops(np.zeros((2, 48, 48), np.uint8))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert np.argmax(probs[0]) == 6


def test_shift_y_moves_the_crop_along_the_face():
    frame = np.zeros((300, 300, 3), np.uint8)
    frame[60:90] = 255  # a bright band above the face box (100..200)
    face = face_at(150, 150, 100, 0)
    assert aligned_crop(frame, face, (50, 50), margin=0.0).max() == 0
    up = aligned_crop(frame, face, (50, 50), margin=0.0, shift_y=-0.4)
    assert up[:10].mean() > 200 and up[25:].max() == 0
    # on a face rolled by 90 degrees "up the face" points left in the image
    rolled = face_at(150, 150, 100, 90)
    side = np.zeros((300, 300, 3), np.uint8)
    side[:, 210:240] = 255  # to the image-right of the box: the top of the face for a 90 degree roll
    assert aligned_crop(side, rolled, (50, 50), 0.0, shift_y=-0.4)[:10].mean() > 200
