"""Screenshots of every Studio page, from Debian's headless chromium, into docs/studio-*.png.

    .venv/bin/python scripts/studio_screenshots.py [--source demo|FILE] [--seconds-before-session 40]

Starts `vcam-emoji studio` on the given source in a temporary home (its own settings and packs), opens each page,
waits until it shows what it is for, and saves the picture. The Settings page is taken twice: as it opens, and with
an invalid value refused next to its field.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from chromium import open_chromium  # noqa: E402  (tests/chromium.py)
from studio_process import start_studio  # noqa: E402  (tests/studio_process.py)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=str(REPO / "vcam_emoji" / "demo" / "demo_two_faces.mp4"))
    ap.add_argument("--seconds-before-session", type=float, default=40.0,
                    help="let the session run this long before its chart is taken")
    ap.add_argument("--out", default=str(REPO / "docs"))
    args = ap.parse_args()
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="studio-shots-") as home:
        studio = start_studio(Path(home), "--source", args.source, "--sink", "none")
        web = open_chromium(1440, 900)
        try:
            started = time.monotonic()

            def shot(page: str, ready: str, name: str, settle: float = 1.5) -> None:
                if page:
                    web.get(f"{studio.base}/{page}")
                deadline = time.monotonic() + 30
                while not web.execute_script(f"return Boolean({ready})"):
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{page}: {ready} never became true")
                    time.sleep(0.2)
                time.sleep(settle)
                web.save_screenshot(str(out / name))
                print(f"wrote {out / name}")

            web.get(studio.url)
            shot("", "document.querySelectorAll('#faces .face').length > 0 && "
                     "document.getElementById('live-img').naturalWidth > 0", "studio-live.png", settle=3)
            shot("packs", "document.querySelectorAll('tr[data-pack]').length >= 3 && "
                          "[...document.images].every(i => i.complete)", "studio-packs.png")
            shot("settings", "document.getElementById('in-smoothing-time_constant_ms') && "
                             "document.getElementById('in-smoothing-time_constant_ms').value", "studio-settings.png")
            field = web.find_element("id", "in-smoothing-time_constant_ms")
            field.clear()
            field.send_keys("99999")
            web.find_element("id", "save").click()
            shot("", "document.getElementById('err-smoothing.time_constant_ms').textContent.length > 0",
                 "studio-settings-invalid.png", settle=0.5)
            shot("api", "document.querySelectorAll('table.api tbody tr').length > 5", "studio-api.png")
            time.sleep(max(0.0, args.seconds_before_session - (time.monotonic() - started)))
            shot("session", "document.getElementById('legend').children.length === 7", "studio-session.png", 2.5)
        finally:
            web.quit()
            studio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
