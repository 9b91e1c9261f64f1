"""Writers of the PDF, Office and scanned files the tests read (made at test time; none is committed)."""

from __future__ import annotations

from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LEFT = ("Die Digitali-\nsierung der Verwaltung in Musterstadt kommt voran, wie der Bericht zeigt. Unterzeichnet "
        "wurde die Erklärung im Juli 2018 von Bürgermeister Hans Muster und der Firma Beispiel AG.")
RIGHT = ("Rechte Spalte: Das neue Glasfasernetz kostet 4,5 Millionen Euro und soll im März 2027 fertig sein. "
         "Die Arbeiten beginnen im Herbst.")
HEADER = "Stadt Musterstadt · Jahresbericht 2025"


def two_column_pdf(path: Path, pages: int = 2) -> Path:
    """A PDF of ``pages`` pages: a running header, two text columns (LEFT at x 10–98 mm, RIGHT at
    110–198 mm, from y 25 mm), and the page number in the footer."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_font("dejavu", "", FONT)
    pdf.set_title("Jahresbericht Musterstadt")
    for page in range(pages):
        pdf.add_page()
        pdf.set_font("dejavu", size=9)
        pdf.set_xy(10, 8)
        pdf.cell(0, 5, HEADER)
        pdf.set_font("dejavu", size=11)
        pdf.set_xy(10, 25)
        pdf.multi_cell(88, 6, LEFT)
        pdf.set_xy(110, 25)
        pdf.multi_cell(88, 6, RIGHT)
        pdf.set_font("dejavu", size=9)
        pdf.set_xy(10, 285)
        pdf.cell(0, 5, f"Seite {page + 1}")
    pdf.output(str(path))
    return path


def scan(pdf_path: Path, image_path: Path, dpi: int = 300) -> Path:
    """A PDF's first page → an image of it (PNG, or an image-only PDF for a ``.pdf`` name), as a scanner makes."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(pdf_path))
    image = document[0].render(scale=dpi / 72).to_pil().convert("L")
    document.close()
    if image_path.suffix == ".pdf":
        image.save(image_path, resolution=dpi)
    else:
        image.save(image_path, dpi=(dpi, dpi))
    return image_path


def docx_file(path: Path) -> Path:
    """A Word file: a heading, a paragraph, a two-row table, a closing paragraph."""
    import docx

    document = docx.Document()
    document.core_properties.title = "Hallenbad Herne"
    document.add_heading("Hallenbad Herne", 1)
    document.add_paragraph("Herne baut ein neues Hallenbad im Stadtteil Wanne. Das Bad bekommt sechs 25-Meter-Bahnen.")
    table = document.add_table(rows=2, cols=2)
    for r, (a, b) in enumerate([("Kosten", "12 Millionen Euro"), ("Eröffnung", "Mai 2028")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    document.add_paragraph("Die Stadtwerke betreiben das Bad.")
    document.save(str(path))
    return path


def pptx_file(path: Path) -> Path:
    """A PowerPoint file of two slides, each a title and a text."""
    import pptx

    deck = pptx.Presentation()
    for title, text in [("Smart City Kassel", "Kassel startet 2026 mit intelligenten Laternen in Bettenhausen."),
                        ("Budget", "Das Laternenprojekt kostet 800.000 Euro.")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = text
    deck.save(str(path))
    return path


def odt_file(path: Path) -> Path:
    """An OpenDocument text: a heading and two paragraphs."""
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Bericht Moers"))
    document.text.addElement(P(text="Moers eröffnet im Juni 2026 eine neue Bibliothek am Königlichen Hof."))
    document.text.addElement(P(text="Die Bibliothek hat sonntags geöffnet."))
    document.save(str(path))
    return path


def interleaved_columns_pdf(path: Path, left: str, right: str, heading: str) -> Path:
    """A page with a heading across it and two columns written line by line across the page (left line 1,
    right line 1, left line 2, …), as some writers store them: content order is not reading order."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(False)
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=11)
    pdf.add_page()

    def wrap(text: str, width: float) -> list[str]:
        out, line = [], ""
        for word in text.split():
            trial = f"{line} {word}".strip()
            if pdf.get_string_width(trial) <= width:
                line = trial
            else:
                out.append(line)
                line = word
        return [*out, line]

    pdf.set_xy(10, 10)
    pdf.cell(0, 6, heading)
    lines_left, lines_right = wrap(left, 85), wrap(right, 85)
    for i in range(max(len(lines_left), len(lines_right))):
        for x, lines in ((10, lines_left), (110, lines_right)):
            if i < len(lines):
                pdf.set_xy(x, 20 + 6 * i)
                pdf.cell(85, 6, lines[i])
    pdf.output(str(path))
    return path


def table_pdf(path: Path, rows: list[tuple[str, str]]) -> Path:
    """A page with a two-column table: short labels at x 10 mm, values at x 110 mm."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_font("dejavu", "", FONT)
    pdf.set_font("dejavu", size=11)
    pdf.add_page()
    for i, (a, b) in enumerate(rows):
        pdf.set_xy(10, 20 + 7 * i)
        pdf.cell(80, 6, a)
        pdf.set_xy(110, 20 + 7 * i)
        pdf.cell(80, 6, b)
    pdf.output(str(path))
    return path
