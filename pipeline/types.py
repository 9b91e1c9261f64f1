"""Core types: the frozen values that flow from one stage to the next.

sources → Document → chunking → Chunk → store/retrieval → Hit → answering → Answer.
Every span is a pair of character offsets into ``Document.text`` (the decoded file),
so ``doc.text[start:end]`` is always the exact text shown or cited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def content_id(*parts: object, length: int = 16) -> str:
    """Parts → a short, deterministic hex id (same content, same id, across rebuilds)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8"))
        h.update(b"\x1f")  # unit separator: ("ab", "c") and ("a", "bc") differ
    return h.hexdigest()[:length]


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` into a document's text."""

    start: int
    end: int

    def slice(self, text: str) -> str:
        return text[self.start : self.end]

    @staticmethod
    def trimmed(text: str, start: int, end: int) -> Span:
        """[start, end) of text → the same range without leading and trailing whitespace."""
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return Span(start, end)


@dataclass(frozen=True)
class Region:
    """Where ``text[start:end]`` of a document sits in its file: page ``number`` of a PDF or an
    image (``unit`` "page"), paragraph of a Word or OpenDocument file ("paragraph"), slide of a
    PowerPoint file ("slide"); numbers from 1."""

    start: int
    end: int
    unit: str
    number: int


@dataclass(frozen=True)
class Box:
    """The box of the characters ``text[start:end]`` (a word on one line) on page ``page`` (from 1):
    PDF points, origin at the page's bottom left, ``x0 < x1`` and ``y0 < y1`` (as PDF viewers measure)."""

    start: int
    end: int
    page: int
    x0: float
    y0: float
    x1: float
    y1: float


@dataclass(frozen=True)
class SourceText:
    """A file read and decoded, before cleaning.

    ``text`` is the decoded file, or for HTML the extracted main text, for PDF, Office files and
    scans the text read from them; ``title_hint`` and ``date_hint`` come from markup (HTML
    metadata, document properties) when there is any. ``regions`` and ``boxes`` map the text back
    to pages, paragraphs or slides and to word boxes; ``furniture`` marks what repeats on every
    page (running headers, footers, page numbers), which cleaning keeps out of passages.
    """

    source: str
    text: str
    sha256: str
    encoding: str
    format: str
    title_hint: str | None = None
    date_hint: str | None = None
    regions: tuple[Region, ...] = ()
    boxes: tuple[Box, ...] = ()
    furniture: tuple[Span, ...] = ()


@dataclass(frozen=True)
class Document:
    """One source file, decoded.

    ``text`` is the decoded file (for HTML: the extracted main text). ``kept`` lists the
    blocks that cleaning kept (boilerplate removed), as spans into ``text``; ``aside`` the
    contact blocks (press contacts, phone and e-mail lines): indexed as passages of their
    own, ranked below the content.
    ``meta`` carries ``encoding``, ``format``, ``sha256`` and, when ``text`` differs
    from the file's UTF-8 bytes, ``text_path`` (where the index stores ``text``).
    ``regions`` and ``boxes``: the file's pages, paragraphs or slides and word boxes (``SourceText``).
    """

    id: str
    source: str
    text: str
    title: str
    date: str | None
    lang: str
    kept: tuple[Span, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    aside: tuple[Span, ...] = ()
    regions: tuple[Region, ...] = ()
    boxes: tuple[Box, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A retrieval unit: a few consecutive sentences of one document.

    Invariant: ``doc.text[start:end] == text``. ``sentences`` are the sentence spans
    (absolute offsets) inside the chunk; ``context`` (title, previous sentence) may be
    embedded with the chunk but is never part of its span.
    """

    id: str
    doc_id: str
    start: int
    end: int
    text: str
    context: str = ""
    sentences: tuple[Span, ...] = ()


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not indexed, and why (one line a user can act on)."""

    path: str
    reason: str


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score, 1-based rank and which retrievers found it.

    ``group`` is its near-duplicate group (its doc id when alone); ``duplicates`` lists
    ``(source, start, end)`` of near-identical passages in other documents of the group,
    collapsed into this one; ``following`` are the sentences right after the chunk (answer
    candidates, not part of the passage); ``sentence_scores`` are the question's similarity
    to each of ``chunk.sentences + following``.
    """

    chunk: Chunk
    score: float
    rank: int
    origin: str
    source: str = ""
    group: str = ""
    duplicates: tuple[tuple[str, int, int], ...] = ()
    following: tuple[Span, ...] = ()
    sentence_scores: tuple[float, ...] = ()


@dataclass(frozen=True)
class Citation:
    """A cited span: the ``n`` of its ``[n]`` marker and exact offsets into the source.

    For a PDF or a scan, ``page`` (from 1) and ``boxes`` (``(page, x0, y0, x1, y1)`` in PDF points,
    origin bottom left, one per cited word on a line); for Word and OpenDocument files the
    ``paragraph``, for PowerPoint the ``slide`` where the cited text starts.
    """

    n: int
    source: str
    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float
    page: int | None = None
    paragraph: int | None = None
    slide: int | None = None
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()


@dataclass(frozen=True)
class SentenceCheck:
    """One sentence of a generated answer: its citation numbers and how well the cited passages support it."""

    text: str
    citations: tuple[int, ...]
    support: float
    supported: bool


@dataclass(frozen=True)
class Answer:
    """The result of ``ask``: answer text with ``[n]`` markers, its citations and the hits.

    ``mode`` is "extractive" (quoted sentences) or "llm" (generated, then checked: ``sentences``
    holds each sentence's support, ``notes`` what was dropped, flagged or fell back).
    ``abstain_reason`` says why a refusal refused: "empty_index", "no_passages", "no_known_word", "not_stated"
    (the passages are on topic but none states the answer; they are kept as the closest) or
    "off_topic"; "llm_refused" when a generated answer refused; None for an answer.
    """

    question: str
    text: str
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    abstained: bool
    timings_ms: Mapping[str, float] = field(default_factory=dict)
    abstain_reason: str | None = None
    mode: str = "extractive"
    sentences: tuple[SentenceCheck, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The answer → the JSON contract of ``ask --json``: question, answer, abstained, abstain_reason, citations[],
        passages[], timings_ms, mode, sentences[], notes (see README)."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "citations": [
                {
                    "n": c.n,
                    "source": c.source,
                    "doc_id": c.doc_id,
                    "chunk_id": c.chunk_id,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "score": c.score,
                    "page": c.page,
                    "paragraph": c.paragraph,
                    "slide": c.slide,
                    "boxes": [list(b) for b in c.boxes],
                }
                for c in self.citations
            ],
            "passages": [
                {
                    "rank": h.rank,
                    "source": h.source,
                    "doc_id": h.chunk.doc_id,
                    "chunk_id": h.chunk.id,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "text": h.chunk.text,
                    "score": round(h.score, 6),
                    "origin": h.origin,
                    "group": h.group,
                    "duplicates": [{"source": s, "start": a, "end": b} for s, a, b in h.duplicates],
                }
                for h in self.hits
            ],
            "timings_ms": dict(self.timings_ms),
            "mode": self.mode,
            "sentences": [
                {"text": c.text, "citations": list(c.citations), "support": c.support, "supported": c.supported}
                for c in self.sentences
            ],
            "notes": list(self.notes),
        }
