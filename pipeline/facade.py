"""The Python facade: build an index, open it, ask questions, get ``Answer`` values.

    >>> import pipeline
    >>> pipeline.build(["seeds"], "index")            # doctest: +SKIP
    >>> idx = pipeline.open_index("index")            # doctest: +SKIP
    >>> idx.ask("who signed the Duisburg declaration?").to_dict()   # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from pathlib import Path
from typing import Any, Sequence

from . import answering, dialogue
from .embedding import Embedder
from .retrieval import Retriever
from .settings import RetrievalSettings, Settings
from .store import IndexReader
from .types import Answer, Hit, Span


class QuestionError(ValueError):
    """A question that cannot be asked as given: empty, without a single letter or digit, longer than
    ``answer.max_question_chars``, or not valid text. The message says which, and what to do;
    the CLI prints it as one line (exit code 2), the chat shows it as the reply, the ``/ask``
    API returns it as ``{"error": message}``.
    """


# Control characters (NUL, escapes pasted from a terminal) carry nothing to search for.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def check_question(question: object, max_chars: int) -> str:
    """A question as typed → the question that is asked (trimmed, control characters as spaces), or QuestionError.

    Questions that are only punctuation, symbols or emoji have nothing to match and are
    refused rather than answered with whatever passage is nearest; questions in any
    language and with HTML, SQL or search syntax in them are asked as they are (they are
    only ever embedded and quoted, never interpreted).
    """
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, not {type(question).__name__}")
    if _has_surrogates(question):
        raise QuestionError("the question is not valid text (it holds bytes that are not UTF-8); type it again")
    question = _CONTROL.sub(" ", question).strip()
    if not question:
        raise QuestionError("the question is empty; ask something, e.g. \"who signed the Duisburg declaration?\"")
    if len(question) > max_chars:
        raise QuestionError(
            f"the question has {len(question):,} characters; at most {max_chars:,} are accepted "
            "(setting answer.max_question_chars); ask it in a sentence or two"
        )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in question):
        raise QuestionError("the question has no words (only punctuation, symbols or emoji); ask it in words")
    return question


class Index:
    """An open index: ``search`` for passages, ``ask`` for a cited answer."""

    def __init__(self, index_dir: str | os.PathLike[str], settings: Settings | None = None,
                 embedder: Embedder | None = None) -> None:
        self.dir = Path(index_dir)
        self.settings = settings or Settings()
        # FAISS loaded now: a damaged file fails at open, not in the middle of a question.
        self.reader = IndexReader.open(index_dir, with_faiss=True)
        self.retriever = Retriever(self.reader, embedder, self.settings.retrieval)
        self._texts: dict[str, str] = {}
        self._df: dict[str, int] = {}
        self._phrase_vectors: dict[str, Any] = {}
        self.n_chunks = int(self.reader.manifest.get("counts", {}).get("chunks", 0))

    def text_of(self, doc_id: str) -> str:
        """A document id → its decoded text (cached)."""
        if doc_id not in self._texts:
            self._texts[doc_id] = self.reader.document(doc_id).text
        return self._texts[doc_id]

    def df(self, term: str) -> int:
        if term not in self._df:
            self._df[term] = self.reader.document_frequency(term)
        return self._df[term]

    def chunk_containing(self, doc_id: str, span: Span) -> str:
        return self.reader.chunk_containing(doc_id, span)

    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]:
        return self.reader.sentences_before(doc_id, start, n)

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]:
        """A short query and short texts → cosine similarities by the index's embedder.

        Passage vectors of short phrases are cached (bounded): the corpus is fixed, so the
        same phrases come back with other questions.
        """
        embedder = self.retriever.embedder
        q = embedder.embed([query], "query")[0]
        # Read the cache into a local dict: another thread (the chat serves questions in parallel)
        # may clear the shared cache between our update and our read.
        cache = self._phrase_vectors
        got = {t: v for t in dict.fromkeys(texts) if (v := cache.get(t)) is not None}
        todo = [t for t in dict.fromkeys(texts) if t not in got]
        if todo:
            fresh = dict(zip(todo, embedder.embed(todo, "passage")))
            got.update(fresh)
            if len(cache) > 4096:
                cache.clear()
            cache.update(fresh)
        return [float(got[t] @ q) for t in texts]

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """A question → the best passages (hybrid retrieval), best first; QuestionError as for ``ask``."""
        return self.retriever.search(check_question(question, self.settings.answer.max_question_chars), k)

    def ask(self, question: str, k: int | None = None, history: Sequence[str] = (),
            retrieval: RetrievalSettings | None = None) -> Answer:
        """A question → an Answer: quoted sentences with exact citations, or an abstention.

        Raises ``QuestionError`` (a ``ValueError``) for a question that cannot be asked: see
        ``check_question``.

        ``history``: the user's earlier questions in this conversation (oldest first); a
        follow-up is searched together with what it leans on. ``retrieval`` overrides the
        retrieval settings for this question (the chat's settings panel).
        """
        question = check_question(question, self.settings.answer.max_question_chars)
        # Earlier questions were checked when they were asked; here they only lose what cannot be searched.
        limit = self.settings.answer.max_question_chars
        history = [_CONTROL.sub(" ", h) for h in history
                   if isinstance(h, str) and len(h) <= limit and not _has_surrogates(h)]
        t0 = time.perf_counter()
        searched = dialogue.standalone(question, history)
        hits, timings = self.retriever.search_timed(searched, k, retrieval)
        t1 = time.perf_counter()
        result = answering.answer(question, hits, self, self.settings.answer, searched)
        shown = tuple(hits)
        if self.settings.answer.cited_passages_first and result.citations:
            shown = answering.cited_first(hits, result.citations, self.reader.chunk_by_id, len(hits))
        t2 = time.perf_counter()
        timings = {**timings, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return Answer(question=result.question, text=result.text, citations=result.citations, hits=shown,
                      abstained=result.abstained, timings_ms={k: round(v, 2) for k, v in timings.items()})

    def close(self) -> None:
        self.reader.close()


def _has_surrogates(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def open_index(index_dir: str | os.PathLike[str] = "index", settings: Settings | None = None,
               embedder: Embedder | None = None) -> Index:
    """An index directory → an open Index (fails with what to run if it is missing or mismatched)."""
    return Index(index_dir, settings, embedder)


def answer_to_dict(answer: Answer, **extra: Any) -> dict[str, Any]:
    """An Answer → the JSON contract: question, answer, abstained, citations[], passages[], timings_ms."""
    return {
        **extra,
        "question": answer.question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [
            {"n": c.n, "source": c.source, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "start": c.start,
             "end": c.end, "text": c.text, "score": c.score}
            for c in answer.citations
        ],
        "passages": [
            {"rank": h.rank, "source": h.source, "doc_id": h.chunk.doc_id, "chunk_id": h.chunk.id,
             "start": h.chunk.start, "end": h.chunk.end, "text": h.chunk.text, "score": round(h.score, 6),
             "origin": h.origin, "group": h.group,
             "duplicates": [{"source": s, "start": a, "end": b} for s, a, b in h.duplicates]}
            for h in answer.hits
        ],
        "timings_ms": dict(answer.timings_ms),
    }
