"""Laid-out text: words with their place in a file (page and box, paragraph, slide) → one text
that keeps the map from every character back to where it came from.

The readers of PDF, Office files and scans hand their words, lines and paragraphs to a
``TextBuilder``; what it returns is the document's text (what citations point into) with
``Region`` and ``Box`` values beside it. Nothing is dropped here: running headers and footers
are marked as ``furniture`` and kept out of passages by cleaning, so offsets never move.

Structure is written as Markdown, which cleaning, chunking and answering already read:
headings as ``## …`` (from a Word style, or a PDF line set larger than the body text), tables
as Markdown tables (``| a | b |`` rows, a rule ``|---|---|`` under the first, as hand-written
Markdown has it: the same table read from a PDF and from a Markdown file then reads alike to the
embedder); the marks are the builder's own characters, without boxes.

A word broken at a line end ("Digitali-" / "sierung") is written with a soft hyphen (U+00AD)
in place of the hyphen: the text still shows where the line broke, and ``searchable`` (used
before search terms and embeddings are made) joins the word again.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..types import Box, Region, Span

SOFT_HYPHEN = "\u00ad"


def searchable(text: str) -> str:
    """Text → the same text with soft hyphens removed, so a word broken at a line end is one word."""
    return text.replace(SOFT_HYPHEN, "") if SOFT_HYPHEN in text else text


@dataclass(frozen=True)
class Word:
    """One word as a reader found it: its text and its box (PDF points, origin bottom left)."""

    text: str
    page: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class Laid:
    """The text a builder made, and its map back to the file."""

    text: str
    regions: tuple[Region, ...]
    boxes: tuple[Box, ...]
    furniture: tuple[Span, ...]


class TextBuilder:
    """Collects paragraphs (lists of words, or plain strings) into one text with regions and boxes."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._regions: list[Region] = []
        self._boxes: list[Box] = []
        self._furniture: list[Span] = []
        self._region: tuple[str, int, int] | None = None  # unit, number, start

    def _write(self, text: str) -> int:
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start

    def _separate(self) -> None:
        # Paragraphs are separated by an empty line: cleaning and chunking read one paragraph a line.
        if self._length:
            self._write("\n\n")

    def begin(self, unit: str, number: int) -> None:
        """Start page, paragraph or slide ``number``: the text written until ``end`` lies in it."""
        if self._region is not None and self._region[:2] == (unit, number):
            return  # already open: a paragraph ran on into it
        self.end()
        self._region = (unit, number, -1)

    def end(self) -> None:
        """Close the open region (a region nothing was written in is left out)."""
        if self._region is not None and 0 <= self._region[2] < self._length:
            unit, number, start = self._region
            self._regions.append(Region(start, self._length, unit, number))
        self._region = None

    def _content_starts(self) -> int:
        # The paragraph separator before a region's first paragraph is not part of the region.
        self._separate()
        if self._region is not None and self._region[2] < 0:
            self._region = (self._region[0], self._region[1], self._length)
        return self._length

    def paragraph(self, text: str, furniture: bool = False, heading: int = 0) -> None:
        """A paragraph of plain text (Office files: no boxes); ``heading`` > 0 writes it as a Markdown
        heading of that level (``## …``), as the rest of the pipeline reads headings."""
        text = " ".join(text.split())
        if not text:
            return
        self._content_starts()
        start = self._write(f"{'#' * min(heading, 6)} " if heading else "")
        self._write(text)
        if furniture:
            self._furniture.append(Span(start, self._length))

    def table(self, rows: Sequence[Sequence[str]]) -> None:
        """Table rows of cell texts → Markdown rows ``| a | b |``, one line each (Office files)."""
        rows = [[" ".join(c.split()) for c in row] for row in rows]
        rows = [row for row in rows if any(row)]
        if not rows:
            return
        self._content_starts()
        lines = ["| " + " | ".join(row) + " |" for row in rows]
        if len(lines) > 1:  # a Markdown table: its first row is the header, a rule under it
            lines.insert(1, "|" + "|".join("---" for _ in rows[0]) + "|")
        self._write("\n".join(lines))

    def lines(self, lines: Sequence[Sequence[Word]], furniture: bool = False, heading: int = 0) -> None:
        """A paragraph of lines of words (PDF, OCR): words joined by spaces, lines too, except
        that a word broken at the line end is joined to its rest by a soft hyphen; ``heading`` as
        for ``paragraph``."""
        lines = [line for line in lines if line]
        if not lines:
            return
        start = self._content_starts()
        if heading:
            self._write("#" * min(heading, 6) + " ")
        for i, line in enumerate(lines):
            for j, word in enumerate(line):
                text = word.text
                joined = j == len(line) - 1 and i < len(lines) - 1 and _broken(text, lines[i + 1][0].text)
                if joined:
                    text = text[:-1] + SOFT_HYPHEN
                self._word(word, text)
                if not (joined or (j == len(line) - 1 and i == len(lines) - 1)):
                    self._write(" ")
        if furniture:
            self._furniture.append(Span(start, self._length))

    def rows(self, rows: Sequence[Sequence[Sequence[Word]]]) -> None:
        """Table rows, each a list of cells of words (PDF, OCR) → Markdown rows ``| a | b |``, one line each."""
        rows = [row for row in rows if any(row)]
        if not rows:
            return
        self._content_starts()
        for r, row in enumerate(rows):
            if r:
                self._write("\n")
            if r == 1:  # a Markdown table: its first row is the header, a rule under it
                self._write("|" + "|".join("---" for _ in rows[0]) + "|\n")
            self._write("| ")
            for c, cell in enumerate(row):
                if c:
                    self._write(" | ")
                for k, word in enumerate(cell):
                    if k:
                        self._write(" ")
                    self._word(word, word.text)
            self._write(" |")

    def _word(self, word: Word, text: str) -> None:
        if self._region is not None and self._region[0] == "page" and self._region[1] != word.page:
            # A paragraph that goes on over a page break: the next page's region starts at this word.
            self.end()
            self._region = ("page", word.page, self._length)
        # PDFium's mark for a hyphen at a line end (U+FFFE, a noncharacter) is a hyphen where the word is not
        # joined to the next line's: "LoRaWA-" before "N-Standard", or a line that ends a column.
        at = self._write(text.replace("\ufffe", "-"))
        self._boxes.append(
            Box(
                at,
                at + len(text),
                word.page,
                round(word.x0, 2),
                round(word.y0, 2),
                round(word.x1, 2),
                round(word.y1, 2),
            )
        )

    def build(self) -> Laid:
        """Everything written → the text with its regions, boxes and furniture."""
        self.end()
        return Laid("".join(self._parts), tuple(self._regions), tuple(self._boxes), tuple(self._furniture))


def _broken(word: str, next_word: str) -> bool:
    """A word at a line end and the first word of the next line → was one word hyphenated across them?"""
    return (
        len(word) > 2
        and word.endswith(("-", "\u2010", "\ufffe", SOFT_HYPHEN))
        and word[-2].isalpha()
        and next_word[:1].islower()
    )


_NUMBER = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(r"^[\W_]*(?:seite|page|s\.|p\.)?\s*\d{1,4}(?:\s*(?:von|of|/)\s*\d{1,4})?[\W_]*$", re.I)


def furniture_lines(pages: Sequence[Sequence[str]]) -> set[tuple[int, int]]:
    """The first and last lines of every page (text only) → (page index, line index) of running
    headers, footers and page numbers: a line that, digits aside, repeats on half the pages or more
    (at least two), or a bare page number ("3", "Seite 3 von 10", "- 3 -")."""
    candidates: list[tuple[int, int, str]] = []
    for p, lines in enumerate(pages):
        ends = sorted({0, 1, len(lines) - 2, len(lines) - 1} & set(range(len(lines))))
        candidates += [(p, i, _NUMBER.sub("#", " ".join(lines[i].split()).casefold())) for i in ends]
    counts = Counter(key for _, _, key in set((p, 0, key) for p, _, key in candidates))
    need = max(2, (len(pages) + 1) // 2)
    return {
        (p, i)
        for p, i, key in candidates
        if (len(pages) > 1 and counts[key] >= need) or _PAGE_NUMBER.match(pages[p][i].strip())
    }
