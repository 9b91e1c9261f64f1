"""Word, PowerPoint and OpenDocument files: text in document order, cited by paragraph or slide."""

from __future__ import annotations

from pathlib import Path

from files import docx_file, odt_file, pptx_file

from pipeline.embedding import HashingEmbedder
from pipeline.facade import located
from pipeline.indexing import build
from pipeline.settings import Settings
from pipeline.store import IndexReader
from pipeline.text.sources import load
from pipeline.types import Citation, SkippedFile, SourceText


def read(path: Path) -> SourceText:
    got = load(str(path), Settings().sources)
    assert isinstance(got, SourceText), got
    return got


def regions(src: SourceText) -> list[tuple[str, int, str]]:
    return [(r.unit, r.number, src.text[r.start : r.end]) for r in src.regions]


def test_docx_paragraphs_and_table_rows_in_order(tmp_path: Path) -> None:
    src = read(docx_file(tmp_path / "herne.docx"))
    assert src.format == "docx" and src.title_hint == "Hallenbad Herne"
    assert regions(src) == [
        ("paragraph", 1, "# Hallenbad Herne"),  # a heading style is a Markdown heading, as the pipeline reads them
        ("paragraph", 2, "Herne baut ein neues Hallenbad im Stadtteil Wanne. Das Bad bekommt sechs 25-Meter-Bahnen."),
        ("paragraph", 3, "| Kosten | 12 Millionen Euro |\n|---|---|\n| Eröffnung | Mai 2028 |"),  # a Markdown table
        ("paragraph", 4, "Die Stadtwerke betreiben das Bad."),
    ]


def test_pptx_slides_in_order(tmp_path: Path) -> None:
    src = read(pptx_file(tmp_path / "kassel.pptx"))
    assert src.title_hint == "Smart City Kassel"
    assert regions(src) == [
        ("slide", 1, "# Smart City Kassel\n\nKassel startet 2026 mit intelligenten Laternen in Bettenhausen."),
        ("slide", 2, "# Budget\n\nDas Laternenprojekt kostet 800.000 Euro."),
    ]


def test_odt_headings_and_paragraphs(tmp_path: Path) -> None:
    src = read(odt_file(tmp_path / "moers.odt"))
    assert src.title_hint == "Bericht Moers"
    assert [r[1:] for r in regions(src)] == [
        (1, "# Bericht Moers"), (2, "Moers eröffnet im Juni 2026 eine neue Bibliothek am Königlichen Hof."),
        (3, "Die Bibliothek hat sonntags geöffnet."),
    ]


def test_citations_name_the_paragraph_or_slide(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    docx_file(docs / "herne.docx")
    pptx_file(docs / "kassel.pptx")
    odt_file(docs / "moers.odt")
    report = build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    assert report.documents == 3 and not report.skipped
    reader = IndexReader.open(tmp_path / "idx")
    found = {}
    for doc in reader.documents():
        for sentence in ("Das Bad bekommt sechs 25-Meter-Bahnen.", "Das Laternenprojekt kostet 800.000 Euro.",
                         "Die Bibliothek hat sonntags geöffnet."):
            at = doc.text.find(sentence)
            if at >= 0:
                cite = located(Citation(1, doc.source, doc.id, "c", at, at + len(sentence), sentence, 1.0), reader)
                found[Path(doc.source).suffix] = (cite.page, cite.paragraph, cite.slide, cite.boxes)
    reader.close()
    assert found == {".docx": (None, 2, None, ()), ".pptx": (None, None, 2, ()), ".odt": (None, 3, None, ())}


def test_a_damaged_office_file_is_skipped_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "kaputt.docx").write_bytes(b"PK\x03\x04 not really a zip")
    got = load(str(tmp_path / "kaputt.docx"), Settings().sources)
    assert isinstance(got, SkippedFile)
    assert got.reason.startswith("could not be read as Word (DOCX)") and "Save it again" in got.reason
