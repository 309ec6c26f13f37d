"""EmojiCompositor on synthetic frames and in-memory packs: placement, clipping, rotation, blending, cache."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vcam_emoji.compose import EmojiCompositor
from vcam_emoji.packs import EmojiPack, load_pack
from vcam_emoji.resources import packs_dir
from vcam_emoji.types import Expression, TrackedFace

H, W = 120, 160
GREY = (90, 90, 90)
RED = (0, 0, 255)  # BGR
BLUE = (255, 0, 0)


def solid(bgra: tuple[int, int, int, int], size: int = 64) -> np.ndarray:
    return np.tile(np.array(bgra, np.uint8), (size, size, 1))


def two_tone(size: int = 64) -> np.ndarray:
    """Opaque square: top half red, bottom half blue (BGRA)."""
    img = solid((*BLUE, 255), size)
    img[: size // 2, :, :3] = RED
    return img


def pack_of(image: np.ndarray, name: str = "mem", **per_expression: np.ndarray) -> EmojiPack:
    images = {e: per_expression.get(e.label, image) for e in Expression}
    return EmojiPack(name=name, author="tests", license="CC0-1.0", folder=Path("/mem") / name, images=images)


def face(box: tuple[float, float, float, float], roll: float = 0.0, track_id: int = 1) -> TrackedFace:
    x0, y0, x1, y1 = box
    cx, cy, d = (x0 + x1) / 2, (y0 + y1) / 2, max(1.0, (x1 - x0) * 0.2)
    a = math.radians(roll)
    eyes = np.array([[cx - d * math.cos(a), cy - d * math.sin(a)], [cx + d * math.cos(a), cy + d * math.sin(a)]])
    return TrackedFace(track_id, box, 0.9, eyes.astype(np.float32))


def grey_frame(h: int = H, w: int = W) -> np.ndarray:
    return np.full((h, w, 3), GREY, np.uint8)


def noise_frame(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


def exact() -> EmojiCompositor:
    """No size quantisation and scale 1: the emoji covers exactly the face box."""
    return EmojiCompositor(scale=1.0, size_step=0.0)


# --------------------------------------------------------------------------------------------------------------------
# placement


def test_opaque_emoji_covers_the_box_and_nothing_else() -> None:
    frame = noise_frame()
    before = frame.copy()
    out = exact().compose(frame, [(face((40, 30, 80, 70)), Expression.HAPPY)], pack_of(solid((*RED, 255))))
    assert out is frame  # drawn in place
    inside = np.zeros((H, W), bool)
    inside[30:70, 40:80] = True
    assert (out[inside] == RED).all()
    assert np.array_equal(out[~inside], before[~inside])


def test_default_scale_covers_more_than_the_box_centred_on_it() -> None:
    frame = grey_frame()
    comp = EmojiCompositor()  # scale 1.3
    comp.compose(frame, [(face((60, 40, 100, 80)), Expression.SAD)], pack_of(solid((*BLUE, 255))))
    changed = (frame != GREY).any(axis=2)
    ys, xs = np.nonzero(changed)
    assert (xs.min(), xs.max() + 1) == (54, 106)  # 52 px = 1.3 x 40, centred on x = 80
    assert (ys.min(), ys.max() + 1) == (34, 86)


def test_builtin_pack_draws_inside_the_box_and_keeps_the_rest() -> None:
    pack = load_pack(packs_dir() / "classic")
    frame = noise_frame(240, 320)
    before = frame.copy()
    box = (100, 60, 200, 160)
    EmojiCompositor().compose(frame, [(face(box), Expression.HAPPY)], pack)
    changed = (frame != before).any(axis=2)
    assert changed[110, 150], "the box centre shows the emoji"
    assert changed[60:160, 100:200].mean() > 0.6
    side = 130  # 1.3 x 100, centred on (150, 110)
    outside = np.ones_like(changed)
    outside[110 - side // 2 : 110 + side // 2, 150 - side // 2 : 150 + side // 2] = False
    assert not changed[outside].any()


def test_each_face_gets_its_own_expression() -> None:
    pack = pack_of(solid((*RED, 255)), happy=solid((*BLUE, 255)))
    frame = grey_frame()
    faces = [
        (face((10, 10, 40, 40), track_id=1), Expression.ANGRY),
        (face((100, 60, 130, 90), track_id=2), Expression.HAPPY),
    ]
    exact().compose(frame, faces, pack)
    assert tuple(frame[25, 25]) == RED
    assert tuple(frame[75, 115]) == BLUE


def test_no_faces_leaves_the_frame_alone() -> None:
    frame = noise_frame()
    before = frame.copy()
    assert np.array_equal(EmojiCompositor().compose(frame, [], pack_of(solid((*RED, 255)))), before)


@pytest.mark.parametrize(
    "box",
    [(50, 50, 50, 50), (50, 50, 50.5, 50.5), (float("nan"), 0, 10, 10), (10, 10, 5, 5)],
    ids=["zero size", "tiny", "nan", "inverted"],
)
def test_degenerate_boxes_draw_nothing(box) -> None:
    frame = noise_frame()
    before = frame.copy()
    raw_face = TrackedFace(1, box, 0.9, np.array([[0.0, 0.0], [1.0, 0.0]], np.float32))
    EmojiCompositor().compose(frame, [(raw_face, Expression.FEAR)], pack_of(solid((*RED, 255))))
    assert np.array_equal(frame, before)


def test_read_only_frame_is_copied() -> None:
    frame = grey_frame()
    frame.setflags(write=False)
    out = exact().compose(frame, [(face((40, 30, 80, 70)), Expression.HAPPY)], pack_of(solid((*RED, 255))))
    assert out is not frame
    assert tuple(out[50, 60]) == RED
    assert tuple(frame[50, 60]) == GREY


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32), "frame"],
    ids=["2d", "4 channels", "float", "not an array"],
)
def test_bad_frame_is_rejected(bad) -> None:
    with pytest.raises(ValueError, match="frame_bgr"):
        EmojiCompositor().compose(bad, [], pack_of(solid((*RED, 255))))


# --------------------------------------------------------------------------------------------------------------------
# clipping: compare with the same drawing on a larger canvas, cropped

PAD = 200
CLIP_BOXES = {
    "left": (-30, 40, 30, 100),
    "right": (130, 40, 190, 100),
    "top": (60, -40, 120, 20),
    "bottom": (60, 100, 120, 160),
    "top-left": (-25, -25, 25, 25),
    "top-right": (135, -25, 185, 25),
    "bottom-left": (-25, 95, 25, 145),
    "bottom-right": (135, 95, 185, 145),
    "bigger than the frame": (-50, -80, 210, 200),
    "outside left": (-100, 40, -60, 80),
    "outside below": (60, 170, 100, 210),
}


@pytest.mark.parametrize("max_sprite_side", [2048, 16], ids=["cached sprite", "direct warp"])
@pytest.mark.parametrize("roll", [0.0, 20.6])  # not on a 2-degree quantisation boundary (odd degrees are)
@pytest.mark.parametrize("box", CLIP_BOXES.values(), ids=list(CLIP_BOXES))
def test_clipping_matches_drawing_on_a_larger_canvas(box, roll: float, max_sprite_side: int) -> None:
    pack = pack_of(two_tone())
    comp = EmojiCompositor(max_sprite_side=max_sprite_side)
    frame = noise_frame()
    out = comp.compose(frame.copy(), [(face(box, roll), Expression.ANGRY)], pack)
    assert out.shape == (H, W, 3)
    overlaps = box[0] < W and box[2] > 0 and box[1] < H and box[3] > 0
    assert (out != frame).any() == overlaps

    big = np.zeros((H + 2 * PAD, W + 2 * PAD, 3), np.uint8)
    big[PAD : PAD + H, PAD : PAD + W] = frame
    shifted = tuple(v + PAD for v in box)
    comp.compose(big, [(face(shifted, roll), Expression.ANGRY)], pack)
    expected = big[PAD : PAD + H, PAD : PAD + W]
    tolerance = 0 if max_sprite_side > 16 else 1  # the direct warp may round its sub-pixel offsets differently
    assert np.abs(out.astype(int) - expected).max() <= tolerance


@pytest.mark.parametrize("box", [CLIP_BOXES["outside left"], CLIP_BOXES["outside below"], (-500, -500, -400, -400)])
def test_faces_entirely_outside_change_nothing(box) -> None:
    frame = noise_frame()
    before = frame.copy()
    EmojiCompositor().compose(frame, [(face(box), Expression.SAD)], pack_of(two_tone()))
    assert np.array_equal(frame, before)


def test_face_much_bigger_than_the_frame_fills_it() -> None:
    frame = grey_frame()
    comp = EmojiCompositor(max_sprite_side=256)  # forces the uncached direct warp
    comp.compose(frame, [(face((-300, -300, 460, 420)), Expression.NEUTRAL)], pack_of(solid((*RED, 255))))
    assert (frame == RED).all()
    assert comp.cache_info().entries == 0


# --------------------------------------------------------------------------------------------------------------------
# rotation


def _centre_colours(roll: float, rotate: bool = True) -> dict[str, tuple[int, ...]]:
    frame = grey_frame()
    comp = EmojiCompositor(scale=1.0, size_step=0.0, rotate=rotate)
    comp.compose(frame, [(face((50, 30, 110, 90), roll), Expression.SURPRISE)], pack_of(two_tone()))
    cx, cy, d = 80, 60, 20
    return {
        "top": tuple(frame[cy - d, cx]),
        "bottom": tuple(frame[cy + d, cx]),
        "left": tuple(frame[cy, cx - d]),
        "right": tuple(frame[cy, cx + d]),
    }


@pytest.mark.parametrize(
    "roll, red_side, blue_side",
    [(0.0, "top", "bottom"), (90.0, "right", "left"), (-90.0, "left", "right"), (180.0, "bottom", "top")],
)
def test_rotation_follows_head_roll(roll: float, red_side: str, blue_side: str) -> None:
    # positive roll: the image-right eye is lower, the head turns clockwise on screen, so the emoji's top goes right
    colours = _centre_colours(roll)
    assert colours[red_side] == RED
    assert colours[blue_side] == BLUE


def test_small_roll_rotates_the_image() -> None:
    pack = pack_of(two_tone())
    box = (50, 30, 110, 90)
    straight = exact().compose(grey_frame(), [(face(box, 0.0), Expression.FEAR)], pack)
    tilted = exact().compose(grey_frame(), [(face(box, 20.0), Expression.FEAR)], pack)
    differs = (straight != tilted).any(axis=2)
    assert differs.sum() > 200
    # the red/blue boundary is lower on the right than on the left when the head rolls clockwise
    red = (tilted == RED).all(axis=2)
    lowest_red_row = {x: np.nonzero(red[:, x])[0].max() for x in (65, 95)}
    assert lowest_red_row[95] - lowest_red_row[65] >= 8  # about 30 px * tan(20 degrees) = 11


def test_rotation_can_be_switched_off() -> None:
    assert _centre_colours(90.0, rotate=False) == _centre_colours(0.0)


# --------------------------------------------------------------------------------------------------------------------
# blending


@pytest.mark.parametrize("alpha", [0, 1, 64, 128, 254, 255])
def test_alpha_blend_on_a_known_pixel(alpha: int) -> None:
    colour = (200, 100, 50)
    frame = np.full((H, W, 3), (20, 40, 60), np.uint8)
    exact().compose(frame, [(face((40, 30, 100, 90)), Expression.DISGUST)], pack_of(solid((*colour, alpha))))
    a = alpha / 255.0
    expected = [round(c * a + f * (1 - a)) for c, f in zip(colour, (20, 40, 60), strict=True)]
    got = frame[60, 70].astype(int)
    assert np.abs(got - expected).max() <= 1, (got, expected)
    if alpha in (0, 255):
        assert list(got) == expected  # exact at the extremes


def test_transparent_pixels_keep_the_exact_frame_value() -> None:
    img = solid((*RED, 255))
    img[:, : img.shape[1] // 2, 3] = 0  # left half transparent
    frame = noise_frame()
    before = frame.copy()
    exact().compose(frame, [(face((40, 30, 104, 94)), Expression.HAPPY)], pack_of(img))
    assert np.array_equal(frame[30:94, 40:70], before[30:94, 40:70])
    assert (frame[30:94, 74:104] == RED).all()


# --------------------------------------------------------------------------------------------------------------------
# cache


def test_second_call_hits_the_cache() -> None:
    comp = EmojiCompositor()
    pack = pack_of(two_tone())
    comp.compose(grey_frame(), [(face((40, 30, 80, 70), 10.0), Expression.HAPPY)], pack)
    info = comp.cache_info()
    assert (info.hits, info.misses, info.entries) == (0, 1, 1)
    assert info.bytes > 0
    comp.compose(grey_frame(), [(face((40, 30, 80, 70), 10.0), Expression.HAPPY)], pack)
    assert (comp.cache_info().hits, comp.cache_info().misses) == (1, 1)
    # a slightly moved box of almost the same size and angle lands in the same quantisation bucket
    comp.compose(grey_frame(), [(face((45.3, 32.1, 85.4, 72.1), 10.4), Expression.HAPPY)], pack)
    assert (comp.cache_info().hits, comp.cache_info().misses) == (2, 1)


@pytest.mark.parametrize(
    "change",
    [
        {"expression": Expression.SAD},
        {"box": (40, 30, 100, 90)},
        {"roll": 30.0},
        {"pack_name": "other"},
    ],
    ids=["expression", "size", "angle", "pack"],
)
def test_cache_misses_when_the_key_changes(change: dict) -> None:
    comp = EmojiCompositor()
    base = {"expression": Expression.HAPPY, "box": (40, 30, 80, 70), "roll": 0.0, "pack_name": "mem"}
    for args in (base, {**base, **change}):
        pack = pack_of(two_tone(), name=args["pack_name"])
        comp.compose(grey_frame(), [(face(args["box"], args["roll"]), args["expression"])], pack)
    assert (comp.cache_info().hits, comp.cache_info().misses) == (0, 2)


def test_reloaded_pack_with_the_same_name_is_not_served_stale_sprites() -> None:
    comp = exact()
    box = (40, 30, 80, 70)
    comp.compose(grey_frame(), [(face(box), Expression.HAPPY)], pack_of(solid((*RED, 255))))
    frame = comp.compose(grey_frame(), [(face(box), Expression.HAPPY)], pack_of(solid((*BLUE, 255))))
    assert tuple(frame[50, 60]) == BLUE
    assert comp.cache_info().misses == 2


def test_cache_is_bounded_in_entries_and_bytes() -> None:
    pack = pack_of(two_tone())
    comp = EmojiCompositor(max_cache_entries=3)
    for i, expression in enumerate(Expression):
        comp.compose(grey_frame(), [(face((40, 30, 80, 70), 4.0 * i), expression)], pack)
    assert comp.cache_info().entries == 3
    assert comp.cache_info().misses == len(Expression)

    small = EmojiCompositor(max_cache_bytes=1)  # keeps only the newest sprite
    for expression in Expression:
        small.compose(grey_frame(), [(face((40, 30, 80, 70)), expression)], pack)
    assert small.cache_info().entries == 1

    comp.clear_cache()
    assert comp.cache_info().entries == 0 and comp.cache_info().bytes == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scale": 0.0},
        {"scale": float("nan")},
        {"size_step": -0.1},
        {"angle_step_degrees": 90.0},
        {"max_sprite_side": 8},
        {"max_cache_entries": 0},
    ],
)
def test_bad_settings_are_rejected(kwargs: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        EmojiCompositor(**kwargs)


# --------------------------------------------------------------------------------------------------------------------
# the pack's face box: an image with hair and shoulders around its face lands with its face on the face


def framed_face(size: int = 100, box: tuple[int, int, int, int] = (25, 20, 75, 70)) -> np.ndarray:
    """A transparent image with a blue "body" square and a red "face" square at ``box`` (pixels, x0 y0 x1 y1)."""
    img = np.zeros((size, size, 4), np.uint8)
    img[10:95, 10:90] = (*BLUE, 255)
    x0, y0, x1, y1 = box
    img[y0:y1, x0:x1] = (*RED, 255)
    return img


def boxed_pack(image: np.ndarray, face_box: tuple[float, float, float, float]) -> EmojiPack:
    images = {e: image for e in Expression}
    return EmojiPack(name="boxed", author="tests", license="CC0-1.0", folder=Path("/mem/boxed"), images=images,
                     face_box=face_box)


def _reddish(frame: np.ndarray) -> np.ndarray:
    """Pixels more than half red (edge pixels blend red with what is around it)."""
    return (frame[..., 2].astype(int) - np.maximum(frame[..., 0], frame[..., 1]).astype(int)) > 127


def _red_extent(frame: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(_reddish(frame))
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("face_box, box", [
    ((0.25, 0.20, 0.75, 0.70), (60, 40, 100, 80)),  # centred face, drawn 40 px over a 40 px face box
    ((0.25, 0.20, 0.75, 0.70), (20, 10, 70, 60)),
    ((0.10, 0.30, 0.50, 0.70), (90, 50, 130, 90)),  # a face off the image's centre
])
def test_face_box_of_the_pack_lands_on_the_detected_face(face_box, box) -> None:
    size = 100
    px = tuple(round(v * size) for v in face_box)
    pack = boxed_pack(framed_face(size, px), face_box)
    frame = grey_frame()
    exact().compose(frame, [(face(box), Expression.HAPPY)], pack)
    x0, y0, x1, y1 = _red_extent(frame)
    assert abs(x0 - box[0]) <= 1 and abs(y0 - box[1]) <= 1 and abs(x1 - box[2]) <= 1 and abs(y1 - box[3]) <= 1
    assert (frame == BLUE).all(axis=2).any(), "the rest of the image (the body) is drawn around the face"


def test_face_box_scale_applies_to_the_face_not_the_image() -> None:
    pack = boxed_pack(framed_face(100, (25, 25, 75, 75)), (0.25, 0.25, 0.75, 0.75))
    frame = grey_frame(240, 320)
    EmojiCompositor(size_step=0.0).compose(frame, [(face((140, 100, 180, 140)), Expression.SAD)], pack)
    x0, y0, x1, y1 = _red_extent(frame)
    assert abs((x1 - x0) - 52) <= 1 and abs((y1 - y0) - 52) <= 1  # 1.3 x 40 px, as a round emoji would be
    assert abs((x0 + x1) / 2 - 160) <= 1 and abs((y0 + y1) / 2 - 120) <= 1


def test_full_face_box_is_exactly_the_old_placement() -> None:
    image = two_tone()
    plain = pack_of(image)
    full = boxed_pack(image, (0.0, 0.0, 1.0, 1.0))
    for roll in (0.0, 17.0, -40.0):
        a = EmojiCompositor().compose(noise_frame(), [(face((50, 30, 110, 90), roll), Expression.FEAR)], plain)
        b = EmojiCompositor().compose(noise_frame(), [(face((50, 30, 110, 90), roll), Expression.FEAR)], full)
        assert np.array_equal(a, b)


@pytest.mark.parametrize("roll", [30.0, -55.0, 90.0])
def test_rotation_turns_about_the_face_box_centre(roll) -> None:
    face_box = (0.10, 0.30, 0.50, 0.70)  # face on the left of the image: a turn about the image centre would move it
    pack = boxed_pack(framed_face(100, (10, 30, 50, 70)), face_box)
    frame = grey_frame(240, 320)
    box = (140, 100, 180, 140)
    EmojiCompositor(scale=1.0, size_step=0.0, angle_step_degrees=0.0).compose(frame, [(face(box, roll),
                                                                                      Expression.ANGRY)], pack)
    ys, xs = np.nonzero(_reddish(frame))
    # within the 0.5 px of whole-pixel placement; turning about the image centre would move it 10 px or more
    assert abs(xs.mean() - 160) < 1.5 and abs(ys.mean() - 120) < 1.5


def test_face_box_through_the_uncached_direct_warp() -> None:
    pack = boxed_pack(framed_face(100, (10, 30, 50, 70)), (0.10, 0.30, 0.50, 0.70))
    box = (140, 100, 180, 140)
    cached = EmojiCompositor().compose(grey_frame(240, 320), [(face(box, 12.0), Expression.HAPPY)], pack)
    direct = EmojiCompositor(max_sprite_side=16).compose(grey_frame(240, 320), [(face(box, 12.0),
                                                                                 Expression.HAPPY)], pack)
    assert np.mean(np.abs(cached.astype(int) - direct.astype(int))) < 1.0
