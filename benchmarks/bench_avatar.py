"""Avatar drawing: ms for one expression (a new avatar, then the same avatar again), for a whole pack, for a
sticker; and the compositor's cost for an avatar image against a round emoji. Prints; no asserts.

    python benchmarks/bench_avatar.py [--repeat 5]

"new avatar" draws all three layers (body and clothes, face, hair/hat); "same avatar" draws only the face layer
(AvatarRenderer keeps the other two), which is what the Studio's builder pays when only the expression changes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _machine import describe  # noqa: E402  (benchmarks/_machine.py)
from vcam_emoji.avatar import AvatarRenderer, create_avatar_pack, random_attributes  # noqa: E402
from vcam_emoji.sticker import encode, sticker_image  # noqa: E402
from vcam_emoji.types import Expression  # noqa: E402


def ms(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000.0)
    return statistics.median(times), max(times)


def compose_cost(avatar_pack, repeat: int) -> None:
    """ms to draw one face (cached sprite) on a 1280x720 frame: a round emoji pack against the avatar pack."""
    import numpy as np

    from vcam_emoji.compose import EmojiCompositor
    from vcam_emoji.packs import load_pack
    from vcam_emoji.resources import packs_dir
    from vcam_emoji.types import TrackedFace

    frame = np.full((720, 1280, 3), 90, np.uint8)
    for side in (150, 250):
        box = (640 - side / 2, 300 - side / 2, 640 + side / 2, 300 + side / 2)
        eyes = np.array([[box[0] + side * 0.3, box[1] + side * 0.35], [box[0] + side * 0.7, box[1] + side * 0.35]],
                        np.float32)
        face = TrackedFace(1, box, 0.9, eyes)
        for pack in (load_pack(packs_dir() / "twemoji"), avatar_pack):
            comp = EmojiCompositor()
            comp.compose(frame.copy(), [(face, Expression.HAPPY)], pack)  # builds the sprite
            t = ms(lambda: comp.compose(frame.copy(), [(face, Expression.HAPPY)], pack), repeat * 4)
            copy = ms(lambda: frame.copy(), repeat * 4)
            print(f"compose one {side} px face, pack {pack.name:<8}: median {t[0] - copy[0]:5.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(describe())
    avatars = [random_attributes(seed) for seed in range(args.repeat)]
    it = iter(avatars)
    cold = ms(lambda: AvatarRenderer(512).render(next(it), Expression.HAPPY), args.repeat)
    renderer = AvatarRenderer(512)
    renderer.render(avatars[0], Expression.HAPPY)
    warm = ms(lambda: renderer.render(avatars[0], Expression.SAD), args.repeat)
    png = ms(lambda: renderer.render_png(avatars[0], Expression.FEAR), args.repeat)
    print(f"one expression, 512 px, new avatar:  median {cold[0]:7.1f} ms  (max {cold[1]:.1f})")
    print(f"one expression, 512 px, same avatar: median {warm[0]:7.1f} ms  (max {warm[1]:.1f})")
    print(f"  ... as PNG bytes:                  median {png[0]:7.1f} ms  (max {png[1]:.1f})")
    with tempfile.TemporaryDirectory() as tmp:
        n = iter(range(10**6))
        pack = ms(lambda: create_avatar_pack(f"a{next(n)}", avatars[0], root=Path(tmp)), max(1, args.repeat // 2))
        print(f"avatar create (7 pictures, preview, checks): median {pack[0]:7.1f} ms  (max {pack[1]:.1f})")
        from vcam_emoji.packs import load_pack

        loaded = load_pack(Path(tmp) / "a0")
    compose_cost(loaded, args.repeat)
    rgba = sticker_image(loaded, Expression.HAPPY)
    for fmt in ("PNG", "WEBP"):
        data = encode(rgba, fmt)
        t = ms(lambda: encode(rgba, fmt), args.repeat)
        print(f"sticker {fmt:<4}: {len(data) / 1024:5.1f} KB, median {t[0]:6.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
