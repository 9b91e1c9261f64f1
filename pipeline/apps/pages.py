"""A cited PDF page → an image of the part of the page around the citation, its words highlighted.

pypdfium2 renders the page (the same engine that read its text, so boxes and pixels agree);
Pillow draws the highlight and the image goes into the sources panel as a PNG data URI, so
the chat needs no file route for it. Rendering costs about 20–40 ms a page at this size;
the last pages drawn are kept.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from functools import lru_cache

WIDTH_PX = 640  # the sources panel's width, about
MARGIN_PT = 36.0  # page shown above and below the cited lines


def page_image(path: str, page: int, boxes: Sequence[Sequence[float]]) -> str | None:
    """A PDF file, a page (from 1) and boxes ``(page, x0, y0, x1, y1)`` in PDF points → a PNG data URI of
    the page's band around the boxes on that page, the boxes highlighted; None when it cannot be drawn."""
    on_page = tuple(tuple(float(v) for v in b[1:5]) for b in boxes if int(b[0]) == page)
    if not on_page:
        return None
    try:
        return _render(path, page, on_page)
    except Exception:  # noqa: BLE001 — a file moved or changed since the build: the text passage still shows
        return None


@lru_cache(maxsize=64)
def _render(path: str, page: int, boxes: tuple[tuple[float, float, float, float], ...]) -> str:
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    pdf = pdfium.PdfDocument(path)
    try:
        sheet = pdf[page - 1]
        width, height = sheet.get_size()
        scale = WIDTH_PX / width
        image = sheet.render(scale=scale).to_pil().convert("RGB")
    finally:
        pdf.close()
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in boxes:  # PDF points, origin bottom left → pixels, origin top left
        draw.rectangle(
            [x0 * scale - 2, (height - y1) * scale - 2, x1 * scale + 2, (height - y0) * scale + 2], fill=(255, 214, 0)
        )
    from PIL import Image

    image = Image.blend(image, overlay, 0.45)
    top = max(0.0, height - max(b[3] for b in boxes) - MARGIN_PT) * scale
    bottom = min(height, height - min(b[1] for b in boxes) + MARGIN_PT) * scale
    band = image.crop((0, int(top), image.width, int(bottom)))
    out = io.BytesIO()
    band.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
