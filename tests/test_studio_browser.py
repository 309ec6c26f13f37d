"""Studio in a real browser: Debian's chromium, headless, driven by Selenium through its chromedriver.

On a running engine with the demo clip: the live picture changes; a pack imported and picked on the Packs page
shows in the next frames; a smoothing change made on the Settings page is in the config file; an invalid value is
named next to its field and nothing is saved; a hand edit of the file shows on the page; an avatar built on the
Avatar page (a refused colour and name named next to their fields) is saved as a pack, replaced only after "Replace
it", and shown on the Packs page. Skipped, with the reason,
where chromium, its driver or selenium is missing.
"""

from __future__ import annotations

import io
import json
import zipfile

import cv2
import numpy as np
import pytest

from chromium import ChromiumMissing, open_chromium
from studio_process import start_studio

WAIT_S = 60.0  # bound for what the page shows next; never reached when things work


@pytest.fixture(scope="module")
def browser():
    try:
        web = open_chromium()
    except ChromiumMissing as exc:
        pytest.skip(str(exc))
    yield web
    web.quit()


def green_pack(path):
    """A pack whose seven images are a pure green disc: easy to find in a frame of the demo clip."""
    with zipfile.ZipFile(path, "w") as archive:
        images = {}
        for label in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"):
            image = np.zeros((256, 256, 4), np.uint8)
            cv2.circle(image, (128, 128), 120, (0, 255, 0, 255), -1)
            archive.writestr(f"{label}.png", cv2.imencode(".png", image)[1].tobytes())
            images[label] = f"{label}.png"
        archive.writestr("pack.json", json.dumps({"name": "green", "author": "tests", "license": "CC0-1.0",
                                                  "images": images}))


def picture(browser) -> np.ndarray:
    png = browser.find_element("id", "live-img").screenshot_as_png
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)


def green_share(image: np.ndarray) -> float:
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return float(np.mean((g > 200) & (r < 70) & (b < 70)))


def wait_for(browser, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S, poll_frequency=0.2).until(lambda _: condition(), message=what)


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    running = start_studio(tmp_path_factory.mktemp("studio-home"), "--source", "demo", "--sink", "none")
    yield running
    assert running.stop() == 0
    assert not any("Traceback" in line for line in running.stderr), "".join(running.stderr)


def test_live_picture_changes(browser, studio):
    browser.get(studio.url)  # the address with the token: traded for the cookie, then /live
    wait_for(browser, lambda: browser.current_url == f"{studio.base}/live", "the redirect to /live")
    assert "token=" not in browser.current_url
    wait_for(browser, lambda: browser.execute_script(
        "const i = document.getElementById('live-img'); return i.complete && i.naturalWidth") == 1280,
        "the first frame")
    first = picture(browser)
    wait_for(browser, lambda: float(np.mean(np.abs(picture(browser).astype(int) - first.astype(int)))) > 1.0,
             "a different frame of the demo clip")
    wait_for(browser, lambda: "running" in browser.find_element("id", "state-badge").text, "running")
    wait_for(browser, lambda: browser.find_elements("css selector", "#faces .face"), "a face on the Live page")


def test_a_pack_imported_and_picked_shows_in_the_next_frames(browser, studio, tmp_path):
    browser.get(f"{studio.base}/live")
    wait_for(browser, lambda: browser.find_elements("css selector", "#faces .face"), "a face")
    assert green_share(picture(browser)) < 0.001  # no green disc in the demo clip with twemoji
    archive = tmp_path / "green.zip"
    green_pack(archive)
    browser.get(f"{studio.base}/packs")
    wait_for(browser, lambda: browser.find_elements("css selector", "tr[data-pack='classic']"), "the pack list")
    browser.find_element("id", "import-file").send_keys(str(archive))
    browser.find_element("css selector", "#import-form button[type=submit]").click()
    wait_for(browser, lambda: "Imported green" in browser.find_element("id", "packs-message").text, "the import")
    assert (studio.packs_dir / "green" / "pack.json").is_file()
    # the message comes first, then the list is loaded again: wait for the new row
    wait_for(browser, lambda: browser.find_elements("css selector", "button[data-use='green']"),
             "the imported pack's row")[0].click()
    wait_for(browser, lambda: browser.find_elements("css selector", "tr.current[data-pack='green']"), "in use")
    assert 'name = "green"' in studio.config_path.read_text()  # saved like the tray does it
    browser.get(f"{studio.base}/live")
    wait_for(browser, lambda: green_share(picture(browser)) > 0.01, "the green pack on the face in the live picture")


def test_smoothing_is_saved_to_the_file_and_an_invalid_value_is_refused(browser, studio):
    browser.get(f"{studio.base}/settings")
    field = wait_for(browser, lambda: browser.find_elements("id", "in-smoothing-time_constant_ms"), "the form")[0]
    wait_for(browser, lambda: field.get_attribute("value") == "250", "the file's value")
    field.clear()
    field.send_keys("400")
    browser.find_element("id", "save").click()
    wait_for(browser, lambda: "saved to the settings file" in browser.find_element("id", "save-message").text,
             "saved")
    assert "time_constant_ms = 400" in studio.config_path.read_text()
    # an invalid value: named next to its field, nothing saved
    before = studio.config_path.read_text()
    hold = browser.find_element("id", "in-smoothing-min_hold_ms")
    hold.clear()
    hold.send_keys("99999")
    browser.find_element("id", "save").click()
    error = browser.find_element("id", "err-smoothing.min_hold_ms")
    wait_for(browser, lambda: "out of range" in error.text, "the field's error")
    assert "allowed 0..10000" in error.text and "invalid" in hold.get_attribute("class")
    assert studio.config_path.read_text() == before
    # a hand edit of the file shows on the page
    browser.find_element("id", "revert").click()
    studio.config_path.write_text(before.replace("switch_margin = 0.15", "switch_margin = 0.33"))
    margin = browser.find_element("id", "in-smoothing-switch_margin")
    wait_for(browser, lambda: margin.get_attribute("value") == "0.33", "the hand edit on the page")


def preview_drawn(browser, *needles: str) -> bool:
    """The seven pictures are drawn for attributes that include ``needles`` (e.g. "hair=bob")."""
    return bool(browser.execute_script(
        "const p = document.getElementById('preview'); const imgs = [...p.querySelectorAll('img')];"
        "return !p.classList.contains('stale') && (p.dataset.drawn || '') && imgs.length === 7 &&"
        " imgs.every(i => i.complete && i.naturalWidth === 192) && p.dataset.drawn") and all(
        n in browser.execute_script("return document.getElementById('preview').dataset.drawn || ''") for n in needles))


def test_an_avatar_built_on_the_page_is_saved_as_a_pack_and_shown_on_the_packs_page(browser, studio):
    from selenium.webdriver.support.ui import Select

    browser.get(f"{studio.base}/avatar")
    wait_for(browser, lambda: preview_drawn(browser, "hair=short_flat"), "the default avatar's seven pictures")
    happy = browser.find_element("css selector", "figure[data-expression='happy'] img")
    before = cv2.imdecode(np.frombuffer(happy.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)
    # pick attributes: the pictures are drawn again for them
    Select(browser.find_element("id", "av-hair")).select_by_value("bob")
    Select(browser.find_element("id", "av-facial_hair")).select_by_value("beard_light")
    Select(browser.find_element("id", "av-accessory")).select_by_value("round")
    wait_for(browser, lambda: preview_drawn(browser, "hair=bob", "facial_hair=beard_light", "accessory=round"),
             "the pictures of the new attributes")
    after = cv2.imdecode(np.frombuffer(happy.screenshot_as_png, np.uint8), cv2.IMREAD_COLOR)
    assert float(np.mean(np.abs(after.astype(int) - before.astype(int)))) > 2.0  # the happy face changed
    # a colour that avatars do not have: named next to its field, and nothing is drawn for it
    skin = browser.find_element("id", "av-skin")
    skin.clear()
    skin.send_keys("purplish")
    error = browser.find_element("id", "err-skin")
    wait_for(browser, lambda: "is not a value avatars have" in error.text, "the skin field's error")
    assert "invalid" in skin.get_attribute("class")
    assert browser.find_element("id", "sticker-link").get_attribute("aria-disabled") == "true"
    skin.clear()
    skin.send_keys("#8d5524")
    wait_for(browser, lambda: preview_drawn(browser, "skin=%238d5524"), "the pictures with that skin colour")
    assert error.text == "" and browser.find_element("id", "sticker-link").get_attribute("aria-disabled") == "false"
    # a sticker to download: a 512x512 PNG of the chosen expression
    Select(browser.find_element("id", "sticker-expression")).select_by_value("surprise")
    href = browser.find_element("id", "sticker-link").get_attribute("href")
    assert "expression=surprise" in href and "hair=bob" in href
    got = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(async r => done([r.status, r.headers.get('Content-Type'),"
        " [...new Uint8Array(await r.arrayBuffer())].slice(16, 24)]));", href)
    assert got[0] == 200 and got[1] == "image/png"
    assert int.from_bytes(bytes(got[2][:4]), "big") == 512 == int.from_bytes(bytes(got[2][4:]), "big")
    # Save as pack: a bad name is named next to the field; a good one is written into the user packs folder
    name = browser.find_element("id", "pack-name")
    name.send_keys("my avatar!")
    browser.find_element("id", "save-pack").click()
    wait_for(browser, lambda: "cannot be used" in browser.find_element("id", "err-name").text, "the name's error")
    assert not (studio.packs_dir / "my avatar!").exists()
    name.clear()
    name.send_keys("mine")
    browser.find_element("id", "save-pack").click()
    message = browser.find_element("id", "save-message")
    wait_for(browser, lambda: "Saved the pack “mine”" in message.text, "saved")
    attributes = json.loads((studio.packs_dir / "mine" / "pack.json").read_text())["avatar"]["attributes"]
    assert (attributes["hair"], attributes["skin"], attributes["accessory"]) == ("bob", "#8d5524", "round")
    # the same name again: only after an explicit "Replace it"
    Select(browser.find_element("id", "av-hair")).select_by_value("curly")
    wait_for(browser, lambda: preview_drawn(browser, "hair=curly"), "the curly pictures")
    browser.find_element("id", "save-pack").click()
    confirm = browser.find_element("id", "overwrite")
    wait_for(browser, lambda: confirm.is_displayed(), "the question whether to replace the pack")
    assert "a pack called 'mine' exists already" in confirm.text
    assert json.loads((studio.packs_dir / "mine" / "pack.json").read_text())["avatar"]["attributes"]["hair"] == "bob"
    browser.find_element("id", "overwrite-yes").click()
    wait_for(browser, lambda: "Replaced the pack “mine”" in message.text, "replaced")
    assert json.loads((studio.packs_dir / "mine" / "pack.json").read_text())["avatar"]["attributes"]["hair"] == "curly"
    # and there it is on the Packs page, with its seven pictures, as an avatar pack
    browser.get(f"{studio.base}/packs")
    row = wait_for(browser, lambda: browser.find_elements("css selector", "tr[data-pack='mine']"), "the pack's row")[0]
    wait_for(browser, lambda: browser.execute_script(
        "return [...arguments[0].querySelectorAll('img')].every(i => i.complete && i.naturalWidth > 0)", row) and
        len(row.find_elements("css selector", "td.img img")) == 7, "its seven pictures")
    assert "yours" in row.text and row.find_elements("css selector", "a[href='/avatar?pack=mine']")


def test_the_session_page_makes_a_report_of_the_live_session_and_lists_the_reports_of_vcam_emoji_report(
        browser, studio, tmp_path):
    import subprocess
    import sys

    from studio_fakes import face_result
    from studio_process import REPO
    from vcam_emoji.timeline import TimelineWriter
    from vcam_emoji.types import Expression

    pytest.importorskip("matplotlib", reason="the report's plots need matplotlib (the analytics extra)")
    browser.get(f"{studio.base}/session")
    wait_for(browser, lambda: len(browser.find_elements("css selector", "#legend li")) == 7, "the chart's legend")
    button = browser.find_element("id", "make-report")
    wait_for(browser, button.is_enabled, "the Make a report button")
    button.click()
    message = browser.find_element("id", "reports-message")
    wait_for(browser, lambda: "Made a report of this session" in message.text, "the report of the live session")
    (row,) = wait_for(browser, lambda: browser.find_elements("css selector", "#report-rows tr[data-report]"), "its row")
    assert "Live session" in row.text and "mostly" in row.text
    (made,) = (studio.home / "data" / "vcam-emoji" / "reports").glob("session-*/report.json")
    assert json.loads(made.read_text())["summary"]["persons"] >= 1  # the demo clip's faces
    # its report.html opens in a new tab, from the Studio, in a sandbox
    row.find_element("link text", "Open report").click()
    wait_for(browser, lambda: len(browser.window_handles) == 2, "the report's tab")
    studio_tab = browser.current_window_handle
    browser.switch_to.window(next(h for h in browser.window_handles if h != studio_tab))
    wait_for(browser, lambda: browser.find_elements("css selector", "img"), "the report page's plots")
    assert "report" in browser.title.lower() and "Live session" in browser.find_element("tag name", "body").text
    assert all(img.size["width"] > 100 for img in browser.find_elements("css selector", "img"))  # drawn: data: URIs
    browser.close()
    browser.switch_to.window(studio_tab)
    # a report made with `vcam-emoji report` elsewhere: listed once its folder is added on the page
    timeline = tmp_path / "meeting.jsonl"
    with open(timeline, "w", encoding="utf-8") as stream:
        writer = TimelineWriter(stream)
        for i in range(60):
            result = face_result(1, Expression.HAPPY, index=i)
            writer.write(type(result)(i, i / 30, result.faces))
    out = tmp_path / "reports" / "meeting"
    subprocess.run([sys.executable, "-m", "vcam_emoji", "report", str(timeline), "--out", str(out), "-q"],
                   check=True, cwd=REPO, capture_output=True, timeout=300)
    path = browser.find_element("id", "folder-path")
    path.send_keys(str(tmp_path / "nowhere"))
    browser.find_element("id", "add-folder").click()
    wait_for(browser, lambda: "does not exist" in browser.find_element("id", "err-path").text, "the field's error")
    path.clear()
    path.send_keys(str(tmp_path / "reports"))
    browser.find_element("id", "add-folder").click()
    wait_for(browser, lambda: len(browser.find_elements("css selector", "#report-rows tr[data-report]")) == 2,
             "the added folder's report")
    assert "meeting.jsonl" in browser.find_element("id", "report-rows").text
    assert browser.find_elements("css selector", f"#report-folders li[data-folder='{tmp_path / 'reports'}']")
