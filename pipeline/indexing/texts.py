"""Texts given directly (the library's ``add_texts``, LangChain's ``add_texts``) rather than as files:
their documents, chunks, and the exact input a chunk's vector is computed from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..settings import Settings
from ..text.chunking import split_sentences
from ..text.cleaning import detect_language
from ..types import Chunk, Document, Span, content_id

# Sources of texts given directly (LangChain's add_texts, ``add_texts``) rather than as files.
TEXT_SOURCE = "text:"


@dataclass(frozen=True)
class TextInput:
    """A text given directly rather than as a file: its id, the text as is, metadata kept verbatim."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def text_document(item: TextInput) -> Document:
    """A directly given text → a Document whose source is ``text:<id>`` (no cleaning: callers split)."""
    try:
        metadata = json.loads(json.dumps(dict(item.metadata), ensure_ascii=False))
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata of text {item.id!r} must be JSON-serialisable ({err})") from err
    sha = hashlib.sha256(json.dumps([item.text, metadata], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    source = TEXT_SOURCE + item.id
    return Document(
        id=content_id(source),
        source=source,
        text=item.text,
        title="",
        date=None,
        lang=detect_language(item.text) if item.text.strip() else "und",
        kept=(Span(0, len(item.text)),),
        meta={"origin": "text", "metadata": metadata, "sha256": sha},
    )


def text_chunks(doc: Document, settings: Settings) -> list[Chunk]:
    """A directly given text → one chunk holding all of it, with its sentences.

    Texts handed over by LangChain are already split by the caller; one text stays one
    retrieval unit so that ``similarity_search`` gives back exactly what was added.
    """
    whole = Span(0, len(doc.text))
    spans = tuple(split_sentences(doc.text, whole, doc.lang, settings.chunking)) if doc.text.strip() else ()
    return [
        Chunk(
            id=content_id(doc.id, 0, whole.end), doc_id=doc.id, start=0, end=whole.end, text=doc.text, sentences=spans
        )
    ]


def embed_input(chunk: Chunk, with_context: bool) -> str:
    """A chunk → the exact text its vector is computed from (context first, if enabled)."""
    return f"{chunk.context}\n{chunk.text}" if with_context and chunk.context else chunk.text
