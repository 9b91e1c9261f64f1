"""The BM25 matrix: ranks as FTS5's bm25() does, handles empty inputs, and a damaged one is reported."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pipeline.text import lexical
from pipeline.embedding import HashingEmbedder
from pipeline.indexing import build
from pipeline.store.bm25 import DIR, LexicalIndex
from pipeline.store.bm25 import build as build_matrix
from pipeline.store import IndexCorrupt, IndexReader


def _db(docs: list[str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')")
    # Rows as a build numbers them: from 0, in order, but not necessarily dense after a copy.
    db.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", [(3 * i, d) for i, d in enumerate(docs)])
    return db


def _fts5(db: sqlite3.Connection, terms: list[str], k: int) -> list[int]:
    return [r for (r,) in db.execute(
        "SELECT rowid FROM lexical WHERE lexical MATCH ? ORDER BY bm25(lexical), rowid LIMIT ?",
        (lexical.match_expression(terms), k))]


def test_ranks_like_fts5_on_random_documents(tmp_path: Path) -> None:
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(300)]
    # Zipf-like draws, so some terms are in most documents (idf clamped at zero) and some in few.
    weights = [1 / (i + 1) for i in range(len(vocab))]
    docs = [" ".join(rng.choices(vocab, weights, k=rng.randint(5, 60))) for _ in range(2000)]
    db = _db(docs)
    entry = build_matrix(db, tmp_path / DIR)
    assert entry["chunks"] == 2000 and entry["k1"] == 1.2 and entry["b"] == 0.75
    index = LexicalIndex(tmp_path / DIR)
    agree = []
    for _ in range(100):
        query = rng.sample(vocab[5:], rng.randint(1, 4))
        ours = [r for r, _ in index.search(query, 10)]
        assert all(r % 3 == 0 for r in ours)  # rows are the table's rowids, not matrix positions
        theirs = _fts5(db, query, 10)
        agree.append(len(set(ours) & set(theirs)) / max(len(theirs), 1))
        scores = [s for _, s in index.search(query, 10)]
        assert scores == sorted(scores, reverse=True) and all(s >= 0 for s in scores)
    assert np.mean(agree) >= 0.98


def test_unknown_terms_empty_tables_and_stopword_only_chunks(tmp_path: Path) -> None:
    index = LexicalIndex(tmp_path / DIR) if build_matrix(_db([]), tmp_path / DIR) else None
    assert index is not None and index.search(["anything"], 5) == []
    build_matrix(_db(["", ""]), tmp_path / "b")
    assert LexicalIndex(tmp_path / "b").search(["x"], 5) == []
    build_matrix(_db(["alpha beta", "beta gamma"]), tmp_path / "c")
    c = LexicalIndex(tmp_path / "c")
    assert c.search(["nothing"], 5) == [] and c.search(["alpha"], 0) == []
    # "alpha" is in half of the chunks: its idf is zero, yet the chunk that has it is a hit (as in FTS5).
    assert [r for r, _ in c.search(["alpha", "nothing"], 5)] == [0]
    assert [r for r, _ in c.search(["beta"], 5)] == [0, 3]


def test_a_damaged_matrix_is_reported_with_what_to_run(seeds_copy: Path, tmp_path: Path) -> None:
    build([str(seeds_copy)], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    gen = reader.dir
    reader.close()
    (gen / DIR / "rows.npy").write_bytes(b"not numpy")
    with pytest.raises(IndexCorrupt, match="bm25") as err:
        IndexReader.open(tmp_path / "idx")
    assert "build" in str(err.value)
