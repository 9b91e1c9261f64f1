"""A real browser (Debian's chromium, driven by Playwright) asks the headline question in the chat."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from conftest import ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it as root)"),
]
README_SCREENSHOT = ROOT / "docs" / "chat.png"  # refreshed with BELEGT_UPDATE_SCREENSHOT=1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(seeds_index: Path):  # type: ignore[no-untyped-def]
    import chat_app

    app = chat_app.make_app(str(seeds_index))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    yield f"http://127.0.0.1:{port}/"
    app.close()


def test_headline_question_in_a_real_browser(app_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(app_url, wait_until="networkidle")
        box = page.locator("#question textarea")
        box.fill("who signed the Duisburg declaration?")
        box.press("Enter")
        mark = page.locator("#sources mark").first
        mark.wait_for(timeout=60_000)
        page.locator("#chat a[href='#cite-1']").first.wait_for(timeout=30_000)
        assert "Anton Grabmaier" in mark.inner_text()
        assert "[1]" in page.locator("#chat").inner_text()
        page.wait_for_timeout(500)  # let the progressive answer finish
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    if os.environ.get("BELEGT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, README_SCREENSHOT)


def test_a_script_in_a_document_shows_as_text(tmp_path: Path) -> None:
    import chat_app
    from playwright.sync_api import sync_playwright

    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil.html.txt").write_text(
        "Bürgermeister Hans Muster sagte: <script>document.title='pwned'</script> <b>fett</b> **stern**. "
        "Unterzeichnet wurde die Erklärung von Bürgermeister Hans Muster (Stadt Musterstadt).", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    app = chat_app.make_app(str(tmp_path / "idx"))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            page.get_by_text("Settings", exact=True).first.click()
            page.locator("input[type=checkbox]").first.check()
            box = page.locator("#question textarea")
            box.fill("Wer hat die Erklärung unterzeichnet? script Muster")
            box.press("Enter")
            page.locator("#sources .passage").first.wait_for(timeout=60_000)
            page.wait_for_timeout(500)
            sources = page.locator("#sources").inner_text()
            assert "<script>document.title='pwned'</script>" in sources and "<b>fett</b>" in sources
            assert page.title() != "pwned"
            assert page.locator("#sources script").count() == 0
            assert page.locator("#sources b", has_text="fett").count() == 0
            browser.close()
    finally:
        app.close()


def test_upload_and_feedback_through_the_page(tmp_path: Path) -> None:
    import json

    import chat_app
    from playwright.sync_api import sync_playwright

    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Unterzeichnet wurde die Erklärung von Bürgermeister Hans Muster (Stadt Musterstadt).", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    app = chat_app.make_app(str(tmp_path / "idx"))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/", wait_until="networkidle")
            box = page.locator("#question textarea")
            box.fill("Wer hat die Erklärung unterzeichnet?")
            box.press("Enter")
            page.locator("#sources .passage").first.wait_for(timeout=60_000)
            page.wait_for_timeout(800)
            page.get_by_label("Like", exact=True).first.click()
            page.wait_for_timeout(800)
            log = [json.loads(line) for line in (tmp_path / "idx" / "feedback.jsonl").read_text("utf-8").splitlines()]
            assert log[-1]["helpful"] is True and log[-1]["question"] == "Wer hat die Erklärung unterzeichnet?"

            page.get_by_text("Add documents (.txt, .md, .html)").click()
            new = tmp_path / "vertrag.txt"
            new.write_text("Unterzeichnet wurde der Vertrag von Landrätin Erika Beispiel (Kreis Wesel).", "utf-8")
            page.locator("#upload input[type=file]").set_input_files(str(new))
            page.locator("#upload-status", has_text="Indexed").wait_for(timeout=60_000)
            assert "1 new" in page.locator("#upload-status").inner_text()
            box.fill("Landrätin Erika Beispiel Vertrag")
            box.press("Enter")
            page.locator("#sources", has_text="Erika Beispiel").wait_for(timeout=60_000)
            assert "uploads/vertrag.txt" in page.locator("#sources").inner_text()
            browser.close()
    finally:
        app.close()
