"""Cleaning: boilerplate out of the kept spans, metadata in, offsets untouched."""

from __future__ import annotations

import base64
import random

import pytest

from pipeline.text.cleaning import clean, detect_language, is_boilerplate
from pipeline.settings import CleaningSettings
from pipeline.text.sources import load
from pipeline.settings import SourceSettings
from pipeline.types import SourceText

from conftest import SEEDS


def seed(prefix: str):
    path = next(SEEDS.glob(prefix + "_*.txt"))
    src = load(str(path), SourceSettings())
    assert isinstance(src, SourceText)
    return clean(src, CleaningSettings())


def kept_text(doc) -> str:
    return "\n".join(s.slice(doc.text) for s in doc.kept)


@pytest.mark.parametrize(
    "prefix, gone",
    [
        ("000", ["Pressekontakt", "Patrick Berger", "Head of Media Affairs", "Phone:", "Original-Content von"]),
        ("001", ["Meistgelesen", "Neueste Artikel", "Zum Thema", "Aus dem Ressort", "(RP)"]),
        ("002", ["(bs)", "<http://www.gelsenkirchen.de>", "Stichwörter", "Deutschland, Smart City", "Bildquelle", "Quelle:"]),
        ("003", ["Anzeige", "Weitere Artikel", "Newsletter", "Jetzt Anmelden", "www.zte-deutschland.de"]),
        ("004", ["www.duisburgsmartcity.de", "www.instagram.com"]),
    ],
)
def test_boilerplate_is_not_kept(prefix: str, gone: list[str]) -> None:
    doc = seed(prefix)
    text = kept_text(doc)
    for fragment in gone:
        assert fragment not in text, fragment


def test_content_is_kept_and_spans_point_into_the_raw_text() -> None:
    doc = seed("004")
    assert "Unterzeichnet wurde diese Vereinbarung von Oberbürgermeister Sören Link" in kept_text(doc)
    assert "Bildung" in kept_text(doc)
    raw = (next(SEEDS.glob("004_*.txt"))).read_bytes().decode("utf-8")
    assert doc.text == raw
    for span in doc.kept:
        assert 0 <= span.start < span.end <= len(raw)
        assert raw[span.start : span.end] == raw[span.start : span.end].strip()


def test_press_release_keeps_its_about_section() -> None:
    # "ÜBER HUAWEI" is part of the release, not page furniture: it answers "how many employees".
    assert "180.000 Mitarbeiter" in kept_text(seed("000"))


@pytest.mark.parametrize(
    "prefix, title, date",
    [
        ("000", None, "2018-01"),
        ("001", 'Duisburg Kooperation mit Huawei: Duisburg wird "Smart City"', None),
        ("002", "Gelsenkirchen: Auf dem Weg zur digitalen Vorzeigestadt", "2016-03-22"),
        ("003", "ZTE und hessischer Städtebund vereinbaren Zusammenarbeit", None),
    ],
)
def test_title_and_date(prefix: str, title: str | None, date: str | None) -> None:
    doc = seed(prefix)
    if title:
        assert doc.title == title
    assert doc.title
    assert doc.date == date
    assert doc.lang == "de"


def test_date_marker_is_not_content() -> None:
    doc = seed("000")
    assert not kept_text(doc).startswith("date")
    assert kept_text(doc).startswith("Shenzhen (ots)")


@pytest.mark.parametrize(
    "line, expected",
    [
        ("Anzeige", True),
        ("Newsletter Box", True),
        ("Mit Klick auf den Button \"Jetzt Anmelden\" stimme ich der Datenschutzerklärung zu.", True),
        ("<https://example.org/a>", True),
        ("(dpa)", True),
        ("Foto: Stadt Duisburg", True),
        ("Die Anzeige wurde am Montag erstattet.", False),
        ("Der Newsletter der Stadt erscheint monatlich und informiert über Projekte.", False),
        ("Bildung", False),
    ],
)
def test_is_boilerplate(line: str, expected: bool) -> None:
    assert is_boilerplate(line) is expected


def test_boilerplate_can_be_kept_by_setting() -> None:
    path = next(SEEDS.glob("001_*.txt"))
    src = load(str(path), SourceSettings())
    doc = clean(src, CleaningSettings(drop_boilerplate=False))
    assert "Meistgelesen" in kept_text(doc)


def test_language() -> None:
    assert detect_language("The city and the company signed a memorandum of understanding in Shenzhen.") == "en"
    assert detect_language("Die Stadt und der Konzern unterzeichneten eine Absichtserklärung.") == "de"
    assert detect_language("42") == "und"


def md(text: str):  # type: ignore[no-untyped-def]
    return clean(SourceText(source="gen.md", text=text, sha256="x", encoding="utf-8", format="markdown"), CleaningSettings())


def test_data_uris_are_not_kept_but_the_prose_around_them_is() -> None:
    blob = base64.b64encode(random.Random(0).randbytes(375_000)).decode()  # a 500 KB image
    text = (
        "# Glasfaser für ganz Kassel\n\n"
        f"![Karte des Ausbaugebiets](data:image/png;base64,{blob})\n\n"
        'Der Ausbau beginnt im Mai ![Logo](data:image/png;base64,iVBORw0KGgo= "Logo") und endet 2027.\n'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="Punkt">\n'
        "[karte]: data:image/svg+xml;charset=utf-8;base64,PHN2Zz48L3N2Zz4=\n"
        "Bis 2027 sollen alle Haushalte angeschlossen sein.\n"
        "Die data: Sektion beschreibt metadata:image/png Felder.\n"  # mentions, not URIs
    )
    doc = md(text)
    assert doc.text == text  # nothing is edited, spans only
    kept = [s.slice(text) for s in doc.kept]
    assert kept == [
        "# Glasfaser für ganz Kassel",
        "Der Ausbau beginnt im Mai",
        "und endet 2027.",
        "Bis 2027 sollen alle Haushalte angeschlossen sein.",
        "Die data: Sektion beschreibt metadata:image/png Felder.",
    ]
    assert doc.title == "Glasfaser für ganz Kassel" and doc.lang == "de"
    # not page furniture but a file in the text: out even when boilerplate is kept
    doc = clean(SourceText(source="gen.md", text=text, sha256="x", encoding="utf-8", format="markdown"),
                CleaningSettings(drop_boilerplate=False))
    assert not any("base64" in s.slice(text) for s in doc.kept)


@pytest.mark.parametrize(
    "unit",
    ["![x](data:image/png;base64,QUJD", "<img src=data:image/png;base64,QUJD ", "[x]: data:image/png;a=b;c=d,QUJD"],
)
def test_a_megabyte_line_of_unclosed_data_uris_is_cleaned_quickly(unit: str) -> None:
    # Each failed match stops at the next place one could start; reading on to the line's end
    # instead made such a line quadratic (minutes for one megabyte).
    text = unit * (1_000_000 // len(unit))
    doc = md(text)
    assert not any("data:" in s.slice(text) for s in doc.kept)


def test_contact_blocks_are_kept_aside_and_chunked_apart() -> None:
    from pipeline.settings import ChunkingSettings
    from pipeline.text.chunking import chunk_document
    from pipeline.text.cleaning import is_contact_text

    text = ("Kassel baut Glasfaser. Die Stadt investiert 20 Millionen Euro in das Netz.\n\n"
            "Pressekontakt:\nMiriam Ostermann, Pressesprecherin\nTelefon: +49 561 787-1234\n"
            "E-Mail: presse@stadt-kassel.de\n")
    src = SourceText("k.txt", text, "x", "utf-8", "txt")
    doc = clean(src, CleaningSettings())
    aside = [s.slice(text) for s in doc.aside]
    assert aside == ["Pressekontakt:", "Miriam Ostermann, Pressesprecherin", "Telefon: +49 561 787-1234",
                     "E-Mail: presse@stadt-kassel.de"]
    assert all("Pressekontakt" not in s.slice(text) for s in doc.kept)
    chunks = chunk_document(doc, ChunkingSettings())
    contact = [c for c in chunks if is_contact_text(c.text)]
    assert contact and all("Glasfaser" not in c.text for c in contact)
    assert any("Miriam Ostermann" in c.text for c in contact) and all(text[c.start:c.end] == c.text for c in chunks)
    # Off: left out like other boilerplate.
    assert clean(src, CleaningSettings(index_contacts=False)).aside == ()
    assert not is_contact_text("Die Stadt investiert 20 Millionen Euro.\nTelefonieren ist teuer.")
