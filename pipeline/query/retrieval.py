"""Retrieval: a question → ranked ``Hit`` values, dense and lexical fused.

1. dense: FAISS over chunk vectors; a chunk's dense score also counts its best sentence
   (``sentence_weight``), because one sentence that answers should lift its chunk;
2. lexical: BM25 (SQLite FTS5) over German/English-stemmed terms;
3. fusion — linear (cosine + weighted, normalised BM25; the default, measured better) or
   reciprocal rank fusion — with configurable weights, then an optional cross-encoder;
4. near-duplicate passages (same duplicate group, mostly the same terms) collapse into
   the best one, which lists the others: one fact is not shown as two sources.

The index's own embedder embeds the question; another one fails with what to run.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..embedding import Embedder
from ..manifest import resolve_embedder
from ..settings import RetrievalSettings
from ..store import IndexProblem, IndexReader
from ..text import crosslingual, lexical
from ..text.cleaning import is_contact_text
from ..text.dedup import SAME_REPORT, containment
from ..types import Chunk, Hit
from . import centering
from .centering import Centering

if TYPE_CHECKING:
    from sentence_transformers import CrossEncoder


@dataclass(frozen=True)
class Candidate:
    """A chunk under consideration, with everything the ranking looked at."""

    row: int
    chunk: Chunk
    dense: float
    sentence_scores: tuple[float, ...]
    lexical: float | None


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """(ranked ids, weight) lists → id → Σ weight / (k + rank), ranks from 1."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, item in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


# Up to this many chunks in the documents ``only`` allows, their vectors are read and compared exactly
# (20,000 × 384 floats: 30 MB read, ~10 ms); more, and FAISS searches deeper and its results are filtered.
EXACT_SUBSET = 20_000


def matches(source: str, patterns: Sequence[str]) -> bool:
    """A document's source and ``only`` patterns → whether one matches: a shell pattern on the path (or its
    end) or on the file name, or a part of the path."""
    name = source.rsplit("/", 1)[-1]
    # "reports/*" matches ".../docs/reports/a.pdf": a pattern may name the end of the path.
    return any(
        fnmatch.fnmatch(source, p) or fnmatch.fnmatch(source, "*/" + p) or fnmatch.fnmatch(name, p) or p in source
        for p in patterns
    )


class Retriever:
    """Searches one index generation; the embedder and reranker load on the first question."""

    def __init__(
        self,
        reader: IndexReader,
        embedder: Embedder | None = None,
        settings: RetrievalSettings | None = None,
    ) -> None:
        self.reader = reader
        self.settings = settings or RetrievalSettings()
        self.embedder = resolve_embedder(reader.manifest, embedder)
        reader.check_embedder(self.embedder.id)
        self.sources = {d: s for s, (_, d) in reader.sources().items()}
        self.groups = reader.duplicate_groups()
        self._reranker: CrossEncoder | None = None
        self._centering: tuple[Centering, Centering] | None = None
        self._doc_languages: dict[str, str] | None = None

    def centering(self) -> tuple[Centering, Centering]:
        """The index → the language centering of its chunk and of its sentence vectors, estimated on first use
        from a sample of rows (pipeline/query/centering.py)."""
        if self._centering is None:
            r = self.reader
            chunk_rows = centering.sample_rows(r.rows_in("vectors.npy"))
            sentence_rows = centering.sample_rows(r.rows_in("sentence_vectors.npy"))
            self._centering = (
                centering.fit(r.chunk_vectors(chunk_rows), r.row_languages("chunks", chunk_rows)),
                centering.fit(r.sentence_vectors_at(sentence_rows), r.row_languages("sentences", sentence_rows)),
            )
        return self._centering

    def language_of(self, doc_id: str) -> str:
        """A document id → its language ('und' when unknown)."""
        if self._doc_languages is None:
            self._doc_languages = self.reader.document_languages()
        return self._doc_languages.get(doc_id, centering.UNKNOWN)

    def offsets(self, qv: np.ndarray) -> tuple[dict[str, float], dict[str, float]]:
        """A question vector → language → what is added to its chunks' and its sentences' cosines."""
        w = self.settings.language_centering
        if w <= 0:
            return {}, {}
        chunk, sentence = self.centering()
        return chunk.scores(qv, w), sentence.scores(qv, w)

    def search(self, query: str, k: int | None = None, settings: RetrievalSettings | None = None) -> list[Hit]:
        """A query → the k best hits, best first (k defaults to ``top_k``; ``settings`` override for this query)."""
        return self.search_timed(query, k, settings)[0]

    def search_timed(
        self, query: str, k: int | None = None, settings: RetrievalSettings | None = None
    ) -> tuple[list[Hit], dict[str, float]]:
        """Like ``search``, with the milliseconds spent embedding the query and searching."""
        if settings is not None and settings != self.settings:
            return self._with_settings(settings).search_timed(query, k)
        k = k or self.settings.top_k
        t0 = time.perf_counter()
        qv = self.embedder.embed([query], "query")[0]
        t1 = time.perf_counter()
        candidates = self.candidates(query, qv)
        ranked = self.fuse(candidates)
        if self.settings.reranker and ranked:
            ranked = self.rerank(query, ranked)
        hits = self._with_following(self._collapse_duplicates(ranked, k), qv)
        t2 = time.perf_counter()
        return hits, {"embed_query": (t1 - t0) * 1000, "search": (t2 - t1) * 1000}

    def _with_settings(self, settings: RetrievalSettings) -> Retriever:
        """The same retriever (shared reader, embedder, reranker) with other settings."""
        other = object.__new__(Retriever)
        other.__dict__.update(self.__dict__)
        other.settings = settings
        return other

    def allowed_rows(self) -> set[int] | None:
        """The chunk rows the ``only`` patterns leave to search (None: all); empty when no document matches."""
        if not self.settings.only:
            return None
        docs = [d for d, source in self.sources.items() if matches(source, self.settings.only)]
        return set(self.reader.rows_of(docs))

    def candidates(self, query: str, qv: np.ndarray) -> list[Candidate]:
        """A query and its vector → the union of dense and lexical candidates, each scored both ways
        (among the documents ``only`` allows)."""
        n = self.settings.candidates
        index = self.reader.dense_index  # FAISS, or Milvus (store.milvus)
        allowed = self.allowed_rows()
        dense_rows: list[int] = []
        if allowed is not None and len(allowed) <= EXACT_SUBSET:
            # Some documents only: their vectors are compared exactly (a filter after FAISS's top n could
            # leave none of them).
            rows = sorted(allowed)
            if rows:
                sims = self.reader.chunk_vectors(rows) @ qv
                dense_rows = [rows[i] for i in np.argsort(-sims)[:n]]
        elif index.ntotal:
            try:
                # A large subset (``only``): FAISS reads deeper and the subset's rows are kept.
                deep = n if allowed is None else n * 50
                _, found = index.search(np.ascontiguousarray(qv[None, :], dtype=np.float32), min(deep, index.ntotal))
            except IndexProblem:  # the store's own error (Milvus unreachable), saying already what to do
                raise
            except RuntimeError as err:  # FAISS's own errors; a damaged graph shows here, if at all
                raise self.reader.damaged(f"vectors.faiss is damaged (search failed: {err})") from err
            dense_rows = [int(r) for r in found[0] if r >= 0 and (allowed is None or int(r) in allowed)]
            # FAISS numbers its vectors 0..ntotal-1: another row is a damaged index, not a chunk.
            if dense_rows and max(dense_rows) >= index.ntotal:
                raise self.reader.damaged(
                    f"vectors.faiss is damaged (it returned row {max(dense_rows)} of {index.ntotal})"
                )
        terms = lexical.selective(
            lexical.query_terms(query, equivalents=crosslingual.equivalents),
            self.reader.document_frequency,
            self.settings.lexical_max_df,
        )
        if allowed is None:
            lexical_hits = dict(self.reader.lexical_search(terms, n))
        else:  # the best n among the allowed documents: read deeper, then keep theirs
            lexical_hits = dict([(r, v) for r, v in self.reader.lexical_search(terms, n * 20) if r in allowed][:n])
        rows = list(dict.fromkeys([*dense_rows, *lexical_hits]))
        if not rows:
            return []
        chunks = self.reader.chunks(rows)
        chunk_sims = self.reader.chunk_vectors(rows) @ qv
        sentence_row = self.reader.sentence_rows_of({c.doc_id for c in chunks})
        w = self.settings.sentence_weight
        try:
            per_chunk = [[sentence_row[(c.doc_id, s.start, s.end)] for s in c.sentences] for c in chunks]
        except KeyError as err:  # both lists are written from the same spans: SQLite lost one
            raise self.reader.damaged(
                f"index.sqlite3 is damaged (sentence {err.args[0]} of a chunk is not in the sentences table)"
            ) from err
        # One read and one product for all candidates' sentences (a read per chunk cost ~1 ms a query at 100k).
        all_sims = self.reader.sentence_vectors_at([r for rs in per_chunk for r in rs]) @ qv
        bounds = np.cumsum([0, *map(len, per_chunk)])
        chunk_off, sentence_off = self.offsets(qv)
        out = []
        for i, (row, chunk, sim) in enumerate(zip(rows, chunks, chunk_sims)):
            lang = self.language_of(chunk.doc_id)
            sim = sim + chunk_off.get(lang, 0.0)
            ssims = all_sims[bounds[i] : bounds[i + 1]] + sentence_off.get(lang, 0.0)
            best = float(ssims.max()) if len(ssims) else float(sim)
            out.append(
                Candidate(
                    row, chunk, (1 - w) * float(sim) + w * best, tuple(float(x) for x in ssims), lexical_hits.get(row)
                )
            )
        return out

    def fuse(self, candidates: Sequence[Candidate]) -> list[tuple[Candidate, float, str]]:
        """Candidates → (candidate, fused score, origin), best first."""
        s = self.settings
        by_row = {c.row: c for c in candidates}
        lexical_rows = {c.row for c in candidates if c.lexical is not None}
        if s.fusion == "rrf":
            dense = [c.row for c in sorted(candidates, key=lambda c: -c.dense)]
            lex = [c.row for c in sorted((by_row[r] for r in lexical_rows), key=lambda c: -(c.lexical or 0.0))]
            fused = rrf([(dense, s.dense_weight), (lex, s.lexical_weight)], s.rrf_k)
        else:
            top = max((c.lexical or 0.0 for c in candidates), default=0.0) or 1.0
            # A contact block (indexed aside) ranks below content unless the question is about it.
            fused = {
                c.row: s.dense_weight * c.dense
                + s.lexical_weight * (c.lexical or 0.0) / top
                - (s.aside_penalty if is_contact_text(c.chunk.text) else 0.0)
                for c in candidates
            }
        ranked = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(by_row[r], score, "dense+lexical" if r in lexical_rows else "dense") for r, score in ranked]

    def rerank(self, query: str, ranked: list[tuple[Candidate, float, str]]) -> list[tuple[Candidate, float, str]]:
        """The fused list → its head re-ordered by the cross-encoder (scores become the model's)."""
        if self._reranker is None:
            from sentence_transformers import CrossEncoder

            self._reranker = CrossEncoder(self.settings.reranker, device="cpu")
        head = ranked[: self.settings.rerank_candidates]
        scores = self._reranker.predict([(query, c.chunk.text) for c, _, _ in head])
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        return [(head[i][0], float(scores[i]), head[i][2] + "+rerank") for i in order] + ranked[len(head) :]

    def _with_following(self, hits: list[Hit], qv: np.ndarray) -> list[Hit]:
        """Hits → the same hits, each with the sentences right after its chunk (an answer often follows its lead-in)."""
        n = self.settings.follow_sentences
        if n <= 0:
            return hits
        following = [self.reader.following_sentences(h.chunk.doc_id, h.chunk.end, n) for h in hits]
        # One read of all hits' vectors: from Milvus (store.milvus_sentences) each read is a round trip.
        vectors = self.reader.sentence_vectors_at([r for rows, _ in following for r in rows])
        bounds = np.cumsum([0, *(len(rows) for rows, _ in following)])
        shift = self.offsets(qv)[1]
        out = []
        for i, (hit, (rows, spans)) in enumerate(zip(hits, following)):
            if not rows:
                out.append(hit)
                continue
            # Each hit's product on a copy of its own rows, the shape it had when read alone: the same kernel, the
            # same bits (a product over all hits' rows at once may round differently).
            scores = np.array(vectors[bounds[i] : bounds[i + 1]]) @ qv + shift.get(
                self.language_of(hit.chunk.doc_id), 0.0
            )
            out.append(
                replace(
                    hit, following=tuple(spans), sentence_scores=hit.sentence_scores + tuple(float(x) for x in scores)
                )
            )
        return out

    def _collapse_duplicates(self, ranked: list[tuple[Candidate, float, str]], k: int) -> list[Hit]:
        """The fused list → its first k hits, near-identical passages of duplicate documents folded in."""
        hits: list[Hit] = []
        term_sets: list[set[str]] = []
        for cand, score, origin in ranked:
            if len(hits) == k:
                break
            group = self.groups.get(cand.chunk.doc_id, cand.chunk.doc_id)
            terms = set(lexical.terms(cand.chunk.text, "de"))
            dup_of = next(
                (
                    i
                    for i, h in enumerate(hits)
                    if h.group == group
                    and h.chunk.doc_id != cand.chunk.doc_id
                    and containment(terms, term_sets[i]) >= SAME_REPORT
                ),
                None,
            )
            source = self.sources.get(cand.chunk.doc_id, "")
            if dup_of is not None:
                kept = hits[dup_of]
                hits[dup_of] = replace(kept, duplicates=kept.duplicates + ((source, cand.chunk.start, cand.chunk.end),))
                continue
            hits.append(
                Hit(
                    chunk=cand.chunk,
                    score=score,
                    rank=len(hits) + 1,
                    origin=origin,
                    source=source,
                    group=group,
                    sentence_scores=cand.sentence_scores,
                )
            )
            term_sets.append(terms)
        return hits
