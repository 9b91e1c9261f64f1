"""PDF files → their text, with every word's page and box (pypdfium2), scanned pages through OCR.

pypdfium2 (PDFium, the PDF engine of Chromium) gives each character of a page's text layer in
content order with its box; measured against pdfplumber and pypdf in
``benchmarks/pdf_readers.py``. Lines are PDFium's own; a line whose baseline jumps is split
(PDFium joins a word hyphenated at the line end, marking the hyphen U+FFFE). Lines become
paragraphs by their spacing: a larger gap, a change of font size, a line that ends early
(a heading, a paragraph's last line) or a jump to the next column start a new one. Content
order is the order PDF writers put text in — column by column, row by row in a table — which
is the reading order of the PDFs people have; lines are not re-sorted by position.

A page without a text layer (a scan) is read by Tesseract (``ocr``) when it is installed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from . import ocr
from .layout import Laid, TextBuilder, Word, furniture_lines

# A page with fewer characters than this in its text layer is treated as scanned.
MIN_TEXT_CHARS = 20
OCR_DPI = 300


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]

    @property
    def x0(self) -> float:
        return min(w.x0 for w in self.words)

    @property
    def x1(self) -> float:
        return max(w.x1 for w in self.words)

    @property
    def y0(self) -> float:
        return min(w.y0 for w in self.words)

    @property
    def y1(self) -> float:
        return max(w.y1 for w in self.words)

    @property
    def height(self) -> float:
        return statistics.median(w.y1 - w.y0 for w in self.words)

    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class PdfText:
    """A PDF read: its laid-out text, its title from the document's properties, and what OCR did."""

    laid: Laid
    title: str | None
    date: str | None
    pages: int
    ocr_pages: int
    unread_pages: tuple[int, ...]  # scanned pages left unread (no OCR here)


def read_pdf(data: bytes, languages: str = "deu+eng") -> PdfText:
    """A PDF's bytes → its text (paragraphs separated by empty lines, pages as regions) with word boxes."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        pages: list[list[list[Line]]] = []  # page → paragraphs → lines
        heights: list[float] = []
        ocr_pages = 0
        unread: list[int] = []
        for index in range(len(pdf)):
            page = pdf[index]
            try:
                height = page.get_height()
                lines = _text_lines(page, index + 1)
                if sum(len(w.text) for line in lines for w in line.words) < MIN_TEXT_CHARS and _has_image(page):
                    if ocr.available(languages):
                        image = page.render(scale=OCR_DPI / 72).to_pil()
                        paragraphs = [[Line(tuple(ws)) for ws in para]
                                      for para in ocr.read_image(image, index + 1, OCR_DPI, height, languages)]
                        ocr_pages += bool(paragraphs)
                        pages.append(paragraphs)
                    else:
                        if not lines:
                            unread.append(index + 1)
                        pages.append(_paragraphs(lines))
                else:
                    pages.append(_paragraphs(lines))
                heights.append(height)
            finally:
                page.close()
        meta = pdf.get_metadata_dict()
    finally:
        pdf.close()
    furniture = _furniture(pages, heights)
    builder = TextBuilder()
    for p, paragraphs in enumerate(pages):
        builder.begin("page", p + 1)
        for i, para in enumerate(paragraphs):
            builder.lines([line.words for line in para], furniture=(p, i) in furniture)
    title = (meta.get("Title") or "").strip() or None
    return PdfText(builder.build(), title, _pdf_date(meta.get("CreationDate") or ""), len(pages), ocr_pages,
                   tuple(unread))


def _has_image(page) -> bool:  # type: ignore[no-untyped-def]
    """Whether a page shows an image (a scan is one); a page with little text and no image is just short."""
    import pypdfium2.raw as pdfium_c

    return any(True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2))


def _text_lines(page, number: int) -> list[Line]:  # type: ignore[no-untyped-def]
    """A PDFium page → its lines of words in content order, each word with its box."""
    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        text = textpage.get_text_range(0, n) if n else ""
        if len(text) != n:  # characters outside the BMP come as two; read them one by one
            text = "".join(textpage.get_text_range(i, 1) or " " for i in range(n))
        lines: list[Line] = []
        words: list[Word] = []
        chars: list[tuple[str, tuple[float, float, float, float]]] = []
        last: tuple[float, float, float, float] | None = None  # the previous visible character's box

        def end_word() -> None:
            if chars:
                words.append(Word("".join(c for c, _ in chars), number, min(b[0] for _, b in chars),
                                  min(b[1] for _, b in chars), max(b[2] for _, b in chars),
                                  max(b[3] for _, b in chars)))
                chars.clear()

        def end_line() -> None:
            nonlocal last
            end_word()
            if words:
                lines.append(Line(tuple(words)))
                words.clear()
            last = None

        for i, ch in enumerate(text):
            if ch in "\r\n":
                end_line()
                continue
            if ch.isspace() or ch == "\x00":
                end_word()
                continue
            box = textpage.get_charbox(i)
            size = box[3] - box[1]
            # PDFium joins a hyphenated line end with the next line: a character below the last one starts a line.
            if last is not None and size > 0 and box[3] < last[1] + 0.2 * size:
                end_line()
            if size > 0:
                last = box
            chars.append((ch, box))
            if ch == "\ufffe":
                end_word()
        end_line()
        return lines
    finally:
        textpage.close()


def _paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    """A page's lines → paragraphs: a new one at a larger gap, another font size, an early line end,
    a table row (words far apart) or a jump to another column."""
    paragraphs: list[list[Line]] = []
    for line in lines:
        if paragraphs and not _starts_paragraph(paragraphs[-1][-1], line, lines):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return paragraphs


def _starts_paragraph(prev: Line, line: Line, lines: Sequence[Line]) -> bool:
    if prev.words[-1].text.endswith(("\ufffe", "-", "\u2010")) and line.words[0].text[:1].islower():
        return False  # a word hyphenated across the line end goes on
    h = max(prev.height, line.height, 1.0)
    if line.y1 > prev.y1 + h * 0.5 or line.x0 > prev.x1:  # above the last line, or right of it: another column
        return True
    if prev.y0 - line.y1 > h * 0.9:  # a gap larger than line spacing
        return True
    if abs(prev.height - line.height) > 0.2 * h:  # another font size: a heading begins or ends
        return True
    if _is_row(prev) or _is_row(line):
        return True
    # The previous line ended well before the right edge of its column: a heading or a last line.
    right = max(other.x1 for other in lines if abs(other.x0 - prev.x0) < 3 * h)
    return right - prev.x1 > max(0.15 * (right - prev.x0), 4 * h)


def _is_row(line: Line) -> bool:
    """Words far apart on one line: cells of a table row."""
    gaps = [b.x0 - a.x1 for a, b in zip(line.words, line.words[1:])]
    return any(g > 2.5 * max(line.height, 1.0) for g in gaps)


def _furniture(pages: Sequence[Sequence[Sequence[Line]]], heights: Sequence[float]) -> set[tuple[int, int]]:
    """Paragraphs → (page, paragraph) of running headers, footers and page numbers: one-line
    paragraphs in the top or bottom eighth of the page that repeat or are a bare page number."""
    edge: list[list[str]] = []
    where: list[list[int]] = []
    for paragraphs, height in zip(pages, heights):
        texts, indices = [], []
        for i, para in enumerate(paragraphs):
            if len(para) == 1 and (para[0].y0 > height * 7 / 8 or para[0].y1 < height / 8):
                texts.append(para[0].text())
                indices.append(i)
        edge.append(texts)
        where.append(indices)
    return {(p, where[p][i]) for p, i in furniture_lines(edge)}


def _pdf_date(value: str) -> str | None:
    """A PDF date ("D:20250314…") → ISO "2025-03-14", or None."""
    digits = value[2:] if value.startswith("D:") else value
    if len(digits) >= 8 and digits[:8].isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None
