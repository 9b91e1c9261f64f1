"""Cleaning: ``SourceText`` → ``Document`` with the kept blocks, title, date and language.

Nothing is deleted from the text: cleaning only decides which lines are content. The
kept lines become spans into the untouched text, so every later offset still points
into the file. Boilerplate is recognised line by line from the patterns below (news
pages: "Meistgelesen", "Anzeige", newsletter and consent boxes, bare link lines,
agency tags, press-contact blocks). An inline data URI (``![logo](data:image/png;base64,…)``)
is a file written into the text, never prose: it is left out of the kept spans, whatever the
settings, and the rest of its line stays.

Why not jusText (measured on the seeds): it kept "Anzeige", the newsletter box and the
consent line of seed 003 and dropped the sentence naming the seven signers in seed 004.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..settings import CleaningSettings
from ..types import Document, SourceText, Span, content_id

# detect_language is a step of cleaning (a document's language), kept importable from here.
from .language import detect_language as detect_language

# Whole lines that are page furniture, compared case-insensitively without a trailing colon.
BOILERPLATE_LINES = frozenset(
    s.casefold()
    for s in (
        "Meistgelesen",
        "Meistgelesene Artikel",
        "Neueste Artikel",
        "Zum Thema",
        "Aus dem Ressort",
        "Mehr zum Thema",
        "Weitere Artikel",
        "Ähnliche Artikel",
        "Das könnte Sie auch interessieren",
        "Auch interessant",
        "Lesen Sie auch",
        "Weiterlesen",
        "Mehr lesen",
        "Anzeige",
        "Werbung",
        "Newsletter",
        "Newsletter Box",
        "Newsletter abonnieren",
        "Jetzt anmelden",
        "Teilen",
        "Drucken",
        "Kommentare",
        "Kommentieren",
        "Artikel teilen",
        "Impressum",
        "Datenschutz",
        "Cookie-Einstellungen",
        "Top-Themen",
        "Startseite",
        "Nach oben",
        "Zurück",
        "Most read",
        "Latest articles",
        "Related articles",
        "Related",
        "Read more",
        "Advertisement",
        "Sponsored",
        "Share",
        "Share this article",
        "Print",
        "Comments",
        "Subscribe",
        "Sign up",
        "Privacy policy",
        "Cookie settings",
        "Back to top",
    )
)

# Lines that open a trailing block of contact details (everything up to the next real paragraph).
CONTACT_HEADERS = re.compile(r"^(presse)?kontakt|^press contact|^media contact|^contact$", re.IGNORECASE)

_FIELD_LINE = re.compile(
    r"^(Stichw(ö|oe)rter|Schlagw(ö|oe)rter|Tags|Themen|Bildquelle|Quelle|Fotos?|Bild|Image|Source|Photo|Copyright|Original-Content von)\s*:",
    re.IGNORECASE,
)
# A line of contact details: kept aside (indexed apart from the content) rather than dropped.
CONTACT_LINE = re.compile(r"^(Tel(efon)?|Phone|Fax|E-?Mail|Mobil|Web|Internet)\s*[.:]", re.IGNORECASE)
_LINE_PATTERNS = (
    re.compile(r"^\(\s*[\w./ -]{1,12}\s*\)$"),  # agency or author tag: (RP), (bs), (dpa)
    re.compile(r"^<?(https?://|www\.)\S+>?$", re.IGNORECASE),  # a bare link
    _FIELD_LINE,
    re.compile(r"^©"),
    CONTACT_LINE,
)
_CONSENT = re.compile(
    r"(Datenschutzerkl(ä|ae)rung|Cookies?|privacy policy).{0,80}(zu(stimm)?|akzeptier|einverstanden|accept|agree)"
    r"|(stimme|akzeptiere|agree|accept).{0,80}(Datenschutz|Cookies?|privacy)",
    re.IGNORECASE,
)

# Publication-date markers at the very start of a file; the marker is not content.
_DATE_PREFIXES = (
    re.compile(r"^\s*date\s+(?P<y>\d{4})-(?P<m>\d{2})(?:-(?P<d>\d{2}))?\s+", re.IGNORECASE),
    re.compile(r"^\s*\[(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\]\s*"),
    re.compile(r"^\s*(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\s*$"),
)
# A data URI with what wraps it: a Markdown image or link ``![alt](data:… "title")``, a reference
# definition ``[id]: data:…``, an HTML ``<img … src="data:…" …>``, or the bare URI. Linear on any
# line: every repeat is bounded or possessive, and a URI's characters never include ``[`` or ``<``,
# so an attempt that fails stops at the next place a match could start instead of reading the line
# to its end (which, repeated per attempt, was quadratic on a line of unclosed ``![x](data:``).
_URI_BODY = r"[^\s()\[\]<>\"']*+"
_DATA_URI = re.compile(
    rf"!?\[[^\]\n]{{0,300}}\]\([ \t]*+data:{_URI_BODY}(?:[ \t]++(?:\"[^\"\n]{{0,300}}\"|'[^'\n]{{0,300}}'))?[ \t]*+\)"
    rf"|<img\b[^<>]{{0,300}}?\bsrc[ \t]*+=[ \t]*+[\"']?data:{_URI_BODY}[\"']?[^<>]{{0,300}}>"
    rf"|(?:\[[^\]\n]{{0,300}}\]:[ \t]*+)?\bdata:[a-z]++/[\w.+-]++(?:;[\w.+-]++(?:=[\w.+-]*+)?)*+,{_URI_BODY}",
    re.IGNORECASE,
)
_WORD = re.compile(r"\w")
_MD_HEADING = re.compile(r"^#{1,6}\s+")
_SENTENCE_END = re.compile(r"[.!?…]$")


def clean(src: SourceText, settings: CleaningSettings) -> Document:
    """A decoded file → a Document: kept line spans, title, date (ISO) and language."""
    text = src.text
    lines = list(_lines(text))
    date = _parse_date_hint(src.date_hint)
    kept: list[Span] = []
    aside: list[Span] = []  # contact blocks: indexed apart from the content when settings.index_contacts
    in_contact = False
    continues_field = False  # a wrapped "Stichwörter: …" line goes on in the next line
    furniture = {(s.start, s.end) for s in src.furniture}  # running headers, footers, page numbers
    for start, end in lines:
        if furniture and (start, end) in furniture:
            continue
        line = text[start:end]
        if len(kept) < 3 and date is None:  # markers sit above or just below the headline
            for pattern in _DATE_PREFIXES:
                m = pattern.match(line)
                if m:
                    date = _iso(m.group("y"), m.group("m"), m.group("d"))
                    start += m.end()
                    line = text[start:end]
                    break
        if not line.strip():
            continues_field = False
            continue
        if settings.drop_boilerplate:
            if continues_field and not _SENTENCE_END.search(line.strip()):
                continue
            continues_field = bool(_FIELD_LINE.match(line.strip()))
            if CONTACT_HEADERS.match(line.strip()):
                in_contact = True
                aside.extend(_without_data_uris(text, start, end))
                continue
            if in_contact:
                # A contact block ends at the first line that reads like prose again.
                if len(line) < 100 and not _SENTENCE_END.search(line.strip()):
                    aside.extend(_without_data_uris(text, start, end))
                    continue
                in_contact = False
            if CONTACT_LINE.match(line.strip()):
                aside.extend(_without_data_uris(text, start, end))
                continue
            if is_boilerplate(line):
                continue
        kept.extend(_without_data_uris(text, start, end))
    kept_text = "\n".join(s.slice(text) for s in kept)
    title = src.title_hint or _title(text, kept)
    return Document(
        id=content_id(src.source, src.sha256),
        source=src.source,
        text=text,
        title=title,
        date=date,
        lang=detect_language(kept_text),
        kept=tuple(kept),
        meta={"encoding": src.encoding, "format": src.format, "sha256": src.sha256},
        aside=tuple(aside) if settings.index_contacts else (),
        regions=src.regions,
        boxes=src.boxes,
    )


def is_contact_text(text: str) -> bool:
    """A passage's text → is it a contact block (indexed aside)? It opens with a contact header, or half
    its lines or more are phone, fax, e-mail or web lines."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    if CONTACT_HEADERS.match(lines[0]):
        return True
    return sum(bool(CONTACT_LINE.match(line)) for line in lines) * 2 >= len(lines)


def is_boilerplate(line: str) -> bool:
    """One line of text → is it page furniture rather than content?"""
    s = line.strip()
    if s.rstrip(":").strip().casefold() in BOILERPLATE_LINES:
        return True
    if any(p.search(s) for p in _LINE_PATTERNS):
        return True
    return len(s) < 300 and bool(_CONSENT.search(s))


def _without_data_uris(text: str, start: int, end: int) -> list[Span]:
    """A kept line ``text[start:end]`` → its kept spans: the line trimmed, less any inline data URI.

    What is left beside a data URI is kept only if it holds a word character (not a lone ``)``).
    A base64 image is hundreds of kilobytes without a sentence in it; kept, it became hundreds of
    meaningless chunks, and an image line in a Markdown file took longer to chunk than the prose.
    """
    line = text[start:end]
    if "data:" not in line.lower():  # the common case, without running the pattern
        return [Span.trimmed(text, start, end)]
    pieces: list[Span] = []
    pos = start
    for m in _DATA_URI.finditer(line):
        pieces.append(Span.trimmed(text, pos, start + m.start()))
        pos = start + m.end()
    if pos == start:
        return [Span.trimmed(text, start, end)]
    pieces.append(Span.trimmed(text, pos, end))
    return [p for p in pieces if _WORD.search(text, p.start, p.end)]


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """Text → (start, end) of each line without its line break."""
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85")
        yield pos, pos + len(body)
        pos += len(line)


def _title(text: str, kept: list[Span]) -> str:
    """The kept lines → a title: a headline-like first line (with its kicker), else the first sentence."""
    if not kept:
        return ""
    first = _MD_HEADING.sub("", kept[0].slice(text)).strip()
    if _is_headline(first):
        if len(first.split()) <= 3 and len(kept) > 1:
            second = _MD_HEADING.sub("", kept[1].slice(text)).strip()
            if _is_headline(second):
                return f"{first}: {second}"  # kicker + headline, e.g. "Gelsenkirchen: Auf dem Weg …"
        return first
    sentence = re.split(r"(?<=[.!?])\s+", first, maxsplit=1)[0]
    return sentence if len(sentence) <= 120 else sentence[:119].rsplit(" ", 1)[0] + " …"


def _is_headline(line: str) -> bool:
    return 0 < len(line) <= 150 and not _SENTENCE_END.search(line)


def _iso(y: str, m: str, d: str | None) -> str | None:
    year, month = int(y), int(m)
    if not (1 <= month <= 12 and 1000 <= year <= 9999):
        return None
    if d is None:
        return f"{year:04d}-{month:02d}"
    day = int(d)
    return f"{year:04d}-{month:02d}-{day:02d}" if 1 <= day <= 31 else None


def _parse_date_hint(hint: str | None) -> str | None:
    if not hint:
        return None
    m = re.match(r"(\d{4})-(\d{2})(?:-(\d{2}))?", hint)
    return _iso(m.group(1), m.group(2), m.group(3)) if m else None
