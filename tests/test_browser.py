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
