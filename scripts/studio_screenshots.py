"""Screenshots of every Studio page, from Debian's headless chromium, into docs/studio-*.png.

    .venv/bin/python scripts/studio_screenshots.py [--source demo|FILE] [--seconds-before-session 40]

Starts `vcam-emoji studio` on the given source in a temporary home (its own settings and packs), opens each page,
waits until it shows what it is for, and saves the picture. On the Avatar page an avatar is built and saved as the
pack "me" first, so the Packs page shows it too; then a colour and a name that are refused. The Session page is
taken with a report of the clip by `vcam-emoji analyze` in the Studio's reports folder and one of the live session
made on the page. The Settings page is taken twice: as it opens, and with
an invalid value refused next to its field.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from chromium import open_chromium  # noqa: E402  (tests/chromium.py)
from studio_process import start_studio  # noqa: E402  (tests/studio_process.py)


AVATAR = {"av-skin": "brown", "av-hair": "curly", "av-hair_color": "black", "av-facial_hair": "beard_light",
          "av-accessory": "round", "av-clothing": "collar_sweater", "av-clothing_color": "red"}


def avatar(web, shot) -> None:
    """The Avatar page with an avatar built on it and saved as the pack "me"."""
    from selenium.webdriver.support.ui import Select

    web.get(web.current_url.rsplit("/", 1)[0] + "/avatar")
    drawn = ("(() => { const p = document.getElementById('preview'); return p && !p.classList.contains('stale') && "
             "(p.dataset.drawn || '').includes('%s') && [...p.querySelectorAll('img')].every(i => i.naturalWidth); "
             "})()")
    shot("", drawn % "hair=", "", settle=0)
    for field, value in AVATAR.items():
        element = web.find_element("id", field)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    name = web.find_element("id", "pack-name")
    name.send_keys("me")
    shot("", drawn % "clothing_color=red", "", settle=0)
    web.find_element("id", "save-pack").click()
    shot("", "document.getElementById('save-message').textContent.includes('Saved') && (window.scrollTo(0, 0), true)",
         "studio-avatar.png", settle=1)
    skin = web.find_element("id", "av-skin")  # then two values that are refused, each named next to its field
    skin.clear()
    skin.send_keys("purplish")
    name.clear()
    name.send_keys("my avatar!")
    shot("", "document.getElementById('err-skin').textContent.length > 0", "", settle=0)
    web.find_element("id", "save-pack").click()
    shot("", "document.getElementById('err-name').textContent.length > 0 && (window.scrollTo(0, 0), true)",
         "studio-avatar-invalid.png", settle=0.5)


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
                if name:
                    web.save_screenshot(str(out / name))
                    print(f"wrote {out / name}")

            web.get(studio.url)
            shot("", "document.querySelectorAll('#faces .face').length > 0 && "
                     "document.getElementById('live-img').naturalWidth > 0", "studio-live.png", settle=3)
            avatar(web, shot)
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
            # a report made by `vcam-emoji analyze` in the Studio's reports folder, listed on the Session page
            reports = Path(home) / "data" / "vcam-emoji" / "reports"
            subprocess.run([sys.executable, "-m", "vcam_emoji", "analyze", args.source, "--out",
                            str(reports / "demo-clip-analysis"), "-q"], check=True, cwd=REPO, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(REPO)})
            time.sleep(max(0.0, args.seconds_before_session - (time.monotonic() - started)))
            web.set_window_size(1440, 1300)  # the chart and the reports below it
            shot("session", "document.getElementById('legend').children.length === 7 && "
                            "!document.getElementById('make-report').disabled", "", 0)
            web.find_element("id", "make-report").click()
            shot("", "document.querySelectorAll('#report-rows tr[data-report]').length === 2", "studio-session.png",
                 2.5)
        finally:
            web.quit()
            studio.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
