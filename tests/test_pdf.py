"""PDF files: text in reading order, page furniture kept out of passages, every cited word on its page."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ALWAYS_ANSWER
from files import HEADER, LEFT, RIGHT, interleaved_columns_pdf, table_pdf, two_column_pdf

from pipeline.embedding import HashingEmbedder
from pipeline.facade import located, open_index
from pipeline.indexing import build
from pipeline.settings import Settings
from pipeline.store import IndexReader
from pipeline.text import lexical
from pipeline.text.chunking import blocks
from pipeline.text.cleaning import clean
from pipeline.text.sources import load
from pipeline.types import Citation, SkippedFile, SourceText

MM = 72 / 25.4  # PDF points per millimetre
PAGE_HEIGHT = 297 * MM
SIGNED = "Unterzeichnet wurde die Erklärung im Juli 2018 von Bürgermeister Hans Muster und der Firma Beispiel AG."


def read(path: Path) -> SourceText:
    got = load(str(path), Settings().sources)
    assert isinstance(got, SourceText), got
    return got


def test_two_columns_are_read_column_by_column_with_whole_sentences(tmp_path: Path) -> None:
    src = read(two_column_pdf(tmp_path / "bericht.pdf", pages=1))
    assert src.format == "pdf" and src.title_hint == "Jahresbericht Musterstadt"
    text = src.text
    assert SIGNED in text and RIGHT in text  # lines joined into sentences, each column whole
    assert text.index(SIGNED) < text.index("Rechte Spalte")
    assert "digitalisierung" in lexical.tokens(text)  # "Digitali-" + "sierung" found as one word


def test_headers_footers_and_page_numbers_are_not_passages(tmp_path: Path) -> None:
    src = read(two_column_pdf(tmp_path / "bericht.pdf", pages=3))
    furniture = {src.text[s.start : s.end] for s in src.furniture}
    assert furniture == {HEADER, "Seite 1", "Seite 2", "Seite 3"}
    doc = clean(src, Settings().cleaning)
    kept = "\n".join(s.slice(doc.text) for s in doc.kept)
    assert HEADER not in kept and "Seite 2" not in kept and kept.count(SIGNED) == 3
    # Nothing is cut out of the text: offsets still lead to the file's words.
    assert doc.text == src.text and doc.text.count(HEADER) == 3


def test_every_word_has_its_page_and_box(tmp_path: Path) -> None:
    src = read(two_column_pdf(tmp_path / "bericht.pdf", pages=2))
    # Each page's body, then each page's furniture (written after the body), in its page's region.
    assert [(r.unit, r.number) for r in src.regions] == [("page", 1), ("page", 2), ("page", 1), ("page", 2)]
    second = src.text.index(SIGNED, src.text.index(SIGNED) + 1)
    assert src.regions[1].start <= second < src.regions[1].end
    for box in src.boxes:
        word = src.text[box.start : box.end]
        assert word and " " not in word and box.x0 < box.x1 and box.y0 < box.y1
    signed_words = [b for b in src.boxes if src.text[b.start : b.end] == "Unterzeichnet"]
    assert [b.page for b in signed_words] == [1, 2]
    right_words = [b for b in src.boxes if src.text[b.start : b.end] == "Glasfasernetz"]
    for b in signed_words:  # left column, below the 25 mm top margin
        assert 10 * MM - 1 <= b.x0 and b.x1 <= 98 * MM + 1 and b.y1 <= PAGE_HEIGHT - 25 * MM + 1
    for b in right_words:
        assert b.x0 >= 110 * MM - 1


def test_a_citation_into_a_pdf_carries_page_and_line_boxes(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    two_column_pdf(docs / "bericht.pdf", pages=2)
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    doc = reader.documents()[0]
    second = doc.text.index(SIGNED, doc.text.index(SIGNED) + 1)
    cite = located(Citation(1, doc.source, doc.id, "c", second, second + len(SIGNED), SIGNED, 1.0), reader)
    assert cite.page == 2 and cite.paragraph is None and cite.slide is None
    assert len(cite.boxes) >= 2  # the sentence runs over several lines: a box per line
    assert all(b[0] == 2 and 10 * MM - 1 <= b[1] and b[3] <= 98 * MM + 1 for b in cite.boxes)
    assert sorted((b[2] for b in cite.boxes), reverse=True) == [b[2] for b in cite.boxes]  # top line first
    # Later builds carry the layout of an unchanged PDF over.
    (docs / "neu.txt").write_text("Ein weiterer Text über Moers.", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    reader.close()
    reader = IndexReader.open(tmp_path / "idx")
    assert located(cite, reader).boxes == cite.boxes
    reader.close()


def test_ask_json_names_the_page(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    two_column_pdf(docs / "bericht.pdf", pages=1)
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    index = open_index(tmp_path / "idx", ALWAYS_ANSWER, embedder=HashingEmbedder(32))
    answer = index.ask("Wer unterzeichnete die Erklärung im Juli 2018?")
    index.close()
    assert answer.citations
    for c in answer.to_dict()["citations"]:
        assert c["page"] == 1 and c["boxes"] and c["paragraph"] is None


def test_damaged_pdf_and_unknown_types_are_skipped_with_reasons(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "kaputt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj garbage")
    (docs / "daten.xyz").write_text("x", "utf-8")
    (docs / "ok.txt").write_text("Die Stadt Moers baut ein Netz.", "utf-8")
    report = build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["kaputt.pdf"].startswith("could not be read as PDF") and "damaged" in reasons["kaputt.pdf"]
    assert reasons["daten.xyz"].startswith("unsupported type (.xyz)")
    assert report.documents == 1
    skipped = load(str(docs / "kaputt.pdf"), Settings().sources)
    assert isinstance(skipped, SkippedFile)


@pytest.mark.parametrize("name", ["leer.pdf"])
def test_a_pdf_without_text_or_images_is_skipped(tmp_path: Path, name: str) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(tmp_path / name))
    got = load(str(tmp_path / name), Settings().sources)
    assert isinstance(got, SkippedFile) and got.reason == "no text found in this PDF"


def test_columns_written_line_by_line_across_the_page_are_read_column_by_column(tmp_path: Path) -> None:
    left = LEFT.replace("-\n", "")
    src = read(interleaved_columns_pdf(tmp_path / "zeilen.pdf", left, RIGHT, "Ein Bericht über beide Spalten"))
    assert src.text == f"Ein Bericht über beide Spalten\n\n{left}\n\n{RIGHT}"


def test_a_two_column_table_stays_row_by_row(tmp_path: Path) -> None:
    rows = [("Kosten", "12 Millionen Euro"), ("Eröffnung", "Mai 2028"), ("Bauherr", "Stadt Herne"),
            ("Bahnen", "sechs 25-Meter-Bahnen"), ("Betreiber", "Stadtwerke Herne GmbH")]
    src = read(table_pdf(tmp_path / "tabelle.pdf", rows))
    lines = [f"| {a} | {b} |" for a, b in rows]
    assert src.text == "\n".join([lines[0], "|---|---|", *lines[1:]])


def test_furniture_does_not_stand_between_two_pages_paragraphs(tmp_path: Path) -> None:
    # Running headers, footers and page numbers are written after the body, each in its page's region:
    # page 1's last paragraph and page 2's first are neighbours, and chunks may span the page break.
    src = read(two_column_pdf(tmp_path / "bericht.pdf", pages=2))
    body_end = max(b.end for b in src.boxes if not any(f.start <= b.start < f.end for f in src.furniture))
    assert all(f.start > body_end for f in src.furniture)
    end_of_1 = src.text.index("im Herbst.") + len("im Herbst.")
    assert src.text[end_of_1:].startswith("\n\nDie Digitali\u00adsierung")
    pages = {(b.start, b.page) for b in src.boxes}
    assert {page for start, page in pages if start < end_of_1} == {1}
    assert {page for start, page in pages if end_of_1 < start < body_end} == {2}
    furniture_pages = [next(r.number for r in src.regions if r.start <= f.start < r.end) for f in src.furniture]
    assert furniture_pages == [1, 1, 2, 2]
    doc = clean(src, Settings().cleaning)
    assert len(blocks(doc)) == 1  # nothing removed between the pages: one run for chunking


def test_a_one_page_documents_header_in_the_top_margin_is_furniture(tmp_path: Path) -> None:
    # One page: nothing repeats, but the header sits alone in the top margin, smaller than the body.
    src = read(two_column_pdf(tmp_path / "bericht.pdf", pages=1))
    assert {src.text[s.start : s.end] for s in src.furniture} == {HEADER, "Seite 1"}
    doc = clean(src, Settings().cleaning)
    kept = "\n".join(s.slice(doc.text) for s in doc.kept)
    assert HEADER not in kept and SIGNED in kept


def test_a_small_first_line_close_above_the_body_is_content(tmp_path: Path) -> None:
    from files import FONT
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=8)
    pdf.set_xy(20, 15)  # in the top margin and smaller than the body, but a line's distance above it
    pdf.cell(0, 4, "Pressemitteilung der Stadt Musterstadt")
    pdf.set_font("dejavu", size=11)
    pdf.set_xy(20, 20)
    pdf.multi_cell(170, 6, RIGHT + " " + SIGNED)
    pdf.output(str(tmp_path / "kurz.pdf"))
    src = read(tmp_path / "kurz.pdf")
    assert "Pressemitteilung der Stadt Musterstadt" in src.text and not src.furniture


def test_a_numbered_heading_is_a_heading_and_a_numbered_list_item_is_not(tmp_path: Path) -> None:
    from files import FONT
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("dejavu", "", FONT)
    y = 20.0
    for size, text in [(14, "1. Ausgangslage"), (11, RIGHT), (11, "1. Die Stadt baut das Netz."),
                       (11, "2. Die Arbeiten beginnen im Herbst."), (14, "2. Risiken"), (11, SIGNED)]:
        pdf.set_font("dejavu", size=size)
        pdf.set_xy(20, y)
        pdf.multi_cell(170, size * 0.5, text)
        y = pdf.get_y() + 4
    pdf.output(str(tmp_path / "bericht.pdf"))
    paragraphs = read(tmp_path / "bericht.pdf").text.split("\n\n")
    assert "## 1. Ausgangslage" in paragraphs and "## 2. Risiken" in paragraphs
    assert "1. Die Stadt baut das Netz." in paragraphs and "2. Die Arbeiten beginnen im Herbst." in paragraphs
