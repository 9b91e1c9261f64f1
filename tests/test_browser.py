"""A real browser (Debian's chromium, driven by Playwright) asks the headline question in the chat."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ROOT, serving, tiny_index

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it as root)"),
]
README_SCREENSHOT = ROOT / "docs" / "chat.png"  # refreshed with UPDATE_SCREENSHOTS=1
PDF_SCREENSHOT = ROOT / "docs" / "pdf_citation.png"  # the same


SIGNED = "Unterzeichnet wurde die Erklärung von Bürgermeister Hans Muster (Stadt Musterstadt)."


@contextlib.contextmanager
def browser_page(url: str):  # type: ignore[no-untyped-def]
    """Debian's chromium, headless, with a page open at url."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # "networkidle" is not always reached (the app keeps a connection busy): never wait for it;
        # the page is ready when its question box is.
        page.goto(url, wait_until="load", timeout=90_000)
        page.locator("#question textarea").wait_for(timeout=90_000)
        try:
            yield page
        finally:
            browser.close()


def ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator("#sources .passage").first.wait_for(timeout=60_000)
    page.wait_for_timeout(800)  # let the progressive answer finish


def test_headline_question_in_a_real_browser(seeds_index: Path, tmp_path: Path) -> None:
    with serving(seeds_index) as url, browser_page(url) as page:
        ask(page, "who signed the Duisburg declaration?")
        page.locator("#chat a[href='#cite-1-1']").first.wait_for(timeout=30_000)
        assert "Anton Grabmaier" in page.locator("#sources mark").first.inner_text()
        assert "[1]" in page.locator("#chat").inner_text()
        shot = tmp_path / "chat.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, README_SCREENSHOT)


def test_a_script_in_a_document_shows_as_text(tmp_path: Path) -> None:
    index = tiny_index(tmp_path, {"evil.txt": "Bürgermeister Hans Muster sagte: <script>document.title='pwned'</script> "
                                              "<b>fett</b> **stern**. " + SIGNED})
    with serving(index) as url, browser_page(url) as page:
        page.get_by_text("Settings", exact=True).first.click()
        page.locator("input[type=checkbox]").first.check()
        ask(page, "Wer hat die Erklärung unterzeichnet? script Muster")
        sources = page.locator("#sources").inner_text()
        assert "<script>document.title='pwned'</script>" in sources and "<b>fett</b>" in sources
        assert page.title() != "pwned"
        assert page.locator("#sources script").count() == 0
        assert page.locator("#sources b", has_text="fett").count() == 0


def test_upload_and_feedback_through_the_page(tmp_path: Path) -> None:
    import json

    index = tiny_index(tmp_path, {"a.txt": SIGNED})
    with serving(index) as url, browser_page(url) as page:
        ask(page, "Wer hat die Erklärung unterzeichnet?")
        page.get_by_label("Like", exact=True).first.click()
        page.wait_for_timeout(800)
        log = [json.loads(line) for line in (index / "feedback.jsonl").read_text("utf-8").splitlines()]
        assert log[-1]["helpful"] is True and log[-1]["question"] == "Wer hat die Erklärung unterzeichnet?"

        page.get_by_text("Add documents (text, HTML, PDF", exact=False).click()
        new = tmp_path / "vertrag.txt"
        new.write_text("Unterzeichnet wurde der Vertrag von Landrätin Erika Beispiel (Kreis Wesel).", "utf-8")
        page.locator("#upload input[type=file]").set_input_files(str(new))
        page.locator("#upload-status", has_text="Indexed").wait_for(timeout=60_000)
        assert "1 new" in page.locator("#upload-status").inner_text()
        box = page.locator("#question textarea")
        box.fill("Landrätin Erika Beispiel Vertrag")
        box.press("Enter")
        page.locator("#sources", has_text="Erika Beispiel").wait_for(timeout=60_000)
        assert "uploads/vertrag.txt" in page.locator("#sources").inner_text()


def test_a_bad_question_gets_its_reason_as_the_reply(tmp_path: Path) -> None:
    index = tiny_index(tmp_path, {"a.txt": SIGNED})
    with serving(index) as url, browser_page(url) as page:
        box = page.locator("#question textarea")
        for question, reason in (("?!? 🤔", "no words"), ("x" * 2500, "at most 2,000")):
            box.fill(question)
            box.press("Enter")
            page.locator("#chat", has_text=reason).wait_for(timeout=30_000)
        chat = page.locator("#chat").inner_text()
        assert chat.count("Not asked: the question") == 2 and "Traceback" not in chat
        assert "(2,500 characters)" in chat  # the long question is shown shortened
        assert page.locator(".toast-body").count() == 0  # no Gradio error toast


def test_a_pdf_citation_shows_the_page_with_the_cited_lines_highlighted(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from files import two_column_pdf

    from pipeline.indexing import build

    monkeypatch.chdir(tmp_path)  # sources read "docs/…", as a user's build names them
    Path("docs").mkdir()
    two_column_pdf(Path("docs/jahresbericht.pdf"), pages=2)
    build(["docs"], tmp_path / "idx", progress=False)  # the default embedder: the answer is chosen as users get it
    with serving(tmp_path / "idx") as url, browser_page(url) as page:
        ask(page, "Wer hat die Erklärung im Juli 2018 unterzeichnet?")
        image = page.locator("#sources img.page").first
        image.wait_for(timeout=30_000)
        assert image.evaluate("img => img.naturalWidth") == 640 and image.is_visible()
        link = page.locator("#sources a.open-page").first
        assert link.get_attribute("href").endswith("#page=" + link.inner_text().split()[-1])
        assert "Hans Muster" in page.locator("#sources mark").first.inner_text()
        shot = tmp_path / "pdf.png"
        page.locator("#sources").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        shutil.copyfile(shot, PDF_SCREENSHOT)


def test_two_answers_keep_their_sources_and_survive_a_reload(seeds_index: Path) -> None:
    with serving(seeds_index) as url, browser_page(url) as page:
        ask(page, "who signed the Duisburg declaration?")
        page.locator("#chat a[href='#cite-1-1']").first.wait_for(timeout=30_000)
        box = page.locator("#question textarea")
        box.fill("Wann kam Huawei nach Deutschland?")
        box.press("Enter")
        page.locator("#sources #answer-2").wait_for(timeout=60_000)
        page.wait_for_timeout(800)
        # The first answer's [1] opens the first answer's passage, not the second's.
        target = page.locator("#sources #cite-1-1")
        assert target.count() == 1 and "Anton Grabmaier" in target.inner_text()
        page.locator("#chat a[href='#cite-1-1']").first.click()
        page.wait_for_timeout(500)
        assert target.evaluate("e => { const r = e.getBoundingClientRect(); return r.bottom > 0 && r.top < innerHeight; }")
        # The export button downloads the conversation as Markdown with its citations.
        with page.expect_download(timeout=30_000) as download:
            page.locator("#export").click()
        markdown = Path(download.value.path()).read_text("utf-8")
        assert "## who signed the Duisburg declaration?" in markdown and "## Wann kam Huawei" in markdown
        assert re.search(r"^- \[1\] `[^`]*seeds/\w+\.txt`, characters \d+–\d+: “Unterzeichnet", markdown, re.M)
        # A reload brings the conversation and both answers' sources back.
        page.reload(wait_until="networkidle")
        page.locator("#sources #answer-2").wait_for(timeout=30_000)
        chat = page.locator("#chat").inner_text()
        assert "Duisburg declaration" in chat and "Huawei" in chat
        assert page.locator("#sources #cite-1-1").count() == 1


def test_on_a_phone_the_sources_come_right_after_the_conversation(seeds_index: Path, tmp_path: Path) -> None:
    with serving(seeds_index) as url, browser_page(url) as page:
        page.set_viewport_size({"width": 390, "height": 844})
        ask(page, "who signed the Duisburg declaration?")
        sources = page.locator("#sources").bounding_box()
        chat = page.locator("#chat").bounding_box()
        settings = page.get_by_text("Settings", exact=True).first.bounding_box()
        upload = page.get_by_text("Add documents", exact=False).first.bounding_box()
        assert sources and chat and settings and upload
        assert chat["y"] < sources["y"] < settings["y"] and sources["y"] < upload["y"]
        page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
    assert (tmp_path / "phone.png").stat().st_size > 10_000


def test_documents_tab_lists_and_removes_a_document(tmp_path: Path) -> None:
    index = tiny_index(tmp_path, {"a.txt": SIGNED, "b.txt": "Die Stadt Moers eröffnet eine neue Bibliothek."})
    with serving(index) as url, browser_page(url) as page:
        page.get_by_role("tab", name="Documents").click()
        table = page.locator("#documents")
        table.get_by_text("b.txt", exact=False).first.wait_for(timeout=30_000)
        assert "a.txt" in table.inner_text()
        page.locator("#pick input").fill(str(tmp_path / "docs" / "a.txt"))
        page.locator("#pick input").press("Enter")
        page.locator("#remove").click()
        page.locator("#documents-status", has_text="Removed a.txt").wait_for(timeout=60_000)
        assert "a.txt" not in table.inner_text() and "b.txt" in table.inner_text()
    # Its passages are gone from the index the chat answers from; the file itself stays.
    from pipeline.store import IndexReader

    reader = IndexReader.open(index)
    assert {Path(s).name for s in reader.sources()} == {"b.txt"} and (tmp_path / "docs" / "a.txt").exists()
    reader.close()


def test_an_example_is_asked_on_click_and_a_message_copies_as_text(seeds_index: Path) -> None:
    from playwright.sync_api import sync_playwright

    with serving(seeds_index) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
            page = context.new_page()
            page.goto(url, wait_until="networkidle")
            page.get_by_text("who signed the Duisburg declaration?", exact=True).first.click()  # an example chip
            page.locator("#sources .passage").first.wait_for(timeout=60_000)
            page.wait_for_timeout(1500)
            labels = [b.get_attribute("aria-label") for b in page.locator("#chat button[aria-label]").all()]
            assert "Copy message" in labels and not any("hare" in (label or "") for label in labels)
            # The conversation's toolbar (clear, copy all) does not cover the first message.
            first = page.locator("#chat .message").first.bounding_box()
            for name in ("Clear", "Copy conversation"):
                tool = page.locator(f"#chat button[aria-label='{name}']").first.bounding_box()
                assert first and tool and (tool["y"] + tool["height"] <= first["y"]
                                           or tool["x"] >= first["x"] + first["width"]), (name, tool, first)
            page.locator("#chat button[aria-label='Copy message']").last.click()
            page.wait_for_timeout(300)
            copied = page.evaluate("navigator.clipboard.readText()")
            assert "Prof.Dr. Ulrich Radtke (UDE)" in copied and "[1]" in copied
            assert "<a" not in copied and "\\" not in copied and "&" not in copied
        finally:
            browser.close()


def test_an_upload_is_still_answered_from_after_the_server_restarts(tmp_path: Path) -> None:
    index = tiny_index(tmp_path, {"a.txt": SIGNED})
    new = tmp_path / "vertrag.txt"
    new.write_text("Unterzeichnet wurde der Vertrag von Landrätin Erika Beispiel (Kreis Wesel).", "utf-8")
    with serving(index) as url, browser_page(url) as page:
        page.get_by_text("Add documents (text, HTML, PDF", exact=False).click()
        page.locator("#upload input[type=file]").set_input_files(str(new))
        page.locator("#upload-status", has_text="Indexed").wait_for(timeout=60_000)
    # A new server on the same index, as after `make run` again (which rebuilds first).
    from pipeline.indexing import build

    assert build([], index, progress=False).removed == ()
    with serving(index) as url, browser_page(url) as page:
        box = page.locator("#question textarea")
        box.fill("Landrätin Erika Beispiel Vertrag")
        box.press("Enter")
        page.locator("#sources", has_text="Erika Beispiel").wait_for(timeout=60_000)
        assert "uploads/vertrag.txt" in page.locator("#sources").inner_text()
