#!/usr/bin/env python3
"""Screenshot of report.html for the two-face shared clip, saved as docs/report.png (or the path given).

Runs ``vcam-emoji analyze`` on ../shared/media/intel_head-pose-face-detection-female-and-male.mp4 (or the videos
given with --input) into a temporary folder, opens the report in Debian's headless chromium through
/usr/bin/chromedriver with the network switched off, and saves the whole page.
Nothing outside a temporary folder is touched, and no browser is downloaded.

Needs: the test extra (selenium, matplotlib) and Debian's chromium + chromium-driver.
Usage: .venv/bin/python scripts/report_screenshot.py [--input VIDEO ...] [OUT.png]
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "media" / "intel_head-pose-face-detection-female-and-male.mp4"
WIDTH = 1100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / "docs" / "report.png")
    parser.add_argument("--input", action="append", type=Path, help=f"video or photo to analyse (default {CLIP})")
    args = parser.parse_args()
    inputs = args.input or [CLIP]
    for path in inputs:
        if not path.is_file():
            print(f"report_screenshot: {path} is missing (../shared/media beside the repository)", file=sys.stderr)
            return 1
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from vcam_emoji.cli import main as vcam_main

    with tempfile.TemporaryDirectory(prefix="report-shot-") as tmp:
        os.environ.setdefault("XDG_CONFIG_HOME", str(Path(tmp) / "xdg-config"))
        out_dir = Path(tmp) / "report"
        code = vcam_main(["analyze", "-q", *map(str, inputs), "--out", str(out_dir)])
        if code != 0:
            return code
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--no-first-run", "--hide-scrollbars",
                     f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={WIDTH},1000",
                     "--host-resolver-rules=MAP * ~NOTFOUND"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
            driver.get((out_dir / "report.html").as_uri())
            height = driver.execute_script("return document.documentElement.scrollHeight")
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {  # the whole page, not just the window
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(base64.b64decode(shot["data"]))
        finally:
            driver.quit()
    print(f"wrote {args.out} ({WIDTH} px wide, page {height} px tall)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
