"""Bad PDF, Office and image files: each is indexed or named with a reason, and nothing else is lost."""

from __future__ import annotations

import struct
import time
import zipfile
import zlib
from pathlib import Path

from files import FONT

from pipeline.embedding import HashingEmbedder
from pipeline.indexing import build
from pipeline.settings import Settings
from pipeline.store import IndexReader
from pipeline.text.sources import load
from pipeline.types import SkippedFile, SourceText


def encrypted_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner", user_password="geheim")
    pdf.add_page()
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=11)
    pdf.cell(0, 10, "Vertraulich: Die Stadt Moers kauft ein Grundstück.")
    pdf.output(str(path))
    return path


def zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def long_pdf(path: Path, pages: int) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=11)
    for n in range(1, pages + 1):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Kapitel {n}. Auf Seite {n} steht, dass Projekt {n} im Jahr {1900 + n % 120} begann.")
    pdf.output(str(path))
    return path


def huge_png(path: Path, side: int = 20_000) -> Path:
    """A PNG whose header says side × side pixels (what a decoder would have to allocate), with little data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = zlib.compress(b"\x00" + b"\xff" * side, 9) if side <= 20_000 else b""
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def reason(path: Path) -> str:
    got = load(str(path), Settings().sources)
    assert isinstance(got, SkippedFile), got
    return got.reason


def test_an_encrypted_pdf_is_named_as_such(tmp_path: Path) -> None:
    assert reason(encrypted_pdf(tmp_path / "geheim.pdf")).startswith("password-protected PDF")


def test_a_pdf_without_pages_is_named(tmp_path: Path) -> None:
    # PDFium does not open a PDF with an empty page tree; after an encrypted one its error text would
    # wrongly say "password" (its last error is global): the reason must not repeat it.
    encrypted_pdf(tmp_path / "geheim.pdf")
    assert reason(tmp_path / "geheim.pdf").startswith("password-protected")
    assert reason(zero_page_pdf(tmp_path / "leer.pdf")) == (
        "could not be read as PDF (PDFium cannot open it); is it damaged or password-protected? "
        "Save it again or export it to PDF")


def test_a_docx_that_is_another_zip_is_named_with_what_to_do(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bericht.docx", "w") as z:
        z.writestr("photos/1.txt", "not a Word document")
    assert reason(tmp_path / "bericht.docx").startswith("could not be read as Word (DOCX)")


def test_an_image_too_large_to_decode_is_refused_before_decoding(tmp_path: Path) -> None:
    assert reason(huge_png(tmp_path / "plan.png")).startswith("image too large (20000 × 20000 pixels")


def test_a_folder_of_bad_files_indexes_the_rest_and_keeps_what_was_indexed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "gut.txt").write_text("Die Stadt Moers baut ein Glasfasernetz.", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    encrypted_pdf(docs / "geheim.pdf")
    zero_page_pdf(docs / "leer.pdf")
    (docs / "kaputt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    with zipfile.ZipFile(docs / "bericht.docx", "w") as z:
        z.writestr("x.txt", "x")
    huge_png(docs / "plan.png")
    long_pdf(docs / "lang.pdf", 100)  # test_a_500_page_pdf_is_read_page_by_page reads 500 pages
    report = build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    named = {Path(s.path).name for s in report.skipped}
    assert named == {"geheim.pdf", "leer.pdf", "kaputt.pdf", "bericht.docx", "plan.png"}
    reader = IndexReader.open(tmp_path / "idx")
    sources = {Path(s).name for s in reader.sources()}
    assert sources == {"gut.txt", "lang.pdf"}
    doc = reader.document_by_source(str(docs / "lang.pdf"))
    assert doc is not None
    at = doc.text.index("Auf Seite 87 steht")
    assert reader.locate(doc.id, at, at + 10).page == 87
    reader.close()


def test_a_500_page_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    src = load(str(long_pdf(tmp_path / "lang.pdf", 500)), Settings().sources)
    assert isinstance(src, SourceText) and src.encoding == "PDF, 500 pages"
    assert [r.number for r in src.regions] == list(range(1, 501))


def test_a_long_pdf_shows_its_pages_and_gets_its_budget_per_page(tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                                                 monkeypatch) -> None:
    from pipeline.text import pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    long_pdf(docs / "lang.pdf", 100)
    # Pages as slow as OCR makes them, in small: 20 ms each, 2 s for the file (the worker is forked, so it
    # reads with this patch). The budget of 1 s holds per page: the file is read, not skipped.
    real = pdf._text_lines

    def slow(page, number):  # type: ignore[no-untyped-def]
        time.sleep(0.02)
        return real(page, number)

    monkeypatch.setattr(pdf, "_text_lines", slow)
    settings = Settings(sources={"read_timeout_s": 1.0})
    report = build([docs], tmp_path / "idx", settings, embedder=HashingEmbedder(32), progress=True)
    assert report.documents == 1 and not report.skipped, report.skipped
    err = capsys.readouterr().err
    assert "Reading lang.pdf" in err and "/100" in err and "page" in err
    # A page that never ends is still stopped by the budget.
    monkeypatch.setattr(pdf, "_text_lines", lambda page, number: time.sleep(30))
    long_pdf(docs / "haengt.pdf", 2)
    report = build([docs], tmp_path / "idx", settings, embedder=HashingEmbedder(32), progress=False)
    assert [Path(s.path).name for s in report.skipped] == ["haengt.pdf"]
    assert "took longer than 1 s" in report.skipped[0].reason
