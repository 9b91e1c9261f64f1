"""Word (DOCX), PowerPoint (PPTX) and OpenDocument text (ODT) files → their text by paragraph or slide.

python-docx, python-pptx and odfpy read the files' XML as the applications wrote it: paragraphs
in document order, headings (Word styles, ODF outline levels, slide titles) as Markdown headings,
tables as Markdown rows ``| a | b |``, slides in order with their shapes top to bottom. Each paragraph (DOCX, ODT) or slide (PPTX) becomes a ``Region``, so a citation
says where in the file its text is. The document's title and creation date come from its
properties when they are set.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from .layout import Laid, TextBuilder


@dataclass(frozen=True)
class OfficeText:
    laid: Laid
    title: str | None
    date: str | None


def _iso(value: Any) -> str | None:
    return value.date().isoformat() if hasattr(value, "date") and value is not None else None


def read_docx(data: bytes) -> OfficeText:
    """A DOCX file's bytes → its paragraphs and table rows, each a region numbered in document order."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    builder = TextBuilder()
    title: str | None = None
    number = 0
    for block in document.iter_inner_content():
        number += 1
        builder.begin("paragraph", number)
        if isinstance(block, Paragraph):
            style = (block.style.name if block.style is not None else "") or ""
            level = _heading_level(style)
            if title is None and level == 1:
                title = block.text.strip() or None
            builder.paragraph(block.text, heading=level)
        elif isinstance(block, Table):
            builder.table([_unique_cells(cell.text for cell in row.cells) for row in block.rows])
    props = document.core_properties
    return OfficeText(builder.build(), (props.title or "").strip() or title, _iso(props.created))


def _heading_level(style: str) -> int:
    """A Word paragraph style's name → its heading level ("Title", "Heading 2", "Überschrift 2"), 0 for body text."""
    name = style.lower()
    if name in ("title", "titel"):
        return 1
    for prefix in ("heading ", "überschrift "):
        if name.startswith(prefix) and name[len(prefix) :].strip().isdigit():
            return min(6, int(name[len(prefix) :]))
    return 0


def _unique_cells(cells: Any) -> list[str]:
    # A merged cell is reported once per grid column it spans; show it once.
    out: list[str] = []
    for text in cells:
        text = " ".join(text.split())
        if not out or out[-1] != text:
            out.append(text)
    return out


def read_pptx(data: bytes) -> OfficeText:
    """A PPTX file's bytes → the text of each slide (a region), shapes top to bottom, tables by row."""
    from pptx import Presentation

    deck = Presentation(io.BytesIO(data))
    builder = TextBuilder()
    title: str | None = None
    for number, slide in enumerate(deck.slides, start=1):
        builder.begin("slide", number)
        shapes = sorted(slide.shapes, key=lambda s: ((s.top or 0), (s.left or 0)))
        slide_title = slide.shapes.title
        for shape in shapes:
            if shape.has_text_frame:
                is_title = slide_title is not None and shape.shape_id == slide_title.shape_id
                for para in shape.text_frame.paragraphs:
                    builder.paragraph("".join(run.text for run in para.runs), heading=1 if is_title else 0)
                if title is None and number == 1 and is_title:
                    title = shape.text_frame.text.strip() or None
            elif getattr(shape, "has_table", False) and shape.has_table:
                builder.table([_unique_cells(cell.text for cell in row.cells) for row in shape.table.rows])
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            builder.paragraph(slide.notes_slide.notes_text_frame.text)
    props = deck.core_properties
    return OfficeText(builder.build(), (props.title or "").strip() or title, _iso(props.created))


def read_odt(data: bytes) -> OfficeText:
    """An ODT file's bytes → its headings, paragraphs and table rows, each a region in document order."""
    from odf import teletype
    from odf.namespaces import TABLENS, TEXTNS
    from odf.opendocument import load

    document = load(io.BytesIO(data))
    builder = TextBuilder()
    title: str | None = None
    number = 0

    def walk(node: Any) -> None:
        nonlocal number, title
        for child in node.childNodes:
            qname = getattr(child, "qname", None)
            if qname in ((TEXTNS, "p"), (TEXTNS, "h")):
                number += 1
                builder.begin("paragraph", number)
                text = teletype.extractText(child)
                level = 0
                if qname == (TEXTNS, "h"):
                    level = int(child.getAttribute("outlinelevel") or 1)
                    if title is None and text.strip():
                        title = text.strip()
                builder.paragraph(text, heading=level)
            elif qname == (TABLENS, "table"):
                number += 1
                builder.begin("paragraph", number)
                rows = [
                    [
                        teletype.extractText(c)
                        for c in row.childNodes
                        if getattr(c, "qname", None) == (TABLENS, "table-cell")
                    ]
                    for row in _descendants(child, (TABLENS, "table-row"))
                ]
                builder.table([_unique_cells(cells) for cells in rows])
            elif getattr(child, "childNodes", None):
                walk(child)

    walk(document.text)
    meta_title = None
    for el in document.meta.childNodes:
        if getattr(el, "qname", (None, None))[1] == "title":
            meta_title = teletype.extractText(el).strip() or None
    return OfficeText(builder.build(), meta_title or title, None)


def _descendants(node: Any, qname: tuple[str, str]) -> list[Any]:
    """An ODF element → its descendants of one kind, in document order (rows sit in row groups too)."""
    out = []
    for child in getattr(node, "childNodes", []):
        if getattr(child, "qname", None) == qname:
            out.append(child)
        else:
            out.extend(_descendants(child, qname))
    return out
