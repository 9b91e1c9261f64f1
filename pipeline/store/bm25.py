"""Lexical index: the chunk terms stored in SQLite → a BM25 score matrix (bm25s) that answers in milliseconds.

The terms of every chunk live in the index's SQLite file (FTS5 table ``lexical``): written in the
same transaction as the chunks, copied row by row in an incremental build, and the source of
the ``term_df`` table. Scoring a question there is slow at scale, though: FTS5 computes BM25 for
every chunk any query term matches (at 100,000 generated chunks p50 36 ms, p95 78 ms with all
terms; 355 ms p50 at 1M). bm25s precomputes each (term, chunk) score into a sparse matrix, so a
question is a sum of a few columns and one partial sort: 0.8 ms at 100,000 chunks, all terms.

The parameters mirror FTS5's ``bm25()`` (Robertson idf clamped at zero, k1 = 1.2, b = 0.75),
so both rank alike (the same top 10 for 200 generated questions at 100k chunks) and an index written
before this file existed — which has only FTS5 — answers the same through FTS5.

Files (``bm25/`` in the generation): bm25s's own ``.npy`` arrays and JSON vocabulary and
parameters, read memory-mapped with ``allow_pickle=False``, plus ``rows.npy``, the chunk row of
each matrix row.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .vectors import npy_layout, npy_problem

DIR = "bm25"
K1 = 1.2  # term-frequency saturation; it also bounds every stored score (LexicalIndex)
PARAMS = {"method": "robertson", "k1": K1, "b": 0.75}
# bm25s's files (its default names) and ours: what a damaged-file check looks at.
MATRIX = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy")
FILES = ("rows.npy", *MATRIX, "params.index.json", "vocab.index.json")


def build(db: sqlite3.Connection, out: Path) -> dict[str, Any]:
    """The ``lexical`` table of an index database → ``out/`` holding its BM25 matrix; returns its manifest entry."""
    import bm25s
    from bm25s.tokenization import Tokenized

    vocab: dict[str, int] = {}
    rows: list[int] = []
    ids: list[list[int]] = []
    for row, text in db.execute("SELECT rowid, terms FROM lexical ORDER BY rowid"):
        rows.append(int(row))
        ids.append([vocab.setdefault(t, len(vocab)) for t in text.split()])
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "rows.npy", np.asarray(rows, dtype=np.int64), allow_pickle=False)
    if not vocab:  # no chunks, or only stopwords in them: nothing to score, no lexical hits
        (out / "empty").touch()
        return {"backend": "bm25s", **PARAMS, "chunks": len(rows), "terms": 0}
    model = bm25s.BM25(**PARAMS)
    model.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    model.save(str(out))
    return {"backend": "bm25s", **PARAMS, "chunks": len(rows), "terms": len(vocab)}


def header_problems(folder: Path, chunks: int) -> Iterator[str]:
    """A ``bm25/`` folder and the chunk count → what the ``.npy`` headers say is wrong (names as
    ``bm25/<file>``); reads a few hundred bytes, whatever the size of the matrix.

    ``rows.npy`` must hold one int64 per chunk; the matrix is CSC: ``indptr`` starts at 0 and
    ends at the length of ``data`` and ``indices``. Files that are missing or not files are
    reported by the caller, which looks at every file of the generation.
    """
    problem = npy_problem(folder / "rows.npy", f"{DIR}/rows.npy", "<i8", (chunks,))
    if problem:
        yield problem
    if (folder / "empty").exists() or not all((folder / name).is_file() for name in MATRIX):
        return
    data, indices, indptr = (folder / name for name in MATRIX)
    for path, dtype in ((data, "<f4"), (indices, "<i4"), (indptr, "<i8")):
        problem = npy_problem(path, f"{DIR}/{path.name}", dtype, (None,))
        if problem:
            yield problem
            return
    (nnz,), *_ = npy_layout(data)
    (n_indices,), *_ = npy_layout(indices)
    (n_ptr,), _, _, offset, _ = npy_layout(indptr)
    if nnz != n_indices:
        yield f"{DIR}/{indices.name} holds {n_indices} entries, {DIR}/{data.name} {nnz}"
        return
    # Two int64 read with pread: the first and last column pointer (0 and the number of entries).
    with open(indptr, "rb") as f:
        first = int.from_bytes(os.pread(f.fileno(), 8, offset), "little", signed=True) if n_ptr else None
        last = (
            int.from_bytes(os.pread(f.fileno(), 8, offset + 8 * (n_ptr - 1)), "little", signed=True) if n_ptr else None
        )
    if n_ptr < 2 or first != 0 or last != nnz:
        yield f"{DIR}/{indptr.name} is damaged (its column pointers run from {first} to {last}, expected 0 to {nnz})"


class LexicalIndex:
    """A generation's ``bm25/`` folder → BM25 search over its chunks (arrays memory-mapped)."""

    def __init__(self, folder: Path) -> None:
        self.rows = np.load(folder / "rows.npy", mmap_mode="r", allow_pickle=False)
        self._model = None
        self._vocab: dict[str, int] = {}
        if not (folder / "empty").exists():
            import bm25s

            self._model = bm25s.BM25.load(str(folder), mmap=True, allow_pickle=False)
            self._vocab = self._model.vocab_dict
            if self._model.scores["num_docs"] != len(self.rows):
                raise ValueError(f"{folder}: {self._model.scores['num_docs']} scored chunks, {len(self.rows)} rows")
        # No stored score exceeds idf · (k1 + 1) with Robertson's idf ≤ ln(2n + 2): a sum above this
        # bound per query term (or not a number) is a damaged matrix, seen in the scores already computed.
        self._bound = (K1 + 1) * math.log(2 * len(self.rows) + 2) + 1e-3

    def search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Query terms → (chunk row, BM25 score ≥ 0; higher is better) of the at most k best chunks that contain a term."""
        ids = sorted({self._vocab[t] for t in terms if t in self._vocab})
        if self._model is None or not ids or k <= 0:
            return []
        scores = self._model.get_scores(ids)
        hit = np.flatnonzero(scores > 0)
        found = scores[hit]
        if len(found) and not (np.isfinite(found).all() and found.max() <= self._bound * len(ids)):
            raise ValueError("BM25 scores that no BM25 matrix holds (not a number, or above its bound)")
        # Every chunk that contains a term is a hit, as in FTS5, even when that term is in half the
        # chunks or more: its idf (and each score) is zero then, but the matrix stores those zeros,
        # so the term's column still lists its chunks.
        data, indptr, indices = (self._model.scores[key] for key in ("data", "indptr", "indices"))
        common = [t for t in ids if indptr[t + 1] > indptr[t] and data[indptr[t]] == 0]
        if common:
            hit = np.union1d(hit, np.concatenate([indices[indptr[t] : indptr[t + 1]] for t in common]))
        if len(hit) > k:
            hit = hit[np.argpartition(-scores[hit], k - 1)[:k]]
        # Best first; equal scores in row order, so the result does not depend on the partial sort.
        order = hit[np.lexsort((hit, -scores[hit]))]
        return [(int(self.rows[i]), float(scores[i])) for i in order]
