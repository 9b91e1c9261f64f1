"""Chunking: ``Document`` (text + kept lines) → sentences → ``Chunk`` values with exact offsets.

Sentences come from pysbd (rule-based, German and English), then three repairs that
pysbd misses on German news: no break inside a quotation („…“, "…", “…”) that closes in
the same paragraph, none after an abbreviation such as ``Prof.Dr.``, and none before a
lowercase word. Offsets are found by walking the text, never by re-joining strings, so
``doc.text[start:end] == chunk.text`` holds by construction and is checked by tests.

A chunk is a few consecutive sentences (``max_chars``, ``max_sentences``) sharing
``overlap_sentences`` with its neighbour. Chunks never span a line that cleaning removed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator, Sequence

from .settings import ChunkingSettings
from .types import Chunk, Document, Span, content_id

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
_QUOTES_FOR_PYSBD = str.maketrans({"„": '"', "“": '"', "”": '"'})
_SOFT_WRAP_MIN = 50  # shorter lines are headings or list items: a hard break


def blocks(doc: Document) -> list[list[Span]]:
    """A document's kept lines → regions (runs with nothing removed in between) of paragraph blocks.

    A line break inside a paragraph is a soft wrap when the line is long, does not end
    like a sentence, and the next line is not a list item or heading.
    """
    text = doc.text
    regions: list[list[Span]] = []
    current: list[Span] = []
    for span in doc.kept:
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
    return (
        len(last_line) >= _SOFT_WRAP_MIN
        and not _TERMINAL.search(last_line)
        and not _LIST_MARKER.match(following)
    )


@lru_cache(maxsize=8)
def _segmenter(lang: str):  # type: ignore[no-untyped-def]
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


def _pysbd_spans(segment: str, lang: str) -> list[tuple[int, int]]:
    """pysbd's segments → (start, end) by locating each in order (robust to pysbd's own offsets)."""
    if len(segment) > 20000:
        # pysbd is quadratic on huge run-on lines; cut at whitespace first.
        return [(s.start, s.end) for s in _windows(segment, 0, len(segment), 5000)]
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
    """Merge pysbd breaks that fall inside a closed quotation, after an abbreviation or before lowercase."""
    if len(spans) < 2:
        return spans
    quoted = _quoted_ranges(segment)
    # A closing quote that pysbd put at the start of the next sentence belongs to the previous one.
    spans = [spans[0]] + [
        (a + 1, b) if segment[a] in "“”\"»«" and (a + 1 == b or segment[a + 1].isspace()) else (a, b)
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


def _keep_together(segment: str, prev_start: int, boundary: int, quoted: list[tuple[int, int]]) -> bool:
    before = segment[prev_start:boundary].rstrip()
    after = segment[boundary:].lstrip()
    if not after:
        return False
    if any(qa < boundary < qb for qa, qb in quoted):
        return True
    if after[0].islower():
        return True
    m = re.search(r"(\S+)\.$", before)
    if m:
        token = m.group(1).lstrip("(\"„“'").casefold()
        parts = [p for p in token.split(".") if p]
        if token in ABBREVIATIONS or (parts and all(p in ABBREVIATIONS for p in parts)):
            return True
        if re.fullmatch(r"\d{1,2}", token) and _ORDINAL_BEFORE_MONTH.match(after):
            return True
    return False


def _quoted_ranges(segment: str, max_len: int = 2000) -> list[tuple[int, int]]:
    """Text → ranges of quotations that open and close within it (German „…“, English “…”, "…")."""
    stack: list[tuple[str, int]] = []
    ranges: list[tuple[int, int]] = []
    for i, ch in enumerate(segment):
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
    return list(_windows(text, span.start, span.end, limit))


def _windows(text: str, start: int, end: int, limit: int) -> Iterator[Span]:
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
    """A document → its sentences, grouped by region (chunks never cross a region)."""
    return [
        [s for block in region for s in split_sentences(doc.text, block, doc.lang, settings)]
        for region in blocks(doc)
    ]


def chunk_document(doc: Document, settings: ChunkingSettings) -> list[Chunk]:
    """A document → its chunks, in text order, each a window of whole sentences."""
    chunks: list[Chunk] = []
    all_sentences: list[Span] = []
    for region in sentences(doc, settings):
        offset = len(all_sentences)
        all_sentences.extend(region)
        for i, j in _windows_of(region, settings):
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
    return chunks


def _windows_of(region: Sequence[Span], settings: ChunkingSettings) -> Iterator[tuple[int, int]]:
    """A region's sentences → [i, j) windows, greedy up to the size limits, overlapping."""
    n, i = len(region), 0
    while i < n:
        j = i + 1
        while (
            j < n
            and j - i < settings.max_sentences
            and region[j].end - region[i].start <= settings.max_chars
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
        out.append(gap[len(head):] + text[begin : s.end])
        owners.append(k)
        pos = max(pos, s.end)
    if pos < end:
        out.append(text[pos:end])
        owners.append(None)
    return out, owners


def sentence_windows(text: str, sentences: Sequence[Span], max_chars: int) -> list[list[Span]]:
    """A document's sentences (in order) → runs of consecutive sentences, each read in one encoder pass.

    A run ends before it would pass ``max_chars`` or where more than whitespace lies between two
    sentences (a region boundary: text that is not part of the document's kept prose).
    """
    runs: list[list[Span]] = []
    for s in sentences:
        run = runs[-1] if runs else None
        if run and s.start >= run[-1].end and s.end - run[0].start <= max_chars and not text[run[-1].end : s.start].strip():
            run.append(s)
        else:
            runs.append([s])
    return runs
