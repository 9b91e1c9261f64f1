"""Laid-out text: words, lines and paragraphs → one text whose every word keeps its box and region."""

from __future__ import annotations

from pipeline.text import lexical
from pipeline.text.layout import SOFT_HYPHEN, TextBuilder, Word, furniture_lines, searchable


def w(text: str, x: float, y: float = 700.0, page: int = 1) -> Word:
    return Word(text, page, x, y, x + 6 * len(text), y + 10)


def test_words_keep_their_boxes_and_regions_leave_out_separators() -> None:
    b = TextBuilder()
    b.begin("page", 1)
    b.lines([[w("Erste", 10), w("Zeile", 50)], [w("geht", 10, 688), w("weiter.", 40, 688)]])
    b.lines([[w("Neuer", 10, 650), w("Absatz.", 50, 650)]])
    b.begin("page", 2)
    b.lines([[w("Seite", 10, 700, 2), w("zwei.", 50, 700, 2)]])
    laid = b.build()
    assert laid.text == "Erste Zeile geht weiter.\n\nNeuer Absatz.\n\nSeite zwei."
    assert [laid.text[r.start : r.end] for r in laid.regions] == ["Erste Zeile geht weiter.\n\nNeuer Absatz.",
                                                                  "Seite zwei."]
    assert [(r.unit, r.number) for r in laid.regions] == [("page", 1), ("page", 2)]
    assert [laid.text[x.start : x.end] for x in laid.boxes] == ["Erste", "Zeile", "geht", "weiter.", "Neuer",
                                                                "Absatz.", "Seite", "zwei."]
    assert laid.boxes[-1].page == 2 and laid.boxes[0].x0 == 10 and laid.boxes[2].y0 == 688


def test_a_word_broken_at_a_line_end_is_marked_and_searched_whole() -> None:
    b = TextBuilder()
    b.lines([[w("Die", 10), w("Digitali-", 40)], [w("sierung", 10, 688), w("läuft.", 70, 688)],
             [w("Nord-", 10, 676)], [w("Süd", 10, 664)]])
    text = b.build().text
    assert text == f"Die Digitali{SOFT_HYPHEN}sierung läuft. Nord- Süd"  # a capital after the hyphen: two words
    assert searchable(text) == "Die Digitalisierung läuft. Nord- Süd"
    assert "digitalisierung" in lexical.tokens(text)


def test_pdfiums_hyphen_mark_is_a_hyphen_where_the_word_is_not_joined() -> None:
    b = TextBuilder()
    b.lines([[w("den", 10), w("LoRaWA\ufffe", 40)], [w("N-Standard", 10, 688)], [w("Ende\ufffe", 10, 676)]])
    text = b.build().text
    assert text == "den LoRaWA- N-Standard Ende-" and "\ufffe" not in text


def test_plain_paragraphs_and_empty_regions() -> None:
    b = TextBuilder()
    b.begin("paragraph", 1)
    b.paragraph("  Ein   Absatz\nmit Umbruch ")
    b.begin("paragraph", 2)
    b.paragraph("   ")  # nothing written: no region
    b.begin("paragraph", 3)
    b.paragraph("Dritter.", furniture=True)
    laid = b.build()
    assert laid.text == "Ein Absatz mit Umbruch\n\nDritter."
    assert [(r.number, laid.text[r.start : r.end]) for r in laid.regions] == [(1, "Ein Absatz mit Umbruch"),
                                                                              (3, "Dritter.")]
    assert [laid.text[s.start : s.end] for s in laid.furniture] == ["Dritter."]


def test_running_headers_footers_and_page_numbers_are_furniture() -> None:
    pages = [["Jahresbericht 2025", "Inhalt A", "Seite 1 von 3"],
             ["Jahresbericht 2025", "Inhalt B", "Seite 2 von 3"],
             ["Jahresbericht 2025", "Inhalt C", "Seite 3 von 3"]]
    assert furniture_lines(pages) == {(p, i) for p in range(3) for i in (0, 2)}
    # One page: nothing repeats, but a bare page number is still one.
    assert furniture_lines([["Titel", "Text", "- 4 -"]]) == {(0, 2)}
    assert furniture_lines([["Titel", "Text"]]) == set()
