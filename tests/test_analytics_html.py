"""report.html is one self-contained page: read as HTML (no reference out of the file) and opened in Debian's
headless chromium with the network cut off (every picture shows, nothing is fetched)."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from analytics_helpers import fixture_clip
from conftest import FIXTURES, shared_file

from vcam_emoji.cli import main

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


class References(HTMLParser):
    """Every URL the page refers to (src, href, srcset, url(...) in inline styles)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value is not None:
                self.urls.append(value)
            if name == "style" and value and "url(" in value:
                self.urls.append(value)


def make_report(env, *inputs) -> Path:
    tmp, config = env
    out = tmp / "out"
    assert main(["analyze", "--config", config, "-q", *map(str, inputs), "--out", str(out)]) == 0
    return out / "report.html"


def check_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    refs = References()
    refs.feed(text)
    assert refs.urls and all(u.startswith("data:image/png;base64,") for u in refs.urls), refs.urls
    assert "script" not in refs.tags and "link" not in refs.tags and "iframe" not in refs.tags
    assert "@import" not in text and "url(" not in text.split("<body>")[0]


def offline_browser(tmp: Path):
    """Debian's chromium through its chromedriver, with the network switched off (never a browser download)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.skip("needs Debian's chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp / 'chromium-profile'}", "--window-size=1100,1400",
                 # no name resolves and every connection goes to a closed local port: nothing can be fetched
                 "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_network_conditions(offline=True, latency=0, download_throughput=0, upload_throughput=0)
    return driver


def check_in_browser(page: Path, tmp: Path, expect_text: list[str]) -> None:
    driver = offline_browser(tmp)
    try:
        driver.get(page.as_uri())
        assert driver.title == "Emotion report"
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, i.naturalHeight])")
        assert len(images) == 3 and all(done and w > 500 and h > 100 for _, done, w, h in images), images
        fetched = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'))")
        assert fetched == []
        body = driver.find_element("tag name", "body").text
        for text in expect_text:
            assert text in body
    finally:
        driver.quit()
        shutil.rmtree(tmp / "chromium-profile", ignore_errors=True)


def test_fixture_report_opens_offline(env):
    tmp, _ = env
    page = make_report(env, fixture_clip(tmp / "drift.avi"), FIXTURES / "astronaut_256.jpg")
    check_self_contained(page)
    check_in_browser(page, tmp, ["Emotion report", "drift.avi", "astronaut_256.jpg", "How to read this"])


@pytest.mark.needs_shared
def test_two_face_clip_report_opens_offline(env):
    tmp, _ = env
    page = make_report(env, shared_file("media/intel_head-pose-face-detection-female-and-male.mp4"))
    check_self_contained(page)
    check_in_browser(page, tmp, ["intel_head-pose-face-detection-female-and-male.mp4", "face 1", "face 2",
                                 "strongest moments"])
