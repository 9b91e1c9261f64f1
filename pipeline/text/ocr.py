"""Scans → words with boxes, through Tesseract 5 (Debian's ``tesseract-ocr`` with German and English).

Tesseract is run as a program (``tesseract IMAGE stdout -l deu+eng tsv``): its TSV output has every
word with its box and its block, paragraph and line numbers, which become the paragraphs and
lines of the text. Boxes are turned from pixels into PDF points (origin bottom left), so a
scanned page and a page with a text layer are cited alike. Without Tesseract, ``available``
is false and the readers report scanned pages as unread, with the command that installs it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .layout import Word

if TYPE_CHECKING:
    from PIL.Image import Image

MAX_PIXELS = 100_000_000  # an A4 page at 1200 dpi is 140 MP, at 600 dpi 35 MP; larger is a poster or a trap
INSTALL = "apt-get install tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng (make install does this as root)"
MIN_CONFIDENCE = 30.0  # words Tesseract is less sure of are mostly specks and lines read as letters


class ImageTooLarge(ValueError):
    """An image with more pixels than OCR reads (``MAX_PIXELS``); the message says its size and what to do."""


@contextlib.contextmanager
def opened_image(data: bytes) -> Iterator[Image]:
    """An image file's bytes → the PIL image, opened lazily; ImageTooLarge before anything is decoded
    when its header promises more than ``MAX_PIXELS`` (Pillow's own guard would raise a bare error)."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read here; the size is checked below
    try:
        image = Image.open(io.BytesIO(data))
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ImageTooLarge(
                f"image too large ({width} × {height} pixels, {width * height / 1e6:.0f} megapixels; "
                f"images up to {MAX_PIXELS / 1e6:.0f} megapixels are read: scale it down to index it)"
            )
        yield image


@lru_cache(maxsize=8)
def available(languages: str = "deu+eng") -> bool:
    """Whether Tesseract is installed with every language of ``languages`` ("deu+eng")."""
    return not missing(languages)


@lru_cache(maxsize=8)
def missing(languages: str = "deu+eng") -> str:
    """'' when Tesseract can read ``languages``, else what is missing (program or languages)."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "Tesseract is not installed"
    try:
        out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"Tesseract does not run ({err})"
    have = {line.strip() for line in out.splitlines()[1:]}
    lacking = [lang for lang in languages.split("+") if lang not in have]
    return f"Tesseract lacks the language data {', '.join(lacking)}" if lacking else ""


def read_image(
    image: Image, page: int, dpi: float, page_height: float | None = None, languages: str = "deu+eng"
) -> list[list[list[Word]]]:
    """A PIL image of one page → its paragraphs, each a list of lines of words with boxes in PDF
    points (``dpi`` pixels per inch; ``page_height`` in points, default the image's height)."""
    scale = 72.0 / dpi
    height = page_height if page_height is not None else image.height * scale
    with tempfile.TemporaryDirectory(prefix="belegt-ocr-") as tmp:
        path = Path(tmp) / "page.png"
        image.convert("RGB").save(path)
        run = subprocess.run(
            ["tesseract", str(path), "stdout", "-l", languages, "--dpi", str(int(dpi)), "tsv"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if run.returncode != 0:
        raise RuntimeError(f"tesseract failed: {run.stderr.strip()[:200]}")
    paragraphs: dict[tuple[int, int], dict[int, list[Word]]] = {}
    for row in csv.DictReader(io.StringIO(run.stdout), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text or float(row.get("conf") or -1) < MIN_CONFIDENCE:
            continue
        left, top, width, h = (int(row[k]) for k in ("left", "top", "width", "height"))
        word = Word(text, page, left * scale, height - (top + h) * scale, (left + width) * scale, height - top * scale)
        key = (int(row["block_num"]), int(row["par_num"]))
        paragraphs.setdefault(key, {}).setdefault(int(row["line_num"]), []).append(word)
    out: list[list[list[Word]]] = []
    for _, lines in sorted(paragraphs.items()):
        out.extend(_columns([words for _, words in sorted(lines.items())]))
    return out


def _columns(lines: list[list[Word]]) -> list[list[list[Word]]]:
    """A paragraph's lines → one paragraph per column: Tesseract sometimes reads two columns as one
    block, line by line across both; a gap wider than three line heights splits each line, and the
    parts are grouped by where they start, left column first."""
    parts: list[list[Word]] = []
    for line in lines:
        height = max(1.0, max(w.y1 - w.y0 for w in line))
        current = [line[0]]
        for word in line[1:]:
            if word.x0 - current[-1].x1 > 3 * height:
                parts.append(current)
                current = []
            current.append(word)
        parts.append(current)
    if len(parts) == len(lines):
        return [lines]
    starts: list[float] = []
    for part in parts:
        if not any(abs(part[0].x0 - x) < 3 * (part[0].y1 - part[0].y0) for x in starts):
            starts.append(part[0].x0)
    starts.sort()
    columns: list[list[list[Word]]] = [[] for _ in starts]
    for part in parts:
        nearest = min(
            range(len(starts)),
            key=lambda i: abs(starts[i] - part[0].x0) if part[0].x0 >= starts[i] - 1 else float("inf"),
        )
        columns[nearest].append(part)
    return [c for c in columns if c]
