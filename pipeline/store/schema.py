"""What an index's SQLite file holds: its schema, and rows turned back into the pipeline's types.

Tables: ``documents`` (text, kept spans, metadata, MinHash, duplicate group), ``chunks`` and
``sentences`` (spans and the keys of their vectors; row i = row i of the vector files),
``lexical`` (FTS5: each chunk's terms), ``regions`` (page, paragraph or slide of a span) and
``boxes`` (a PDF word's box on its page), plus ``term_df`` written at the end of a build.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..types import Chunk, Document, Span

SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
    title TEXT, date TEXT, lang TEXT, text TEXT NOT NULL, kept TEXT NOT NULL,
    meta TEXT NOT NULL, minhash BLOB, dup_group TEXT
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, context TEXT NOT NULL,
    sentences TEXT NOT NULL, embed_key TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_key ON chunks(embed_key);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    embed_key TEXT NOT NULL
);
CREATE INDEX sentences_span ON sentences(doc_id, start, "end");
CREATE INDEX sentences_key ON sentences(embed_key);
CREATE VIRTUAL TABLE lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
CREATE TABLE regions (
    doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, unit TEXT NOT NULL, number INTEGER NOT NULL
);
CREATE INDEX regions_doc ON regions(doc_id, start);
CREATE TABLE boxes (
    doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL
);
CREATE INDEX boxes_doc ON boxes(doc_id, start);
"""
# A word box starts at most this many characters before a span that cuts into the word.
LONGEST_WORD = 200


@dataclass(frozen=True)
class Location:
    """Where a span of a document's text is in its file: page (PDF, scan), paragraph (DOCX, ODT) or
    slide (PPTX) where it starts, and the boxes of its lines on the pages ``(page, x0, y0, x1, y1)``."""

    page: int | None = None
    paragraph: int | None = None
    slide: int | None = None
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()

    def fields(self) -> dict[str, Any]:
        """The parts that are known → a dict (``page``, ``paragraph``, ``slide``, ``boxes``): empty for plain text."""
        out: dict[str, Any] = {
            k: v
            for k, v in (("page", self.page), ("paragraph", self.paragraph), ("slide", self.slide))
            if v is not None
        }
        if self.boxes:
            out["boxes"] = [list(b) for b in self.boxes]
        return out


def merge_line_boxes(
    words: Sequence[tuple[int, float, float, float, float]],
) -> tuple[tuple[int, float, float, float, float], ...]:
    """Word boxes in text order → one box per line: consecutive words on a page whose heights overlap."""
    out: list[tuple[int, float, float, float, float]] = []
    for page, x0, y0, x1, y1 in words:
        if out:
            p, a0, b0, a1, b1 = out[-1]
            if p == page and y0 < b1 and y1 > b0 and x0 >= a0:
                out[-1] = (p, a0, min(b0, y0), max(a1, x1), max(b1, y1))
                continue
        out.append((page, x0, y0, x1, y1))
    return tuple(out)


def write_term_df(db: sqlite3.Connection, schema: str) -> None:
    """Chunks per term, from FTS5's own statistics (one pass over the index) → table ``<schema>.term_df``."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_vocab USING fts5vocab(main, 'lexical', 'row')")
    db.execute(f"CREATE TABLE {schema}.term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")
    db.execute(f"INSERT INTO {schema}.term_df SELECT term, doc FROM temp.lexical_vocab")


@dataclass(frozen=True)
class NewChunk:
    """A chunk to write: the key of the exact text embedded for it, and its lexical terms."""

    chunk: Chunk
    embed_key: str
    terms: str


@dataclass(frozen=True)
class NewSentence:
    """A sentence span of a document and the key of its embedded text."""

    span: Span
    embed_key: str


def in_batches(db: sqlite3.Connection, sql: str, values: list[Any], size: int = 900) -> Iterator[tuple[Any, ...]]:
    for i in range(0, len(values), size):
        part = values[i : i + size]
        yield from db.execute(sql.format(",".join("?" * len(part))), part)


def document_of(row: tuple[Any, ...]) -> Document:
    doc_id, source, text, title, date, lang, kept, meta = row
    return Document(
        id=doc_id,
        source=source,
        text=text,
        title=title or "",
        date=date,
        lang=lang or "und",
        kept=tuple(Span(a, b) for a, b in json.loads(kept)),
        meta=json.loads(meta),
    )


def chunk_of(row: tuple[Any, ...]) -> Chunk:
    _, cid, doc_id, start, end, text, context, sents = row
    return Chunk(
        id=cid,
        doc_id=doc_id,
        start=start,
        end=end,
        text=text,
        context=context,
        sentences=tuple(Span(a, b) for a, b in json.loads(sents)),
    )
