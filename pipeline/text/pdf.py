"""PDF files → their text, with every word's page and box (pypdfium2), scanned pages through OCR.

pypdfium2 (PDFium, the PDF engine of Chromium) gives each character of a page's text layer in
content order with its box; measured against pdfplumber and pypdf in
``benchmarks/pdf_readers.py``. Lines are PDFium's own; a line whose baseline jumps is split
(PDFium joins a word hyphenated at the line end, marking the hyphen U+FFFE). Lines become
paragraphs by their spacing: a larger gap, a change of font size, a line that ends although
the next line's first word would have fit (a heading, a paragraph's last line), a table row
or a jump to the next column start a new one. Content
order is the order PDF writers put text in — column by column, row by row in a table — which
is the reading order of the PDFs people have; lines are not re-sorted by position.

A page without a text layer (a scan) is read by Tesseract (``ocr``) when it is installed.
"""
# Size: a little over 400 lines on purpose. One page's way from PDFium's characters to text — words, lines,
# columns, paragraphs, furniture, headings, table rows — is one chain of small steps, each reading the one
# before; the word and text building (layout.py) and OCR (ocr.py) live apart.

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import ocr
from .layout import Laid, TextBuilder, Word, furniture_lines

if TYPE_CHECKING:
    from pypdfium2 import PdfPage  # pypdfium2 ships no type hints: Any to mypy, named for the reader

# Called after each page with (pages read, pages in all); the build's reader shows it as progress.
on_page: Callable[[int, int], None] | None = None
# A page with fewer characters than this in its text layer is treated as scanned.
MIN_TEXT_CHARS = 20
OCR_DPI = 300


# A line break (PDFium writes \r\n), or a word: what is neither space nor NUL, ending at a U+FFFE
# (PDFium's mark for a hyphen at a line end, after which the word goes on in the next line).
_TOKENS = re.compile(r"(\r\n|\r|\n)|[^\s\x00\ufffe]+\ufffe?|\ufffe")


@dataclass(frozen=True)
class Line:
    """A line of words, with its box and text height (the median word height) worked out once."""

    words: tuple[Word, ...]
    x0: float
    y0: float
    x1: float
    y1: float
    height: float
    row: bool  # words far apart: the cells of a table row

    @staticmethod
    def of(words: Sequence[Word]) -> Line:
        words = tuple(words)
        height = statistics.median([w.y1 - w.y0 for w in words])
        # Cells are far apart by the line's tallest word: OCR boxes are tight, "ist einer zu viel" is short.
        gap = _CELL_GAP * max(max(w.y1 - w.y0 for w in words), 1.0)
        return Line(
            words,
            min(w.x0 for w in words),
            min(w.y0 for w in words),
            max(w.x1 for w in words),
            max(w.y1 for w in words),
            height,
            any(b.x0 - a.x1 > gap for a, b in zip(words, words[1:])),
        )

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
                scan_dpi = (
                    _scan_dpi(page) if sum(len(w.text) for line in lines for w in line.words) < MIN_TEXT_CHARS else 0
                )
                if scan_dpi:
                    if ocr.available(languages):
                        # The scan's own resolution (more pixels than it has add time, not letters), at least
                        # 150 and at most 300 dpi, and less for a page so large it would exceed what OCR reads.
                        dpi = min(
                            max(150.0, min(OCR_DPI, scan_dpi)),
                            72 * (ocr.MAX_PIXELS / (page.get_width() * height)) ** 0.5,
                        )
                        image = page.render(scale=dpi / 72).to_pil()
                        # Tesseract's paragraphs, each split as a text layer's lines are (a contact block's
                        # short lines, a heading, a table row each stand alone).
                        paragraphs = [
                            split
                            for para in ocr.read_image(image, index + 1, dpi, height, languages)
                            for split in _paragraphs([Line.of(ws) for ws in para])
                        ]
                        ocr_pages += bool(paragraphs)
                        pages.append(paragraphs)
                    else:
                        if not lines:
                            unread.append(index + 1)
                        pages.append(_paragraphs(lines))
                else:
                    pages.append(_paragraphs(_columns(lines)))
                heights.append(height)
            finally:
                page.close()
            if on_page is not None:
                on_page(index + 1, len(pdf))
        meta = pdf.get_metadata_dict()
    finally:
        pdf.close()
    laid = _laid_out(pages, heights)
    title = (meta.get("Title") or "").strip() or None
    return PdfText(laid, title, _pdf_date(meta.get("CreationDate") or ""), len(pages), ocr_pages, tuple(unread))


def _laid_out(pages: Sequence[Sequence[Sequence[Line]]], heights: Sequence[float]) -> Laid:
    """Pages of paragraphs of lines → the document's text: headings and tables written as Markdown, a
    paragraph that runs on over a page break written once, where it starts, and the furniture (running
    headers, footers, page numbers) marked and written after the body, each in its page's region, so
    nothing stands between the last paragraph of a page and the first of the next."""
    body = _body_height(pages)
    furniture = _furniture(pages, heights) | _margin_headers(pages, heights, body)
    builder = TextBuilder()
    pending: Sequence[Line] | None = None  # a paragraph that may go on at the top of the next page
    margins: list[tuple[int, Sequence[Line]]] = []  # the furniture, written last
    for p, paragraphs in enumerate(pages):
        content = [i for i in range(len(paragraphs)) if (p, i) not in furniture]
        joined = None
        if (
            pending is not None
            and content
            and _runs_on(pending, paragraphs[content[0]][0], [line for para in pages[p - 1] for line in para])
        ):
            joined = content[0]  # one paragraph over the page break, written where it starts
            builder.lines([line.words for line in [*pending, *paragraphs[joined]]])
        elif pending is not None:
            builder.lines([line.words for line in pending], heading=_heading_level(pending, body))
        pending = None
        builder.begin("page", p + 1)
        table: list[Line] = []  # consecutive table rows, written together
        for i, para in enumerate(paragraphs):
            if (p, i) in furniture:
                margins.append((p, para))
                continue
            if i == joined:
                continue
            if len(para) == 1 and _is_row(para[0]):
                table.append(para[0])
                continue
            if table:
                builder.rows([_cells(row) for row in table])
                table = []
            if content and i == content[-1] and p + 1 < len(pages):
                pending = para  # written with the next page's first paragraph, or alone
                continue
            builder.lines([line.words for line in para], heading=_heading_level(para, body))
        if table:
            builder.rows([_cells(row) for row in table])
    if pending is not None:
        builder.lines([line.words for line in pending])
    for p, para in margins:
        builder.begin("page", p + 1)
        builder.lines([line.words for line in para], furniture=True)
    return builder.build()


def _scan_dpi(page: PdfPage) -> float:
    """A page → the resolution of the largest image on it in dots per inch (0: no image, so a page with
    little text is just short, not scanned)."""
    import pypdfium2.raw as pdfium_c

    best = 0.0
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
        width_px, _ = image.get_px_size()
        left, _, right, _ = image.get_bounds()
        if right > left:
            best = max(best, width_px / ((right - left) / 72))
    return best


def _text_lines(page: PdfPage, number: int) -> list[Line]:
    """A PDFium page → its lines of words in content order, each word with its box."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    textpage = page.get_textpage()
    try:
        n = textpage.count_chars()
        text = textpage.get_text_range(0, n) if n else ""
        if len(text) != n:  # characters outside the BMP come as two; read them one by one
            text = "".join(textpage.get_text_range(i, 1) or " " for i in range(n))
        lines: list[Line] = []
        words: list[Word] = []
        bottom_before: float | None = None  # the previous word's bottom and top
        top_before = 0.0
        # PDFium's call without pypdfium2's wrapper, for the first and last character of each word only:
        # a word's characters share a line, so those two give its box (a call per character cost 3×).
        rect = pdfium_c.FS_RECTF()
        loose_box = pdfium_c.FPDFText_GetLooseCharBox
        raw, rect_ref = textpage.raw, ctypes.byref(rect)

        def end_line() -> None:
            nonlocal bottom_before
            if words:
                lines.append(Line.of(words))
                words.clear()
            bottom_before = None

        for token in _TOKENS.finditer(text):
            if token.group(1):  # PDFium's line break
                end_line()
                continue
            first, last = token.start(), token.end() - 1
            if text[last] == "\ufffe" and last > first:
                last -= 1  # the box of PDFium's hyphen mark is not always where the hyphen is
            loose_box(raw, first, rect_ref)  # the font's ascent to descent: lines of even height
            left, bottom, top = rect.left, rect.bottom, rect.top
            loose_box(raw, last, rect_ref)
            right, bottom, top = rect.right, min(bottom, rect.bottom), max(top, rect.top)
            size = top - bottom
            # PDFium joins a hyphenated line end with the next line, even at the top of the next column: a
            # word below the last one, or above it, starts a line.
            if (
                bottom_before is not None
                and size > 0
                and (top < bottom_before + 0.2 * size or bottom > top_before - 0.2 * size)
            ):
                end_line()
            if size > 0:
                bottom_before, top_before = bottom, top
            words.append(Word(token.group(), number, left, bottom, right, top))
        end_line()
        return lines
    finally:
        textpage.close()


def _columns(lines: Sequence[Line]) -> list[Line]:
    """A page's lines → the same in reading order when its two columns were written line by line across
    the page (each PDFium line then holds a left and a right part far apart): the left parts first, then
    the right ones, section by section between lines that span both columns. Other pages are unchanged."""
    split = [(line, _cells(line)) for line in lines]
    two = [(line, cells) for line, cells in split if len(cells) == 2 and min(map(len, cells)) >= 2]
    if len(two) < 3 or len(two) < 0.5 * len(lines):
        return list(lines)
    # Columns of prose fill their width line after line; the cells of a two-column table do not.
    for side in (0, 1):
        widths = [cells[side][-1].x1 - cells[side][0].x0 for _, cells in two]
        if sum(w >= 0.75 * max(widths) for w in widths) < 0.6 * len(widths):
            return list(lines)
    gaps = sorted((cells[0][-1].x1 + cells[1][0].x0) / 2 for _, cells in two)
    middle = gaps[len(gaps) // 2]
    if sum(abs(g - middle) < 2 * two[0][0].height for g in gaps) < 0.8 * len(gaps):
        return list(lines)  # the gaps do not line up: a table, not two columns
    out: list[Line] = []
    left: list[Line] = []
    right: list[Line] = []
    for line, cells in split:
        if len(cells) == 2 and cells[0][-1].x1 < middle < cells[1][0].x0:
            left.append(Line.of(cells[0]))
            right.append(Line.of(cells[1]))
        elif line.x1 < middle:
            left.append(line)
        elif line.x0 > middle:
            right.append(line)
        else:  # a line across both columns ends a section
            out += left + right + [line]
            left, right = [], []
    return out + left + right


def _paragraphs(lines: Sequence[Line]) -> list[list[Line]]:
    """A page's lines → paragraphs: a new one at a larger gap, another font size, an early line end,
    a table row (words far apart) or a jump to another column."""
    # The page's usual distance from one line to the next (its leading): a paragraph gap is larger.
    pitches = [
        a.y0 - b.y0
        for a, b in zip(lines, lines[1:])
        if 0 < a.y0 - b.y0 < 3 * max(a.height, b.height) and abs(a.height - b.height) < 0.2 * a.height
    ]
    pitch = statistics.median(pitches) if pitches else None
    paragraphs: list[list[Line]] = []
    for i, line in enumerate(lines):
        # The column's right edge is read from the lines around (a table or a full-width line elsewhere
        # on the page would make every line of a column look short).
        near = [other for other in lines[max(0, i - 6) : i + 6] if not _is_row(other)]
        if paragraphs and not _starts_paragraph(paragraphs[-1][-1], line, near, pitch):
            paragraphs[-1].append(line)
        else:
            paragraphs.append([line])
    return paragraphs


def _starts_paragraph(prev: Line, line: Line, near: Sequence[Line], pitch: float | None) -> bool:
    if prev.words[-1].text.endswith(("\ufffe", "-", "\u2010")) and line.words[0].text[:1].islower():
        return False  # a word hyphenated across the line end goes on
    h = max(prev.height, line.height, 1.0)
    if line.y1 > prev.y1 + h * 0.5 or line.x0 > prev.x1:  # above the last line, or right of it: another column
        return not _runs_on(prev, line, near)
    if prev.y0 - line.y0 > (1.3 * pitch if pitch else 2.2 * h):  # more space than from line to line
        return True
    if abs(prev.height - line.height) > 0.2 * h:  # another font size: a heading begins or ends
        return True
    if _is_row(prev) or _is_row(line):
        return True
    # The previous line ended although the next line's first word would have fit after it: it ended a
    # paragraph or is a heading. (A ragged line ends early only because that word did not fit.)
    # Its column's right edge: the upper quartile of the nearby lines' ends (a line across the page, such
    # as a heading over two columns, is one of them and must not count as the edge).
    ends = sorted(
        other.x1 for other in near if abs(other.x0 - prev.x0) < 3 * h and abs(other.height - prev.height) < 0.2 * h
    )
    right = max(prev.x1, ends[(3 * len(ends)) // 4] if ends else prev.x1)
    first = line.words[0]
    return right - prev.x1 > (first.x1 - first.x0) + 0.6 * h


def _runs_on(prev: Line | Sequence[Line], line: Line, near: Sequence[Line] = ()) -> bool:
    """The last line of a column or page (or its paragraph's lines) and the first line of the next →
    does the paragraph go on there? It does when the last line was cut by the column's end (the next
    line's first word would not have fit after it), ends without a sentence's end and the font stays."""
    lines = list(prev) if isinstance(prev, Sequence) else [prev]
    last = lines[-1]
    text = last.words[-1].text
    if text.endswith(tuple(".!?:;")) or _is_row(last) or _is_row(line):
        return False
    if abs(last.height - line.height) > 0.2 * max(last.height, line.height, 1.0):
        return False
    widths = sorted(
        other.x1 - other.x0
        for other in [*lines, *near]
        if abs(other.x0 - last.x0) < 3 * last.height and abs(other.height - last.height) < 0.2 * last.height
    )
    if len(widths) < 2:
        return False
    # Cut by the column's end: the next line's first word would not have fit after it.
    first = line.words[0]
    return widths[(3 * len(widths)) // 4] - (last.x1 - last.x0) <= (first.x1 - first.x0) + 0.6 * last.height


def _body_height(pages: Sequence[Sequence[Sequence[Line]]]) -> float:
    """The height of the document's body text: the line height most of its characters are set in."""
    sizes: dict[float, int] = {}
    for paragraphs in pages:
        for para in paragraphs:
            for line in para:
                key = round(line.height, 1)
                sizes[key] = sizes.get(key, 0) + sum(len(w.text) for w in line.words)
    return max(sizes, key=lambda k: sizes[k]) if sizes else 0.0


def _heading_level(para: Sequence[Line], body: float) -> int:
    """A paragraph → 1 or 2 when it is a heading (a few short lines set larger than the body), else 0."""
    if not body or len(para) > 3 or sum(len(w.text) + 1 for line in para for w in line.words) > 200:
        return 0
    marker = _LIST_ITEM.match(para[0].words[0].text)
    if marker and not marker.group(2):
        return 0  # a bulleted list item, however tall its bullet
    if marker:  # a number: a numbered heading ("1. Ausgangslage") or list item, told apart by its words' size
        words = [w for line in para for w in line.words][1:]
        if not words:
            return 0
        size = statistics.median(w.y1 - w.y0 for w in words)
    else:
        size = statistics.median(line.height for line in para)
    return 1 if size >= 1.6 * body else 2 if size >= 1.15 * body else 0


def _cells(line: Line) -> list[list[Word]]:
    """A table row → its cells: words split where they stand far apart."""
    cells: list[list[Word]] = [[line.words[0]]]
    for a, b in zip(line.words, line.words[1:]):
        if b.x0 - a.x1 > _CELL_GAP * max(line.height, 1.0):
            cells.append([])
        cells[-1].append(b)
    return cells


_CELL_GAP = 1.2  # a gap wider than this many line heights separates table cells
_LIST_ITEM = re.compile(r"^([-–•*▪◦]|(\d{1,3}[.)]))$")  # a list item's marker, a word of its own


def _is_row(line: Line) -> bool:
    """Words far apart on one line: cells of a table row."""
    return line.row


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


def _margin_headers(
    pages: Sequence[Sequence[Sequence[Line]]], heights: Sequence[float], body: float
) -> set[tuple[int, int]]:
    """Paragraphs → (page, paragraph) of running headers told apart without repetition (on a one-page
    document, or a header that names each page's chapter): a single line in the top eighth of the page,
    above all its other text, set smaller than the body and far above the next line (the top margin)."""
    found: set[tuple[int, int]] = set()
    for p, (paragraphs, height) in enumerate(zip(pages, heights)):
        tops = sorted(((para[0].y0, i) for i, para in enumerate(paragraphs)), reverse=True)
        if len(tops) < 2 or not body:
            continue
        i = tops[0][1]
        line = paragraphs[i][0]
        below = max(other.y1 for j, para in enumerate(paragraphs) if j != i for other in para)
        if (
            len(paragraphs[i]) == 1
            and line.y0 > height * 7 / 8
            and line.height < 0.9 * body
            and line.y0 - below > 1.5 * body
        ):
            found.add((p, i))
    return found


def _pdf_date(value: str) -> str | None:
    """A PDF date ("D:20250314…") → ISO "2025-03-14", or None."""
    digits = value[2:] if value.startswith("D:") else value
    if len(digits) >= 8 and digits[:8].isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    return None
