"""The Python facade: build an index, open it, ask questions, get ``Answer`` values.

>>> import pipeline
>>> pipeline.build(["seeds"], "index")            # doctest: +SKIP
>>> idx = pipeline.open_index("index")            # doctest: +SKIP
>>> idx.ask("who signed the Duisburg declaration?").to_dict()   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from .embedding import Embedder
from .indexing import BuildReport, TextInput, add_documents, add_texts, remove_documents
from .query import answering, dialogue, generation
from .query.generation import TokenCallback, chat_model
from .query.retrieval import Retriever, matches
from .settings import RetrievalSettings, Settings, StoreSettings
from .store import IndexProblem, IndexReader, current_dir
from .store.milvus import open_reader
from .text.layout import searchable
from .types import Answer, Citation, Hit, Span

log = logging.getLogger(__name__)


class QuestionError(ValueError):
    """A question that cannot be asked as given: empty, without a single letter or digit, longer than
    ``answer.max_question_chars``, or not valid text. The message says which, and what to do;
    the CLI prints it as one line (exit code 2), the chat shows it as the reply, the ``/ask``
    API returns it as ``{"error": message}``.
    """


# Control characters (NUL, escapes pasted from a terminal) carry nothing to search for.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class NoMatchingDocuments(ValueError):
    """``only`` patterns that match no indexed document; the message names them and what lists the sources."""


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
        raise QuestionError('the question is empty; ask something, e.g. "who signed the Duisburg declaration?"')
    if len(question) > max_chars:
        raise QuestionError(
            f"the question has {len(question):,} characters; at most {max_chars:,} are accepted "
            "(setting answer.max_question_chars); ask it in a sentence or two"
        )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in question):
        raise QuestionError("the question has no words (only punctuation, symbols or emoji); ask it in words")
    return question


def _open_current(index_dir: Path, store: StoreSettings, attempts: int = 5) -> IndexReader:
    """An index directory → a reader of its current generation.

    A build that commits while we open may delete the generation we resolved a moment ago:
    then ``current`` points elsewhere, and the newer generation is opened instead. An error
    with ``current`` unchanged is real (missing or damaged index) and is raised.
    """
    for attempt in range(attempts):
        resolved = current_dir(index_dir)
        try:
            return open_reader(index_dir, store, with_faiss=True)
        except (OSError, IndexProblem):
            if attempt == attempts - 1 or current_dir(index_dir) == resolved:
                raise
    raise AssertionError("unreachable")


class OpenGeneration:
    """One generation of an index, opened for questions: its reader, retriever and caches.

    This is the corpus the answer stages read (text, dates, document frequencies, sentence
    neighbours, phrase similarities). A question is answered from one generation from start
    to end, even when a newer one is committed meanwhile.
    """

    def __init__(self, index_dir: Path, settings: Settings, embedder: Embedder | None) -> None:
        # FAISS loaded now: a damaged file fails at open, not in the middle of a question.
        self.reader = _open_current(index_dir, settings.store)
        self.retriever = Retriever(self.reader, embedder, settings.retrieval)
        self._texts: dict[str, str] = {}
        self._df: dict[str, int] = {}
        self._phrase_vectors: dict[str, Any] = {}
        self._dates: dict[str, str | None] = {}
        self.n_chunks = self.reader.manifest.chunks
        self.users = 0  # questions being answered from it (guarded by the Index's lock)
        self.retired = False  # a newer generation serves new questions; close when the last user leaves

    def text_of(self, doc_id: str) -> str:
        """A document id → its decoded text (cached)."""
        if doc_id not in self._texts:
            self._texts[doc_id] = self.reader.document(doc_id).text
        return self._texts[doc_id]

    def date_of(self, doc_id: str) -> str | None:
        """A document id → its date (from the file's metadata or text), or None."""
        if doc_id not in self._dates:
            self._dates[doc_id] = self.reader.document(doc_id).date
        return self._dates[doc_id]

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
            fresh = dict(zip(todo, embedder.embed([searchable(t) for t in todo], "passage")))
            got.update(fresh)
            if len(cache) > 4096:
                cache.clear()
            cache.update(fresh)
        return [float(got[t] @ q) for t in texts]


class Index:
    """An open index: ``search`` for passages, ``ask`` for a cited answer.

    A running process sees new builds: before each question the index checks which
    generation is current (one ``readlink``) and, when a build has committed a newer one,
    answers from it; the older generation is closed once the questions still using it are
    answered, so no deleted generation stays open.
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        settings: Settings | None = None,
        embedder: Embedder | None = None,
        llm: Any | None = None,
    ) -> None:
        self.dir = Path(index_dir)
        self.settings = settings or Settings()
        # A LangChain chat model for generated answers: the one given, or one from settings.llm.
        self.llm = llm if llm is not None else chat_model(self.settings.llm)
        self._lock = threading.Lock()
        self._generation = OpenGeneration(self.dir, self.settings, embedder)

    # The current generation's parts, for callers that read the index directly.
    @property
    def reader(self) -> IndexReader:
        return self._generation.reader

    @property
    def retriever(self) -> Retriever:
        return self._generation.retriever

    @property
    def n_chunks(self) -> int:
        return self._generation.n_chunks

    def text_of(self, doc_id: str) -> str:
        return self._generation.text_of(doc_id)

    def refresh(self) -> bool:
        """Switch to the index's current generation if a build committed a newer one → whether it switched.

        A damaged or half-removed newer generation leaves this one serving (the error shows
        at the next open, e.g. the next build).
        """
        live = current_dir(self.dir)
        if live is None or live == self._generation.reader.dir:
            return False
        with self._lock:
            old = self._generation
            if current_dir(self.dir) == old.reader.dir:
                return False
            try:
                fresh = OpenGeneration(self.dir, self.settings, old.retriever.embedder)
            except IndexProblem:
                log.warning(
                    "a newer generation of %s could not be opened; still answering from %s",
                    self.dir,
                    old.reader.dir.name,
                    exc_info=True,
                )
                return False
            self._generation = fresh
            old.retired = True
            if old.users == 0:
                old.reader.close()
        return True

    @contextmanager
    def _using(self) -> Iterator[OpenGeneration]:
        """The generation one question is answered from, held open until the answer is made."""
        self.refresh()
        with self._lock:
            generation = self._generation
            generation.users += 1
        try:
            yield generation
        finally:
            with self._lock:
                generation.users -= 1
                if generation.retired and generation.users == 0:
                    generation.reader.close()

    def search(self, question: str, k: int | None = None) -> list[Hit]:
        """A question → the best passages (hybrid retrieval), best first; QuestionError as for ``ask``."""
        question = check_question(question, self.settings.answer.max_question_chars)
        with self._using() as corpus:
            return corpus.retriever.search(question, k)

    def ask(
        self,
        question: str,
        k: int | None = None,
        history: Sequence[str] = (),
        retrieval: RetrievalSettings | None = None,
        generate: bool | None = None,
        on_token: TokenCallback | None = None,
        only: Sequence[str] = (),
    ) -> Answer:
        """A question → an Answer: quoted sentences with exact citations, or an abstention.

        Raises ``QuestionError`` (a ``ValueError``) for a question that cannot be asked: see
        ``check_question``.

        ``history``: the user's earlier questions in this conversation (oldest first); a
        follow-up is searched together with what it leans on. ``retrieval`` overrides the
        retrieval settings for this question (the chat's settings panel). With a chat
        model (``open_index(..., llm=…)`` or ``settings.llm``) the answer is generated and
        its citations checked, unless ``generate=False``; ``on_token`` receives the tokens
        as they arrive. ``only``: search only the documents whose source matches one of these patterns
        (``retrieval.only``); NoMatchingDocuments when none does.
        """
        question = check_question(question, self.settings.answer.max_question_chars)
        if only:
            retrieval = (retrieval or self.settings.retrieval).model_copy(update={"only": tuple(only)})
        # Earlier questions were checked when they were asked; here they only lose what cannot be searched.
        limit = self.settings.answer.max_question_chars
        history = [
            _CONTROL.sub(" ", h) for h in history if isinstance(h, str) and len(h) <= limit and not _has_surrogates(h)
        ]
        t0 = time.perf_counter()
        searched = dialogue.standalone(question, history)
        with self._using() as corpus:
            # The answer may quote from more passages than are shown (answering.from_passages); the ones
            # it quotes are shown first, so a user reads the passages that back the answer.
            shown_k = k or (retrieval or self.settings.retrieval).top_k
            read_k = (
                max(shown_k, self.settings.answer.from_passages)
                if self.settings.answer.cited_passages_first
                else shown_k
            )
            patterns = (retrieval or self.settings.retrieval).only
            if patterns and not any(matches(src, patterns) for src in corpus.retriever.sources.values()):
                raise NoMatchingDocuments(
                    f"no indexed document matches {', '.join(patterns)} (`sources` lists what is indexed)"
                )
            hits, timings = corpus.retriever.search_timed(searched, read_k, retrieval)
            t1 = time.perf_counter()
            result = answering.answer(question, hits, corpus, self.settings.answer, searched)
            if self.llm is not None and generate is not False:
                result = generation.generate(
                    question,
                    answering.question_language(question),
                    hits[:shown_k],
                    corpus,
                    self.llm,
                    self.settings.llm,
                    result,
                    on_token,
                )
                timings = {**timings, **result.timings_ms}
            shown = tuple(hits[:shown_k])
            if self.settings.answer.cited_passages_first and result.citations:
                shown = answering.cited_first(hits, result.citations, corpus.reader.chunk_by_id, shown_k)
            result = replace(result, citations=tuple(located(c, corpus.reader) for c in result.citations))
        t2 = time.perf_counter()
        timings = {**timings, "answer": (t2 - t1) * 1000, "total": (t2 - t0) * 1000}
        return replace(result, hits=shown, timings_ms={k: round(v, 2) for k, v in timings.items()})

    def add(self, paths: Sequence[str | os.PathLike[str]]) -> BuildReport:
        """Files or folders → indexed next to what the index holds; this Index then answers from them."""
        return self._changed(add_documents(paths, self.dir, self.settings, self.retriever.embedder))

    def add_texts(self, texts: Sequence[TextInput]) -> BuildReport:
        """Texts with ids → indexed as sources ``text:<id>`` (same id: replaced)."""
        return self._changed(add_texts(texts, self.dir, self.settings, self.retriever.embedder))

    def remove(self, sources: Sequence[str]) -> BuildReport:
        """Sources as indexed → dropped, and kept out of later builds (``KeyError`` for unknown ones)."""
        return self._changed(remove_documents(sources, self.dir, self.settings, self.retriever.embedder))

    def evaluate(self, qa_path: str | os.PathLike[str], k: int | None = None) -> dict[str, Any]:
        """A QA file (JSONL, see ``python -m pipeline eval``) → the metrics: hit@k, MRR, accuracy, support …"""
        from .evaluation import evaluate, index_span_reader, load_qa

        metrics, _ = evaluate(
            load_qa(qa_path), lambda q: self.ask(q, k), index_span_reader(self), k=k or self.settings.retrieval.top_k
        )
        return metrics

    def sources(self) -> list[str]:
        """The sources this index holds (file paths as given, ``text:<id>`` for texts)."""
        self.refresh()
        return sorted(self.reader.sources())

    def _changed(self, report: BuildReport) -> BuildReport:
        self.refresh()  # a write makes a new generation: read from it from now on
        return report

    def close(self) -> None:
        with self._lock:
            self._generation.retired = True
            if self._generation.users == 0:
                self._generation.reader.close()


def _has_surrogates(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


def open_index(
    index_dir: str | os.PathLike[str] = "index",
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    llm: Any | None = None,
) -> Index:
    """An index directory → an open Index (fails with what to run if it is missing or mismatched).

    ``llm``: any LangChain chat model; answers are then generated from the passages and checked.
    """
    return Index(index_dir, settings, embedder, llm)


def located(citation: Citation, reader: IndexReader) -> Citation:
    """A citation → the same with its page, paragraph or slide and boxes, where its file has them."""
    where = reader.locate(citation.doc_id, citation.start, citation.end)
    return replace(citation, page=where.page, paragraph=where.paragraph, slide=where.slide, boxes=where.boxes)


def answer_to_dict(answer: Answer, **extra: Any) -> dict[str, Any]:
    """An Answer → the JSON contract (``Answer.to_dict``), with ``extra`` keys first."""
    return {**extra, **answer.to_dict()}
