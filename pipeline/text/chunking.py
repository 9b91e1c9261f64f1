"""Chunking: ``Document`` (text + kept lines) → sentences → ``Chunk`` values with exact offsets.

Sentences come from pysbd (rule-based, German and English), then three repairs that
pysbd misses on German news: no break inside a quotation („…“, "…", “…”) that closes in
the same paragraph, none after an abbreviation such as ``Prof.Dr.``, and none before a
lowercase word. Offsets are found by walking the text, never by re-joining strings, so
``doc.text[start:end] == chunk.text`` holds by construction and is checked by tests.

Time is linear in the text, whatever its shape (benchmarks/input_size.py): pysbd never reads more
than 20,000 characters at once, and each repair looks only at the few characters around its break.

A chunk is a few consecutive sentences (``max_chars``, ``max_sentences``) sharing
``overlap_sentences`` with its neighbour. Chunks never span a line that cleaning removed.
"""
# Size: over 400 lines on purpose. The sentence rules (abbreviations, quotations, months) and the
# chunk assembly that walks the same offsets are one invariant (exact spans); split, each half would
# have to re-check the other's offsets.

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from ..settings import ChunkingSettings
from ..types import Chunk, Document, Span, content_id
from .layout import SOFT_HYPHEN

if TYPE_CHECKING:
    from pysbd import Segmenter  # pysbd ships no type hints: Any to mypy, named for the reader

# Lowercase, without the final dot. Entries with inner dots are compared whole.
ABBREVIATIONS = frozenset(
    """prof dr drs dipl ing med phil rer nat hr fr frl st nr no abs art bd bzw ca d.h evtl ggf gem geb
    inkl jh jhd mio mrd max min o.ä u.a u.ä u.u usw u.v.m v.a vgl z.b z.t zzgl bspw sog tel str
    mr mrs ms jr sr vs e.g i.e cf fig approx dept est gen gov lt col capt sgt
    jan feb mär apr jun jul aug sep sept okt nov dez oct dec""".split()
)
MONTHS = (
    "januar|februar|märz|maerz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    "january|february|march|may|june|july|october|december|jan|feb|mär|apr|jun|jul|aug|sep|sept|okt|oct|nov|dez|dec"
)
_ORDINAL_BEFORE_MONTH = re.compile(rf"^({MONTHS})\b", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^(#{1,6}|[-*•>]|\d{1,3}[.)](?=\s+\D))\s+")
_TERMINAL = re.compile(r"[.!?…:;\"“”»)]$")
_QUOTE_MARK = re.compile('[„«“”»"]')
_QUOTES_FOR_PYSBD = str.maketrans({"„": '"', "“": '"', "”": '"'})
_SOFT_HYPHEN = re.compile(SOFT_HYPHEN)
_SOFT_WRAP_MIN = 50  # shorter lines are headings or list items: a hard break


def blocks(doc: Document, lines: Sequence[Span] | None = None) -> list[list[Span]]:
    """A document's kept lines (or the given ones) → regions (runs with nothing removed in between) of
    paragraph blocks.

    A line break inside a paragraph is a soft wrap when the line is long, does not end
    like a sentence, and the next line is not a list item or heading.
    """
    text = doc.text
    regions: list[list[Span]] = []
    current: list[Span] = []
    for span in doc.kept if lines is None else lines:
        if current:
            prev = current[-1]
            gap = text[prev.end : span.start]
            if gap.strip():
                regions.append(current)
                current = []
            elif _is_soft_wrap(text, prev, span, gap):
                current[-1] = Span(prev.start, span.end)
                continue
        current.append(span)
    if current:
        regions.append(current)
    return regions


def _is_soft_wrap(text: str, prev: Span, nxt: Span, gap: str) -> bool:
    if gap.count("\n") != 1:
        return False
    line_start = text.rfind("\n", 0, prev.end) + 1
    last_line = text[max(line_start, prev.start) : prev.end]
    following = text[nxt.start : nxt.end]
    return len(last_line) >= _SOFT_WRAP_MIN and not _TERMINAL.search(last_line) and not _LIST_MARKER.match(following)


@lru_cache(maxsize=8)
def _segmenter(lang: str) -> Segmenter:
    import pysbd

    return pysbd.Segmenter(language=lang if lang in {"de", "en", "fr", "es", "it", "nl"} else "en", clean=False)


def split_sentences(text: str, block: Span, lang: str, settings: ChunkingSettings) -> list[Span]:
    """One paragraph block → its sentence spans (absolute, trimmed, non-empty, in order)."""
    start = block.start
    marker = _LIST_MARKER.match(text[start : block.end])
    if marker:
        start += marker.end()
    segment = text[start : block.end]
    if not segment.strip():
        return []
    pieces = _pysbd_spans(segment, lang)
    pieces = _repair(segment, pieces)
    out: list[Span] = []
    for a, b in pieces:
        span = Span.trimmed(text, start + a, start + b)
        if span.end > span.start:
            out.extend(_cut_long(text, span, settings.max_sentence_chars))
    return out


# pysbd's time per character grows with the length of what it is given (about 8 µs at 5,000
# characters, 15 at 20,000, and more on run-on lines), so it never sees more than _PYSBD_MAX at once.
_PYSBD_MAX = 20000
_PYSBD_WINDOW = 5000  # a longer segment is read window by window
# Where pysbd may break: a sentence end followed by whitespace, or a line break (it splits at every
# one). A window with neither (a run-on line of words, a base64 blob, a line without whitespace)
# holds no break worth pysbd's time: it is cut at a space instead.
_BREAK_CANDIDATE = re.compile(r"[.!?…][\"'“”»«)\]]*\s|\n")


def _pysbd_spans(segment: str, lang: str) -> list[tuple[int, int]]:
    """A paragraph block's text → sentence (start, end) pairs, each running to the next one's start.

    Up to ``_PYSBD_MAX`` characters go to pysbd whole; a longer segment goes in windows.
    """
    if len(segment) > _PYSBD_MAX:
        return _pysbd_windowed(segment, lang)
    return _pysbd_whole(segment, lang)


def _pysbd_windowed(segment: str, lang: str) -> list[tuple[int, int]]:
    """A long segment → sentence spans from pysbd run on windows of at most ``_PYSBD_WINDOW`` characters.

    A window ends at the last pysbd break in its second half, so the next window starts where pysbd
    saw a sentence start and the sentence it had cut off is read again whole. Each window moves on
    by at least half its size: every character is read at most twice, linear in the segment. A
    window with no break there is cut at a space (or, with none, at its end), as ``_pieces`` does.
    """
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(segment)
    while pos < n:
        stop = min(pos + _PYSBD_WINDOW, n)
        window = segment[pos:stop]
        found = _pysbd_whole(window, lang) if _BREAK_CANDIDATE.search(window) else [(0, len(window))]
        cut = len(window)
        if stop < n:
            half = len(window) // 2
            breaks = [a for a, _ in found if a >= half]
            if breaks:
                cut = breaks[-1]
            else:
                space = segment.rfind(" ", pos + half, stop)
                cut = space - pos if space > pos else len(window)
        spans.extend((pos + a, pos + min(b, cut)) for a, b in found if a < cut)
        pos += cut
    return spans


def _pysbd_whole(segment: str, lang: str) -> list[tuple[int, int]]:
    """pysbd's segments → (start, end) by locating each in order (robust to pysbd's own offsets)."""
    spans: list[tuple[int, int]] = []
    pos = 0
    # pysbd does not start a sentence at a German opening quote; it does at a straight one.
    # Same length, so offsets found in the copy hold for the original.
    segment = segment.translate(_QUOTES_FOR_PYSBD)
    # pysbd's own segment() then relocates each sentence with a freshly compiled regex searched
    # from the text's start (a third of a build's non-encoder time, quadratic in paragraph
    # length); its processor's sentences are located by the plain search below instead.
    segmenter = _segmenter(lang)
    for piece in segmenter.processor(segment).process():
        stripped = piece.strip()
        if not stripped:
            continue
        found = segment.find(stripped, pos)
        if found < 0:  # pysbd altered the text: fall back to the rest as one piece
            spans.append((pos, len(segment)))
            pos = len(segment)
            break
        spans.append((found, found + len(stripped)))
        pos = found + len(stripped)
    if pos < len(segment) and segment[pos:].strip():
        spans.append((pos, len(segment)))
    # Each sentence runs to the next one's start, so no character falls between sentences.
    return [(a, spans[i + 1][0] if i + 1 < len(spans) else len(segment)) for i, (a, _) in enumerate(spans)]


def _repair(segment: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge pysbd breaks that fall inside a closed quotation, after an abbreviation or before lowercase.

    Linear in ``len(segment)`` (up to a log factor): each boundary looks only at the characters
    next to it, never at the whole (growing) merged sentence before it.
    """
    if len(spans) < 2:
        return spans
    quoted = _quote_cover(_quoted_ranges(segment))
    # A closing quote that pysbd put at the start of the next sentence belongs to the previous one.
    spans = [spans[0]] + [
        (a + 1, b) if segment[a] in '“”"»«' and (a + 1 == b or segment[a + 1].isspace()) else (a, b)
        for a, b in spans[1:]
    ]
    spans = [(a, spans[i + 1][0]) if i + 1 < len(spans) else (a, b) for i, (a, b) in enumerate(spans)]
    merged = [spans[0]]
    for a, b in spans[1:]:
        pa, _ = merged[-1]
        if _keep_together(segment, pa, a, quoted):
            merged[-1] = (pa, b)
        else:
            merged.append((a, b))
    return merged


# A dotted token longer than this is not an abbreviation. The bound keeps each boundary's look-back
# constant: unbounded, a run-on line merged piece by piece was re-read at every boundary (quadratic).
_TOKEN_MAX = 64
# Enough of the following text for ``_ORDINAL_BEFORE_MONTH`` to see a whole month name and the
# character after it (its ``\b``).
_AFTER_PEEK = 32


def _keep_together(segment: str, prev_start: int, boundary: int, quoted: tuple[list[int], list[int]]) -> bool:
    """A break at ``boundary`` (sentence before it starts at ``prev_start``) → should it be undone?

    Reads only the whitespace around the boundary, the token before it (at most ``_TOKEN_MAX``
    characters) and a few characters after it, so the cost per boundary does not grow with the text.
    """
    n = len(segment)
    after = boundary
    while after < n and segment[after].isspace():
        after += 1
    if after == n:
        return False
    if _inside(quoted, boundary):
        return True
    if segment[after].islower():
        return True
    token = _token_before_dot(segment, prev_start, boundary)
    if token is not None:
        token = token.lstrip("(\"„“'").casefold()
        parts = [p for p in token.split(".") if p]
        if token in ABBREVIATIONS or (parts and all(p in ABBREVIATIONS for p in parts)):
            return True
        if re.fullmatch(r"\d{1,2}", token) and _ORDINAL_BEFORE_MONTH.match(segment[after : after + _AFTER_PEEK]):
            return True
    return False


def _token_before_dot(segment: str, start: int, end: int) -> str | None:
    """``segment[start:end]`` → the word before its final dot (``"z.B"`` for ``"… z.B. "``), or None.

    None when the text (trailing whitespace ignored) does not end in a word and a dot, or when
    that word is longer than ``_TOKEN_MAX`` (not an abbreviation, and not worth reading back).
    """
    while end > start and segment[end - 1].isspace():
        end -= 1
    if end - start < 2 or segment[end - 1] != "." or segment[end - 2].isspace():
        return None
    limit = max(start, end - 1 - _TOKEN_MAX)
    pos = end - 2
    while pos > limit and not segment[pos - 1].isspace():
        pos -= 1
    if pos == limit and limit > start and not segment[pos - 1].isspace():
        return None  # the word runs on past the look-back bound
    return segment[pos : end - 1]


def _quote_cover(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Quotation ranges → the union of their open interiors, as sorted disjoint (starts, ends).

    With it, "does a quotation surround this boundary?" is one binary search, not a scan of
    every quotation in the paragraph at every boundary.
    """
    starts: list[int] = []
    ends: list[int] = []
    for a, b in sorted(ranges):
        if b - a < 2:
            continue  # no position lies strictly inside
        if ends and a < ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def _inside(cover: tuple[list[int], list[int]], pos: int) -> bool:
    """``_quote_cover`` output and a position → is ``qa < pos < qb`` for some quotation?"""
    starts, ends = cover
    i = bisect_left(starts, pos) - 1
    return i >= 0 and pos < ends[i]


def _quoted_ranges(segment: str, max_len: int = 2000) -> list[tuple[int, int]]:
    """Text → ranges of quotations that open and close within it (German „…“, English “…”, "…")."""
    stack: list[tuple[str, int]] = []
    ranges: list[tuple[int, int]] = []
    # Only the quote marks matter: visiting them alone, not every character in Python, keeps
    # a megabyte paragraph from costing seconds here.
    for m in _QUOTE_MARK.finditer(segment):
        i, ch = m.start(), m.group()
        if ch in "„«":
            stack.append((ch, i))
        elif ch == "“":
            if stack and stack[-1][0] == "„":
                ranges.append((stack.pop()[1], i))
            else:
                stack.append((ch, i))
        elif ch in "”»":
            if stack and stack[-1][0] in "“„«":
                ranges.append((stack.pop()[1], i))
        elif ch == '"':
            if stack and stack[-1][0] == '"':
                ranges.append((stack.pop()[1], i))
            else:
                stack.append((ch, i))
    return [(a, b) for a, b in ranges if b - a <= max_len]


def _cut_long(text: str, span: Span, limit: int) -> list[Span]:
    if span.end - span.start <= limit:
        return [span]
    return list(_pieces(text, span.start, span.end, limit))


def _pieces(text: str, start: int, end: int, limit: int) -> Iterator[Span]:
    """A long span → consecutive pieces of at most ``limit`` characters, cut at whitespace when possible."""
    pos = start
    while pos < end:
        stop = min(pos + limit, end)
        if stop < end:
            cut = text.rfind(" ", pos + limit // 2, stop)
            stop = cut if cut > pos else stop
        piece = Span.trimmed(text, pos, stop)
        if piece.end > piece.start:
            yield piece
        pos = stop


def sentences(doc: Document, settings: ChunkingSettings) -> list[list[Span]]:
    """A document → its sentences, grouped by region (chunks never cross a region); the regions of its
    contact blocks (``aside``) come after the content's, so no chunk mixes the two."""
    return [
        [s for block in region for s in split_sentences(doc.text, block, doc.lang, settings)]
        for region in [*blocks(doc), *(blocks(doc, doc.aside) if doc.aside else [])]
    ]


def chunk_document(doc: Document, settings: ChunkingSettings) -> list[Chunk]:
    """A document → its chunks, in text order, each a window of whole sentences."""
    chunks: list[Chunk] = []
    all_sentences: list[Span] = []
    hidden = _soft_hyphens(doc.text)
    for region in sentences(doc, settings):
        offset = len(all_sentences)
        all_sentences.extend(region)
        for i, j in _chunk_ranges(region, settings, hidden):
            window = all_sentences[offset + i : offset + j]
            first, last = window[0], window[-1]
            before = all_sentences[offset + i - 1] if offset + i > 0 else None
            chunks.append(
                Chunk(
                    id=content_id(doc.id, first.start, last.end),
                    doc_id=doc.id,
                    start=first.start,
                    end=last.end,
                    text=doc.text[first.start : last.end],
                    context=_context(doc, before, doc.text[first.start : last.end]),
                    sentences=tuple(window),
                )
            )
    return sorted(chunks, key=lambda c: (c.start, c.end)) if doc.aside else chunks


def _soft_hyphens(text: str) -> list[int]:
    """A text → the offsets of its soft hyphens (a PDF's line-end hyphens, read by no one), in order."""
    return [m.start() for m in _SOFT_HYPHEN.finditer(text)] if SOFT_HYPHEN in text else []


def _length(a: int, b: int, hidden: Sequence[int]) -> int:
    """``text[a:b]`` and the soft hyphens' offsets in ``text`` → its length as read: without the soft
    hyphens, so a PDF's hyphenated text makes the chunks its plain text makes."""
    return b - a - (bisect_left(hidden, b) - bisect_left(hidden, a) if hidden else 0)


def _chunk_ranges(
    region: Sequence[Span], settings: ChunkingSettings, hidden: Sequence[int] = ()
) -> Iterator[tuple[int, int]]:
    """A region's sentences (and the soft hyphens' offsets) → [i, j) windows, greedy up to the size
    limits, overlapping."""
    n, i = len(region), 0
    while i < n:
        j = i + 1
        while (
            j < n
            and j - i < settings.max_sentences
            and _length(region[i].start, region[j].end, hidden) <= settings.max_chars
        ):
            j += 1
        yield i, j
        if j >= n:
            return
        i = max(j - settings.overlap_sentences, i + 1)


def _context(doc: Document, before: Span | None, text: str) -> str:
    """The title and the sentence before the chunk: embedded with it, never part of its span.

    A chunk that already holds its title (the first one, usually) does not get it twice.
    """
    parts = [doc.title] if doc.title and doc.title.rstrip(" …") not in text else []
    if before is not None:
        parts.append(before.slice(doc.text))
    return "\n".join(parts)


def segments(text: str, start: int, end: int, sentences: Sequence[Span]) -> tuple[list[str], list[int | None]]:
    """``text[start:end]`` holding ``sentences`` → that text cut into consecutive segments, and the sentence each holds.

    For the one-pass encoder (``embed_segments``): every sentence is one segment that starts with
    the whitespace before it (so the segments tokenise as the whole does); text between two
    sentences that is more than whitespace gets a segment of its own, owned by no sentence (None).
    The segments joined give ``text[start:end]`` exactly.
    """
    out: list[str] = []
    owners: list[int | None] = []
    pos = start
    for k, s in enumerate(sentences):
        begin = max(s.start, pos)
        gap = text[pos:begin]
        head = gap.rstrip()
        if head:
            out.append(head)
            owners.append(None)
        out.append(gap[len(head) :] + text[begin : s.end])
        owners.append(k)
        pos = max(pos, s.end)
    if pos < end:
        out.append(text[pos:end])
        owners.append(None)
    return out, owners


def encoder_passes(text: str, sentences: Sequence[Span], max_chars: int) -> list[list[Span]]:
    """A document's sentences (in order) → runs of consecutive sentences, each read in one encoder pass.

    A run ends before it would pass ``max_chars`` or where more than whitespace lies between two
    sentences (a region boundary: text that is not part of the document's kept prose).
    """
    runs: list[list[Span]] = []
    hidden = _soft_hyphens(text)  # the encoder reads the text without them
    for s in sentences:
        run = runs[-1] if runs else None
        if (
            run
            and s.start >= run[-1].end
            and _length(run[0].start, s.end, hidden) <= max_chars
            and not text[run[-1].end : s.start].strip()
        ):
            run.append(s)
        else:
            runs.append([s])
    return runs
