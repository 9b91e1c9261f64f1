"""Loading: every file becomes text or a skip with a reason; never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.settings import SourceSettings
from pipeline.text.sources import discover, load, verify_source_span
from pipeline.types import SkippedFile, SourceText

CFG = SourceSettings()


def write(path: Path, data: bytes | str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_utf8_text_is_the_raw_file(tmp_path: Path) -> None:
    p = write(tmp_path / "a.txt", "Grüße aus Duisburg.\r\nZweite Zeile.")
    src = load(p, CFG)
    assert isinstance(src, SourceText)
    assert src.encoding == "utf-8" and src.format == "text"
    assert src.text == "Grüße aus Duisburg.\r\nZweite Zeile."  # CRLF kept: offsets stay file offsets
    assert verify_source_span(p, 0, 5, "Grüße")


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty file"),
        (b"  \n\t\n ", "only whitespace"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "binary"),
    ],
)
def test_unindexable_files_are_skipped_with_reason(tmp_path: Path, data: bytes, reason: str) -> None:
    result = load(write(tmp_path / "x.txt", data), CFG)
    assert isinstance(result, SkippedFile)
    assert reason in result.reason


def test_latin1_and_cp1252_are_detected_and_decoded(tmp_path: Path) -> None:
    text = "Die Stadt Duisburg und die Größe der Straßenlaternen: „Smart City“ kostet 5 € pro Bürger. " * 3
    p = write(tmp_path / "cp.txt", text.encode("cp1252"))
    src = load(p, CFG)
    assert isinstance(src, SourceText)
    assert src.encoding != "utf-8"
    assert "Größe der Straßenlaternen" in src.text and "€" in src.text
    latin = write(tmp_path / "latin.txt", "Über die Brücke gehen Bürgerinnen und Bürger täglich. " .encode("latin-1") * 3)
    src2 = load(latin, CFG)
    assert isinstance(src2, SourceText) and "Über die Brücke" in src2.text


def test_html_goes_through_the_extractor(tmp_path: Path) -> None:
    html = """<html><head><title>Rathaus News</title><meta name="date" content="2019-04-02"></head>
    <body><nav><a href="/">Startseite</a><a href="/x">Impressum</a></nav>
    <article><h1>Neue Partnerschaft</h1>
    <p>Die Stadt Duisburg und der Konzern haben eine Zusammenarbeit vereinbart, die drei Jahre dauern soll.</p>
    <p>Geplant ist ein Innovationszentrum am Hafen, das im kommenden Jahr eröffnet werden soll.</p>
    <script>alert("nope")</script></article><footer>Cookie-Einstellungen</footer></body></html>"""
    src = load(write(tmp_path / "n.html", html), CFG)
    assert isinstance(src, SourceText) and src.format == "html"
    assert "Innovationszentrum am Hafen" in src.text
    assert "alert" not in src.text and "Startseite" not in src.text
    assert src.date_hint == "2019-04-02"


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    result = load(write(tmp_path / "e.html", "<html><body><script>x()</script></body></html>"), CFG)
    assert isinstance(result, SkippedFile) and "HTML" in result.reason


def test_too_large_is_skipped(tmp_path: Path) -> None:
    result = load(write(tmp_path / "big.txt", "a" * 3000), SourceSettings(max_file_mb=0.001))
    assert isinstance(result, SkippedFile) and "too large" in result.reason


def test_discover_walks_folders_and_explains_skips(tmp_path: Path) -> None:
    write(tmp_path / "docs" / "b.md", "# B\n\nText.")
    write(tmp_path / "docs" / "a.txt", "A.")
    write(tmp_path / "docs" / "sub" / "c.html", "<p>C</p>")
    write(tmp_path / "docs" / ".hidden.txt", "hidden")
    write(tmp_path / "docs" / "image.png", b"\x89PNG")
    write(tmp_path / "docs" / "data.json", "{}")
    os.symlink(tmp_path / "docs", tmp_path / "docs" / "sub" / "loop")  # a symlink loop is not followed
    os.symlink(tmp_path / "missing.txt", tmp_path / "docs" / "dangling.txt")
    explicit = write(tmp_path / "notes.odp", b"PK")
    found = discover([str(tmp_path / "docs"), explicit, str(tmp_path / "nowhere")], CFG)
    names = [os.path.relpath(f, tmp_path) for f in found.files]
    assert names == ["docs/a.txt", "docs/b.md", "docs/image.png", "docs/sub/c.html"]
    reasons = {os.path.basename(s.path): s.reason for s in found.skipped}
    assert reasons["notes.odp"].startswith("unsupported type (.odp); indexable types are .txt, .md")
    # A file of a type not read is listed in a folder too, never left out without a word.
    assert reasons["data.json"].startswith("unsupported type (.json)")
    assert "no such file" in reasons["nowhere"]
    assert "broken symbolic link" in reasons["dangling.txt"]


def test_paths_keep_the_form_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "seeds" / "x.txt", "X.")
    monkeypatch.chdir(tmp_path)
    assert discover(["seeds"], CFG).files == (os.path.join("seeds", "x.txt"),)


def test_utf8_with_a_few_stray_bytes_stays_utf8(tmp_path: Path) -> None:
    text = "Lübeck und Köln: Bürgerinnen grüßen die Straßenbahn. " * 4
    data = text.encode("utf-8")
    data = data[:40] + b"\xff" + data[40:90] + b"\xfe\xfd" + data[90:]
    src = load(write(tmp_path / "mostly.txt", data), CFG)
    assert isinstance(src, SourceText)
    assert "Lübeck" in src.text and "ĂĽ" not in src.text and src.text.count("\ufffd") == 3
    assert src.encoding == "utf-8, 3 invalid bytes replaced"


def test_a_stray_byte_in_ascii_reads_as_windows_text(tmp_path: Path) -> None:
    src = load(write(tmp_path / "ascii.txt", b"The council met on Monday\x85 and decided nothing. " * 3), CFG)
    assert isinstance(src, SourceText) and src.encoding == "cp1252" and "Monday…" in src.text


def test_a_cp1252_file_is_not_taken_for_broken_utf8(tmp_path: Path) -> None:
    text = "Größe, Übermaß und Bürgerbüro: die Stadtverwaltung öffnet täglich. " * 3
    src = load(write(tmp_path / "cp.txt", text.encode("cp1252")), CFG)
    assert isinstance(src, SourceText) and src.encoding == "cp1252" and src.text == text
