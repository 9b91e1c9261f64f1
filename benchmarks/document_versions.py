"""Text documents → the same documents as people have them: PDF (one column; two columns with a
running header, page numbers and words hyphenated at line ends), Word, and a scanned PDF.

    .venv/bin/python benchmarks/document_versions.py OUT_DIR [--docs benchmarks/eval_dev/docs]

Used by ``benchmarks/documents.py`` and ``tests/test_document_versions.py``: a question asked of
every version should get the answer it gets from the text. The text is read as belegt reads it
(HTML: its main text; Latin-1 decoded); each line becomes a paragraph, Markdown headings stay
headings and Markdown table rows become table rows (PDF: cells apart on one line; DOCX: a table).
fpdf2 writes the PDFs with DejaVu Sans (German letters), laid out here line by line so that line
ends, columns and hyphens are known; the scan is each page rendered at 200 dpi into an
image-only PDF (Pillow), with no text layer left.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
VERSIONS = ("pdf", "pdf2", "docx", "scan")  # one column; two columns + furniture + hyphens; Word; scanned
MM = 72 / 25.4
_VOWELS = set("aeiouäöüyAEIOUÄÖÜY")


@dataclass(frozen=True)
class Block:
    kind: str  # "heading", "para" or "row"
    text: str  # a row's cells joined by " | "


def blocks_of(path: Path) -> list[Block]:
    """A text, Markdown or HTML file → its blocks, as belegt reads its text."""
    from pipeline.settings import Settings
    from pipeline.text.sources import load
    from pipeline.types import SourceText

    src = load(str(path), Settings().sources)
    if not isinstance(src, SourceText):
        raise ValueError(f"{path}: {src.reason}")
    out: list[Block] = []
    for line in src.text.splitlines():
        line = line.strip()
        if not line or re.fullmatch(r"\|?[\s:|-]+\|?", line):
            continue  # blank, or a Markdown table's rule
        if line.startswith("#"):
            out.append(Block("heading", line.lstrip("#").strip()))
        elif line.startswith("|"):
            out.append(Block("row", " | ".join(c.strip() for c in line.strip("|").split("|"))))
        else:
            out.append(Block("para", line))
    return out


def _split_point(word: str, fits: int) -> int:
    """A word and how many of its characters fit before the hyphen → where to break it (0: don't)."""
    for at in range(min(fits, len(word) - 3), 2, -1):
        if word[at - 1] in _VOWELS and word[at] not in _VOWELS and word[:at].isalpha():
            return at
    return 0


def wrap(pdf, text: str, width: float, hyphenate: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """A paragraph → its lines at ``width`` (mm) in the current font; long words broken with a hyphen."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if pdf.get_string_width(trial) <= width:
            line = trial
            continue
        if hyphenate and len(word) >= 8:
            fits = max((i for i in range(len(word) + 1)
                        if pdf.get_string_width(f"{line} {word[:i]}-".strip()) <= width), default=0)
            at = _split_point(word, fits)
            if at:
                lines.append(f"{line} {word[:at]}-".strip())
                line = word[at:]
                continue
        if line:
            lines.append(line)
        line = word
    if line:
        lines.append(line)
    return lines


def write_pdf(blocks: list[Block], path: Path, title: str, columns: int = 1, furniture: bool = False,
              hyphenate: bool = False) -> Path:
    """Blocks → a PDF laid out line by line (A4; ``columns`` columns; with a running header and page
    numbers when ``furniture``; words hyphenated at line ends when ``hyphenate``)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_font("dejavu", "", FONT)
    pdf.set_title(title)
    left, top, bottom, gap = 20.0, 25.0, 272.0, 8.0
    width = (170.0 - gap * (columns - 1)) / columns
    # "top": where the columns start on this page (below a table that spans them); "left_end": where
    # the left column ended, so a table placed while in the right column goes below both.
    state = {"col": 0, "y": top, "page": 0, "top": top, "left_end": top}

    def new_page() -> None:
        pdf.add_page()
        state["page"] += 1
        state["col"], state["y"], state["top"], state["left_end"] = 0, top, top, top
        if furniture:
            size = pdf.font_size_pt
            pdf.set_font("dejavu", size=8)
            pdf.set_xy(left, 10)
            pdf.cell(0, 4, f"Dokumentation · {title[:60]}")
            pdf.set_xy(left, 282)
            pdf.cell(0, 4, f"Seite {state['page']}")
            pdf.set_font("dejavu", size=size)  # the paragraph being written goes on in its own size

    def advance(height: float) -> None:
        if state["y"] + height > bottom:
            if state["col"] + 1 < columns:
                state["left_end"] = state["y"]
                state["col"], state["y"] = state["col"] + 1, state["top"]
            else:
                new_page()

    new_page()
    for block in blocks:
        size, line_h = {"heading": (14, 7.0), "para": (11, 5.5), "row": (10, 5.0)}[block.kind]
        pdf.set_font("dejavu", size=size)
        if block.kind == "row":
            # A table spans the page's width, below what the columns hold so far; the columns go on below it.
            if columns > 1 and state["col"] > 0:
                state["y"] = max(state["y"], state["left_end"])
            if state["y"] + line_h > bottom:
                new_page()
            cells = block.text.split(" | ")
            # Each cell as wide as its text and 6 mm apart; a row too wide for the page gets a smaller font.
            while size > 6 and sum(pdf.get_string_width(c) + 6 for c in cells) > 170:
                size -= 0.5
                pdf.set_font("dejavu", size=size)
            x = left
            for cell in cells:
                pdf.set_xy(x, state["y"])
                pdf.cell(pdf.get_string_width(cell) + 1, line_h, cell)
                x += pdf.get_string_width(cell) + 6
            state["y"] += line_h + 1
            state["col"], state["top"], state["left_end"] = 0, state["y"], state["y"]
            continue
        for line in wrap(pdf, block.text, width, hyphenate and block.kind == "para"):
            advance(line_h)
            pdf.set_xy(left + state["col"] * (width + gap), state["y"])
            pdf.cell(width, line_h, line)
            state["y"] += line_h
        state["y"] += 3.0
    pdf.output(str(path))
    return path


def write_docx(blocks: list[Block], path: Path, title: str) -> Path:
    """Blocks → a Word file: headings as headings, paragraphs, consecutive rows as one table."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    i = 0
    while i < len(blocks):
        block = blocks[i]
        if block.kind == "row":
            rows = []
            while i < len(blocks) and blocks[i].kind == "row":
                rows.append(blocks[i].text.split(" | "))
                i += 1
            table = document.add_table(rows=len(rows), cols=max(map(len, rows)))
            for r, cells in enumerate(rows):
                for c, text in enumerate(cells):
                    table.cell(r, c).text = text
            continue
        if block.kind == "heading":
            document.add_heading(block.text, 1)
        else:
            document.add_paragraph(block.text)
        i += 1
    document.save(str(path))
    return path


def write_scan(pdf_path: Path, path: Path, dpi: int = 200) -> Path:
    """A PDF → an image-only PDF of its pages rendered at ``dpi`` in grey, as a scanner makes one."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf_path))
    images = [document[i].render(scale=dpi / 72).to_pil().convert("L") for i in range(len(document))]
    document.close()
    images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi)
    return path


def write_versions(source: Path, out: Path, versions: tuple[str, ...] = VERSIONS) -> dict[str, Path]:
    """One text document → its versions in ``out/<version>/`` (same stem), by version name."""
    blocks = blocks_of(source)
    title = next((b.text for b in blocks if b.kind in ("heading", "para")), source.stem)
    made: dict[str, Path] = {}
    for version in versions:
        folder = out / version
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (source.stem + (".docx" if version == "docx" else ".pdf"))
        if version == "pdf":
            made[version] = write_pdf(blocks, target, title)
        elif version == "pdf2":
            made[version] = write_pdf(blocks, target, title, columns=2, furniture=True, hyphenate=True)
        elif version == "docx":
            made[version] = write_docx(blocks, target, title)
        elif version == "scan":
            plain = write_pdf(blocks, out / f".{source.stem}.plain.pdf", title)
            made[version] = write_scan(plain, target)
            plain.unlink()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--docs", type=Path, default=ROOT / "benchmarks" / "eval_dev" / "docs")
    args = parser.parse_args()
    for source in sorted(args.docs.iterdir()):
        for version, path in write_versions(source, args.out).items():
            print(version, path)


if __name__ == "__main__":
    main()
