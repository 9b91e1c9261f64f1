"""PDF text readers side by side: pypdfium2, pdfplumber and pypdf, for a text layer with character boxes.

    .venv/bin/python benchmarks/pdf_readers.py              # ~1 minute; writes benchmarks/PDF_READERS.md
    .venv/bin/python benchmarks/pdf_readers.py --no-write   # print only

belegt wants to read a PDF's text layer *and* a box per character (to highlight cited words on the
page). Every input is generated at run time in a temporary folder (fpdf2 with DejaVuSans, so umlauts
work, and headless Chromium printing an HTML page); nothing binary is committed. In one run:

1. **Speed**: all text of a generated 100-page PDF (German prose, ~3,000 characters a page), with
   character boxes where the library has them:
   - pypdfium2: ``PdfDocument`` → ``page.get_textpage()`` → ``count_chars()``, ``get_text_range()``
     and ``get_charbox(i)`` for every character;
   - pdfplumber: ``page.chars`` (one dict per glyph: text, x0, x1, top, bottom, font, size, …), and
     the same plus ``page.extract_text()`` (which a reader needs for lines and word spaces);
   - pypdf: ``page.extract_text(visitor_text=…)``; the visitor is called once per text-showing
     operation with its text and the current and text matrices (where the run *starts*), so there is
     no width and no box per character.
   Each reader runs ``--rounds`` times (default 3) in rotating order; the fastest wall time counts,
   and its CPU time is shown too (the machine may be shared). ratio = seconds / the fastest reader's.
2. **Reading order** on a two-column page, printed twice: by fpdf2 (left column written, then the
   right one), by fpdf2 row by row (left line, right line: the content stream interleaves the
   columns) and by Chromium from HTML with CSS ``column-count: 2``. Each column holds known
   sentences that wrap over several lines, each starting with a unique town name. *left before
   right*: every left-column town comes before every right-column town in the extracted text;
   *sentences unbroken*: every sentence is found in one piece (not interleaved line by line with the
   other column); both compare without whitespace and after NFKC. *verbatim*: sentences found
   exactly, whitespace collapsed (misses lost word spaces and kept ligatures). Which column a
   sentence landed in is checked from pypdfium2's character boxes before the texts are judged.
3. **Hyphenation at line ends**: "Digitali-" / "sierung" with an explicit hyphen and line break
   (fpdf2), and a soft hyphen that breaks there (U+00AD in fpdf2, ``&shy;`` in Chromium); shown
   is what each reader gives around the break.
4. **Character boxes**: whether each reader gives one, through which call and in which coordinates.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pdfplumber
import pypdf
import pypdfium2 as pdfium
import pypdfium2.version as pdfium_version
from fpdf import FPDF
from fpdf import __version__ as fpdf_version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine, table  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CHROMIUM = Path("/usr/bin/chromium")
REPORT = ROOT / "benchmarks" / "PDF_READERS.md"

# Two-column page: each sentence starts with a unique town and wraps over several lines of its column.
LEFT = [
    "Aachen meldet, dass der Stadtrat die neue Satzung für die Müllabfuhr nach langer Debatte mit knapper Mehrheit beschlossen hat.",
    "Bremen prüft seit dem Frühjahr, ob die Straßenbahnlinie über den Bahnhof hinaus bis zum neuen Gewerbegebiet verlängert werden kann.",
    "Coburg will die Gebühren für die Stadtbücherei im kommenden Jahr senken, weil deutlich weniger Ausweise verlängert wurden.",
    "Dessau hat für die Sanierung der Grundschule am Markt einen Zuschuss des Landes über zwei Millionen Euro erhalten.",
]
RIGHT = [
    "Erfurt eröffnet im Sommer ein Bürgerbüro, in dem Anträge für Pässe und Führerscheine ohne Termin gestellt werden können.",
    "Freiburg verzeichnet mehr Übernachtungen als je zuvor, vor allem wegen der Tagungen in der neuen Halle am Messeplatz.",
    "Görlitz lässt die Brücke über die Neiße ab Oktober für vier Wochen sperren, weil die Fahrbahn erneuert werden muss.",
    "Husum plant einen zweiten Radweg entlang des Hafens, damit Fußgänger und Radfahrer einander nicht länger behindern.",
]

# Hyphenation: an explicit hyphen plus line break, and a soft hyphen that the layout breaks at.
HYPHEN_FPDF = ("Die Stadt plant die Digitali-\nsierung aller Ämter. Über\u00adgangs\u00adweise bleibt "
               "noch viel Papier im Spiel, sagt die Leiterin.")
HYPHEN_HTML = "Die Stadt plant die Digitali&shy;sierung aller Ämter heute."

WORDS = ("der die das und Stadt Rat Haushalt Gemeinde Bürger Straße Schule Brücke Zuschuss Ausschuss "
         "beschließt prüft meldet plant über für mit nach bei Jahr Woche Millionen Euro neue große "
         "öffentliche Verwaltung Gebühren Sanierung Verkehr Hafen Markt Bahnhof Landkreis Förderung").split()

Reader = Callable[[Path], dict[str, Any]]


# ---------------------------------------------------------------- inputs


def new_pdf() -> FPDF:
    """An A4 fpdf2 document with DejaVuSans 11 pt as its font."""
    pdf = FPDF(format="A4")
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.set_font("DejaVu", size=11)
    return pdf


def prose(rng: random.Random, n_chars: int) -> str:
    """About n_chars of German-looking sentences from a fixed vocabulary."""
    out: list[str] = []
    length = 0
    while length < n_chars:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16)))
        out.append(sentence[0].upper() + sentence[1:] + ".")
        length += len(out[-1]) + 1
    return " ".join(out)


def many_pages(path: Path, pages: int) -> Path:
    """A PDF of ``pages`` pages, one paragraph of ~3,000 characters each (fpdf2)."""
    pdf = new_pdf()
    pdf.set_auto_page_break(True, margin=15)
    rng = random.Random(7)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 5, prose(rng, 3000))
    pdf.output(str(path))
    assert len(pypdf.PdfReader(path).pages) == pages, "a generated page overflowed"
    return path


def two_columns_fpdf(path: Path) -> Path:
    """One page, two columns of 85 mm: the left column written first, then the right one (fpdf2)."""
    pdf = new_pdf()
    pdf.add_page()
    top = pdf.get_y()
    for x, sentences in ((15, LEFT), (110, RIGHT)):
        pdf.set_xy(x, top)
        for i in range(0, len(sentences), 2):
            pdf.set_x(x)
            pdf.multi_cell(85, 5, " ".join(sentences[i:i + 2]))
            pdf.ln(3)
    pdf.output(str(path))
    return path


def two_columns_interleaved(path: Path) -> Path:
    """The same page as ``two_columns_fpdf``, but written row by row: left line, right line, next row.

    The content stream then holds the columns interleaved, as some generators write them; a reader
    that follows the stream without looking at positions gives them back interleaved.
    """
    pdf = new_pdf()
    pdf.add_page()

    def lines(sentences: list[str]) -> list[str]:
        out: list[str] = []
        for i in range(0, len(sentences), 2):
            out += pdf.multi_cell(85, 5, " ".join(sentences[i:i + 2]), dry_run=True, output="LINES") + [""]
        return out

    top = pdf.get_y()
    left, right = lines(LEFT), lines(RIGHT)
    for row in range(max(len(left), len(right))):
        for x, column in ((15, left), (110, right)):
            if row < len(column) and column[row]:
                pdf.set_xy(x, top + 5 * row)
                pdf.cell(85, 5, column[row])
    pdf.output(str(path))
    return path


def chromium_pdf(html: str, tmp: Path, name: str) -> Path | None:
    """HTML → PDF by headless Chromium (no header or footer); None when Chromium is missing or fails."""
    if not CHROMIUM.exists():
        return None
    source, out = tmp / f"{name}.html", tmp / f"{name}.pdf"
    source.write_text(html, "utf-8")
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
           f"--user-data-dir={tmp / 'chromium-profile'}", f"--print-to-pdf={out}", source.as_uri()]
    try:
        subprocess.run(cmd, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out if out.exists() and out.stat().st_size else None


def two_columns_html(tmp: Path) -> Path | None:
    """One page printed by Chromium from HTML with ``column-count: 2``; the right column forced to start at RIGHT[0]."""
    def paragraphs(sentences: list[str], first_style: str = "") -> str:
        return "".join(f'<p style="{first_style if i == 0 else ""}">{" ".join(sentences[i:i + 2])}</p>'
                       for i in range(0, len(sentences), 2))

    html = ('<!doctype html><html lang="de"><head><meta charset="utf-8"><style>'
            "body { font-family: 'DejaVu Sans'; font-size: 11pt; margin: 2cm; }"
            ".cols { column-count: 2; column-gap: 1cm; }</style></head><body><div class=\"cols\">"
            + paragraphs(LEFT) + paragraphs(RIGHT, "break-before: column") + "</div></body></html>")
    return chromium_pdf(html, tmp, "two_columns_chromium")


def hyphen_fpdf(path: Path) -> Path:
    """A narrow paragraph with "Digitali-" / "sierung" and a soft hyphen in "Über­gangs­weise" (fpdf2)."""
    pdf = new_pdf()
    pdf.add_page()
    pdf.multi_cell(60, 5, HYPHEN_FPDF)
    pdf.output(str(path))
    return path


def hyphen_html(tmp: Path) -> Path | None:
    """A narrow paragraph that Chromium breaks at the soft hyphen in "Digitali&shy;sierung"."""
    html = ('<!doctype html><html lang="de"><head><meta charset="utf-8"></head>'
            "<body style=\"font-family: 'DejaVu Sans'; font-size: 11pt; width: 9em\">"
            f'<p style="hyphens: manual">{HYPHEN_HTML}</p></body></html>')
    return chromium_pdf(html, tmp, "hyphen_chromium")


# ---------------------------------------------------------------- readers


def read_pdfium(path: Path) -> dict[str, Any]:
    """pypdfium2: text per page with ``get_text_range`` and a box per character with ``get_charbox``."""
    pages: list[str] = []
    boxes = 0
    doc = pdfium.PdfDocument(str(path))
    try:
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            n = textpage.count_chars()
            pages.append(textpage.get_text_range())
            boxes += len([textpage.get_charbox(j) for j in range(n)])
            textpage.close()
            page.close()
    finally:
        doc.close()
    return {"pages": pages, "boxes": boxes}


def read_plumber_chars(path: Path) -> dict[str, Any]:
    """pdfplumber: ``page.chars`` (glyphs in content-stream order, each with its box); text = the glyphs joined."""
    pages: list[str] = []
    boxes = 0
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            chars = page.chars
            pages.append("".join(c["text"] for c in chars))
            boxes += len([(c["x0"], c["top"], c["x1"], c["bottom"]) for c in chars])
            page.close()
    return {"pages": pages, "boxes": boxes}


def plumber_text(path: Path, **options: Any) -> dict[str, Any]:
    """pdfplumber: ``page.chars`` for the boxes plus ``page.extract_text(**options)`` for the text."""
    pages: list[str] = []
    boxes = 0
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            boxes += len([(c["x0"], c["top"], c["x1"], c["bottom"]) for c in page.chars])
            pages.append(page.extract_text(**options))
            page.close()
    return {"pages": pages, "boxes": boxes}


def read_plumber_text(path: Path) -> dict[str, Any]:
    """pdfplumber ``extract_text()`` with its defaults (characters clustered into lines by position)."""
    return plumber_text(path)


def read_plumber_flow(path: Path) -> dict[str, Any]:
    """pdfplumber ``extract_text(use_text_flow=True)`` (characters in content-stream order)."""
    return plumber_text(path, use_text_flow=True)


def read_pypdf(path: Path) -> dict[str, Any]:
    """pypdf: ``extract_text`` with a ``visitor_text`` callback, which sees each text run and where it starts."""
    pages: list[str] = []
    runs: list[tuple[str, float, float]] = []

    def visitor(text: str, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if text:
            runs.append((text, tm[4], tm[5]))  # start of the run in text space; no widths, no per-char boxes

    for page in pypdf.PdfReader(path).pages:
        pages.append(page.extract_text(visitor_text=visitor))
    return {"pages": pages, "boxes": None, "runs": len(runs)}


SPEED_READERS: dict[str, Reader] = {
    "pypdfium2 (get_text_range + get_charbox)": read_pdfium,
    "pdfplumber (page.chars)": read_plumber_chars,
    "pdfplumber (page.chars + extract_text)": read_plumber_text,
    "pypdf (extract_text + visitor_text)": read_pypdf,
}

TEXT_READERS: dict[str, Reader] = {
    "pypdfium2 get_text_range()": read_pdfium,
    "pdfplumber extract_text()": read_plumber_text,
    "pdfplumber extract_text(use_text_flow=True)": read_plumber_flow,
    "pdfplumber page.chars joined": read_plumber_chars,
    "pypdf extract_text()": read_pypdf,
}


# ---------------------------------------------------------------- measurements


def speed(path: Path, pages: int, rounds: int) -> list[dict[str, Any]]:
    """Each speed reader ``rounds`` times in rotating order over ``path``; the fastest wall time counts."""
    names = list(SPEED_READERS)
    for name in names:  # warm-up: lazy imports and first-use costs
        SPEED_READERS[name](path)
    runs: dict[str, list[tuple[float, float, dict[str, Any]]]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[: r % len(names)]:
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            result = SPEED_READERS[name](path)
            runs[name].append((time.perf_counter() - wall, time.process_time() - cpu, result))
            print(f"  round {r + 1} {name}: {runs[name][-1][0]:.2f} s", file=sys.stderr, flush=True)
    rows = []
    for name in names:
        wall, cpu, result = min(runs[name], key=lambda x: x[0])
        text = "".join(result["pages"])
        rows.append({"reader": name, "pages": len(result["pages"]), "chars of text": len(text),
                     "char boxes": result["boxes"] if result["boxes"] is not None else f"none ({result['runs']} run starts)",
                     "best wall s": wall, "its CPU s": cpu, "pages/s": pages / wall})
    fastest = min(r["best wall s"] for r in rows)
    for row in rows:
        row["ratio to fastest"] = row["best wall s"] / fastest
    return rows


def flatten(text: str) -> str:
    """All whitespace runs → one space."""
    return re.sub(r"\s+", " ", text).strip()


def squeeze(text: str) -> str:
    """NFKC (ligatures such as U+FB00 "ﬀ" → "ff") and no whitespace at all: for order and interleaving only."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def ligatures(text: str) -> str:
    """', ligatures kept: U+FB00 …' when the text holds Latin ligature characters (U+FB00–U+FB06), else ''."""
    found = sorted({f"U+{ord(c):04X}" for c in text if "\ufb00" <= c <= "\ufb06"})
    return f", ligature kept: {' '.join(found)}" if found else ""


def column_of(path: Path, sentence: str) -> str:
    """'left' or 'right': where the sentence's first word starts on page 1, from pypdfium2's character boxes."""
    doc = pdfium.PdfDocument(str(path))
    try:
        page = doc[0]
        width = page.get_width()
        textpage = page.get_textpage()
        word = sentence.split()[0]
        found = textpage.search(word, match_case=True, match_whole_word=True)
        hit = found.get_next()
        assert hit is not None, f"{word} not on the page"
        left = textpage.get_charbox(hit[0])[0]
        found.close()
        textpage.close()
        page.close()
    finally:
        doc.close()
    return "left" if left < width / 2 else "right"


def reading_order(pdfs: dict[str, Path | None]) -> list[dict[str, Any]]:
    """Each text reader on each two-column PDF: left column before right? every sentence whole?"""
    rows = []
    for pdf_name, path in pdfs.items():
        if path is None:
            rows.append({"PDF": pdf_name, "reader": "(not generated: Chromium missing or failed)"})
            continue
        placed = [column_of(path, s) for s in LEFT + RIGHT]
        assert placed == ["left"] * len(LEFT) + ["right"] * len(RIGHT), f"{pdf_name}: columns came out as {placed}"
        for reader, read in TEXT_READERS.items():
            raw = " ".join(read(path)["pages"])
            text, plain = squeeze(raw), flatten(raw)
            starts = [text.find(s.split()[0]) for s in LEFT + RIGHT]  # town names: unique on the page
            left, right = starts[:len(LEFT)], starts[len(LEFT):]
            in_order = min(starts) >= 0 and max(left) < min(right)
            unbroken = sum(squeeze(s) in text for s in LEFT + RIGHT)
            verbatim = sum(s in plain for s in LEFT + RIGHT)
            n = len(LEFT + RIGHT)
            rows.append({"PDF": pdf_name, "reader": reader,
                         "left before right": "yes" if in_order else "no",
                         "sentences unbroken": "yes" if unbroken == n else f"no ({unbroken}/{n})",
                         "verbatim": f"{verbatim}/{n}" + ligatures(raw)})
    return rows


def show(text: str) -> str:
    """A snippet made visible for a Markdown table: line breaks as ⏎, unusual characters as <U+XXXX>."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append("⏎")
        elif ch == "\r":
            out.append("␍")
        elif ch.isascii() or ch.isalpha():
            out.append(ch)
        else:
            out.append(f"<U+{ord(ch):04X}>")
    return "`" + "".join(out).replace("`", "'") + "`"


def around(text: str, start: str, end: str) -> str:
    """The text from ``start`` up to and including the next ``end`` (or what follows ``start``)."""
    i = text.find(start)
    if i < 0:
        return "(not found)"
    j = text.find(end, i)
    return text[i: j + len(end)] if 0 <= j < i + 40 else text[i: i + 24]


HYPHENATED = {"Digitalisierung": ("Digitali", "sierung"), "Übergangsweise": ("Über", "weise")}


def hyphenation(pdfs: dict[str, tuple[Path | None, list[str]]]) -> list[dict[str, Any]]:
    """What each text reader gives around the hyphenated words: PDF name → (PDF, words of HYPHENATED in it)."""
    rows = []
    for pdf_name, (path, words) in pdfs.items():
        if path is None:
            rows.append({"PDF": pdf_name, "reader": "(not generated: Chromium missing or failed)"})
            continue
        for reader, read in TEXT_READERS.items():
            text = "".join(read(path)["pages"])
            rows.append({"PDF": pdf_name, "reader": reader,
                         **{word: show(around(text, *HYPHENATED[word])) for word in words}})
    return rows


BOXES = [
    {"reader": "pypdfium2", "per-character box": "yes",
     "how": "`textpage.get_charbox(i, loose=False)` → (left, bottom, right, top); `loose=True` gives font-height boxes "
            "(even highlight bars); `get_index(x, y, …)` maps a point back to a character",
     "coordinates": "PDF points, origin bottom left of the page"},
    {"reader": "pdfplumber", "per-character box": "yes",
     "how": "`page.chars[i]`: x0, x1, top, bottom (also y0, y1, font, size, colours); `extract_words()` boxes words",
     "coordinates": "PDF points, top measured from the top of the page (y0/y1 from the bottom)"},
    {"reader": "pypdf", "per-character box": "no",
     "how": "`extract_text(visitor_text=f)` calls f(text, cm, tm, font_dict, font_size) once per text run: "
            "where the run starts, not where it ends nor where each character is",
     "coordinates": "text and user-space matrices; widths would have to be computed from the font by hand"},
]


# ---------------------------------------------------------------- report


def run(pages: int = 100, rounds: int = 3) -> str:
    """Generate the inputs, measure, and return the Markdown report."""
    started = time.strftime("%Y-%m-%d %H:%M")
    with tempfile.TemporaryDirectory(prefix="pdf_readers_") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.perf_counter()
        big = many_pages(tmp / "pages.pdf", pages)
        print(f"  generated {pages} pages in {time.perf_counter() - t0:.1f} s ({big.stat().st_size / 1e6:.1f} MB)",
              file=sys.stderr)
        speed_rows = speed(big, pages, rounds)
        order_rows = reading_order({
            "fpdf2, left column then right": two_columns_fpdf(tmp / "two_columns_fpdf.pdf"),
            "fpdf2, written row by row (stream interleaved)": two_columns_interleaved(tmp / "two_columns_rows.pdf"),
            "Chromium, CSS column-count: 2": two_columns_html(tmp),
        })
        hyphen_rows = hyphenation({
            "fpdf2: `Digitali-` + line break; U+00AD in Über\u00adgangs\u00adweise": (hyphen_fpdf(tmp / "hyphen.pdf"),
                                                                           list(HYPHENATED)),
            "Chromium: `Digitali&shy;sierung`": (hyphen_html(tmp), ["Digitalisierung"]),
        })
        shutil.rmtree(tmp / "chromium-profile", ignore_errors=True)

    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git_commit() + (" (working tree with uncommitted changes)" if dirty else "")
    versions = (f"pypdfium2 {pdfium_version.PYPDFIUM_INFO} (PDFium {pdfium_version.PDFIUM_INFO}), "
                f"pdfplumber {pdfplumber.__version__}, pypdf {pypdf.__version__}; inputs made with fpdf2 {fpdf_version}"
                + (f" and {chromium_version()}" if CHROMIUM.exists() else ""))
    return f"""# PDF readers: pypdfium2, pdfplumber, pypdf

Measured {started} on {machine()}, commit {commit}.
Produced by `.venv/bin/python benchmarks/pdf_readers.py` (see its docstring for what is measured and how).
{versions}.

## 1. Speed: {pages} generated pages, text and character boxes

Best of {rounds} rounds (rotating order, one process). pdfplumber's `page.chars` has no line breaks or
word spaces between lines, so a reader needs `extract_text()` (or `extract_words()`) as well: second
pdfplumber row. pypdfium2's count includes the line breaks it generates (which have empty boxes).

{table(speed_rows, list(speed_rows[0]))}

## 2. Reading order on a two-column page

{len(LEFT)} sentences per column, each over 2–3 lines; which column each landed in is checked by position
first. *left before right* and *sentences unbroken* compare without whitespace and after NFKC (so
they judge order and line-by-line interleaving only); *verbatim* counts sentences found exactly, with
whitespace collapsed: it also misses when spaces between lines are lost (pdfplumber's bare `page.chars`)
or a ligature comes out as one character (Chromium draws "ff" in "eröffnet" as one glyph).

{table(order_rows, ["PDF", "reader", "left before right", "sentences unbroken", "verbatim"])}

## 3. Hyphenation at line ends

⏎ = line feed, ␍ = carriage return, <U+XXXX> = a character shown by its code point
(U+FFFE: PDFium's mark for a hyphen it took for a soft line-end hyphen, line break removed;
U+2010: the HYPHEN character Chromium draws at a soft-hyphen break).

{table(hyphen_rows, ["PDF", "reader", *HYPHENATED])}

## 4. Character boxes

{table(BOXES, ["reader", "per-character box", "how", "coordinates"])}
"""


def chromium_version() -> str:
    """'Chromium 1.2.3' from ``chromium --version``, or 'Chromium' when it cannot be asked."""
    try:
        out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "Chromium"
    match = re.search(r"Chromium [\d.]+", out)
    return match.group(0) if match else "Chromium"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=100, help="pages of the generated speed PDF")
    parser.add_argument("--rounds", type=int, default=3, help="runs per reader; the fastest counts")
    parser.add_argument("--no-write", action="store_true", help=f"print only; leave {REPORT.name} as it is")
    args = parser.parse_args(argv)
    text = run(args.pages, args.rounds)
    print(text)
    if not args.no_write:
        REPORT.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
