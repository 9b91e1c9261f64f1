"""Scanned PDFs and images through Tesseract: text, pages and word boxes as for a text layer."""

from __future__ import annotations

from pathlib import Path

import pytest
from files import two_column_pdf, scan

from pipeline.settings import Settings
from pipeline.text import ocr
from pipeline.text.sources import load
from pipeline.types import SkippedFile, SourceText

needs_tesseract = pytest.mark.skipif(not ocr.available("deu+eng"),
                                     reason=f"Tesseract with deu+eng is not installed ({ocr.INSTALL})")
pytestmark = pytest.mark.slow  # Tesseract takes seconds a page


def read(path: Path) -> SourceText:
    got = load(str(path), Settings().sources)
    assert isinstance(got, SourceText), got
    return got


@needs_tesseract
def test_a_scanned_page_is_read_with_boxes_where_the_words_are(tmp_path: Path) -> None:
    original = two_column_pdf(tmp_path / "bericht.pdf", pages=1)
    layer = read(original)
    scanned = read(scan(original, tmp_path / "scan.png"))
    assert scanned.format == "image" and "OCR" in scanned.encoding
    for word in ("Glasfasernetz", "Unterzeichnet", "Bürgermeister"):
        assert word in scanned.text
        (ocr_box,) = [b for b in scanned.boxes if scanned.text[b.start : b.end].strip(".,") == word]
        (text_box,) = [b for b in layer.boxes if layer.text[b.start : b.end].strip(".,") == word]
        # Pixels at 300 dpi back to points: the scan's box lies on the text layer's, give or take a few points.
        assert abs(ocr_box.x0 - text_box.x0) < 4 and abs(ocr_box.y0 - text_box.y0) < 4, (ocr_box, text_box)
    # The two columns come out one after the other, not line by line across both.
    assert scanned.text.index("Glasfasernetz") > scanned.text.index("Unterzeichnet")
    assert scanned.text.index("Arbeiten beginnen") > scanned.text.index("Beispiel AG")


@needs_tesseract
def test_an_image_only_pdf_is_read_by_ocr(tmp_path: Path) -> None:
    src = read(scan(two_column_pdf(tmp_path / "bericht.pdf", pages=1), tmp_path / "scan.pdf"))
    assert src.format == "pdf" and "1 read by OCR" in src.encoding
    assert [(r.unit, r.number) for r in src.regions] == [("page", 1)]
    assert "Glasfasernetz" in src.text and src.boxes


def test_without_tesseract_scans_are_skipped_with_the_install_command(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    original = two_column_pdf(tmp_path / "bericht.pdf", pages=1)
    image, pdf = scan(original, tmp_path / "scan.png"), scan(original, tmp_path / "scan.pdf")
    monkeypatch.setattr(ocr, "available", lambda languages="deu+eng": False)
    monkeypatch.setattr(ocr, "missing", lambda languages="deu+eng": "Tesseract is not installed")
    for path in (image, pdf):
        got = load(str(path), Settings().sources)
        assert isinstance(got, SkippedFile), got
        assert "needs OCR, and Tesseract is not installed" in got.reason and "apt-get install tesseract-ocr" in got.reason
    assert isinstance(load(str(original), Settings().sources), SourceText)  # a text layer needs no OCR
