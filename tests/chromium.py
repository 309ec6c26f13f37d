"""Debian's chromium, headless, driven by Selenium through /usr/bin/chromedriver (never a browser download).

``open_chromium()`` returns a WebDriver, or raises ``ChromiumMissing`` saying what is absent, for a test to skip with.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


class ChromiumMissing(Exception):
    pass


def _first(paths: tuple[str, ...], env: str) -> str | None:
    given = os.environ.get(env)
    if given:
        return given if Path(given).exists() else None
    return next((p for p in paths if Path(p).exists()), None)


def open_chromium(width: int = 1440, height: int = 900):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        raise ChromiumMissing(f"selenium is not installed ({exc}); scripts/setup.sh test installs it") from None
    browser = _first(CHROMIUM_CANDIDATES, "CHROMIUM")
    driver = _first(CHROMEDRIVER_CANDIDATES, "CHROMEDRIVER")
    if browser is None or driver is None:
        raise ChromiumMissing("Debian's chromium and chromium-driver are not installed "
                              "(apt-get install chromium chromium-driver; scripts/test.sh does it as root)")
    profile = tempfile.mkdtemp(prefix="emoji-cam-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-extensions", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                 f"--window-size={width},{height}", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium-manager is not used (the paths are given), and no stats
    try:
        web = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    except Exception as exc:  # WebDriverException and friends: chromium could not start here
        shutil.rmtree(profile, ignore_errors=True)
        raise ChromiumMissing(f"chromium did not start: {str(exc).splitlines()[0]}") from None
    original_quit = web.quit

    def quit_and_clean() -> None:
        try:
            original_quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    web.quit = quit_and_clean
    return web
