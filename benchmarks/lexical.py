"""Lexical backends: SQLite FTS5 vs. bm25s (defaults, and with FTS5's parameters: used), same analyzer.

    .venv/bin/python benchmarks/lexical.py

1. Quality: lexical retrieval alone on the seeds QA set (answerable questions).
2. Cost: index N synthetic chunks (random draws from the seeds' vocabulary; a stand-in
   for a large corpus), then time queries and measure memory of the index.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QA, SEEDS, table  # noqa: E402

from pipeline.store import bm25 as lexicalindex  # noqa: E402
from pipeline.text import lexical  # noqa: E402
from pipeline.evaluation import load_qa  # noqa: E402
from pipeline.facade import open_index  # noqa: E402
from pipeline.indexing import build  # noqa: E402

N_SYNTHETIC = 50_000
BACKENDS = {
    "SQLite FTS5 (stores the terms)": lambda docs: fts5(docs),
    "bm25s, its defaults (Lucene idf, k1 1.5)": lambda docs: bm25s_index(docs),
    "bm25s as FTS5's bm25() (scores questions)": lambda docs: bm25s_index(docs, lexicalindex.PARAMS),
}


def fts5(docs: list[list[str]]):  # type: ignore[no-untyped-def]
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0')")
    db.executemany("INSERT INTO lexical (rowid, terms) VALUES (?, ?)", [(i, " ".join(d)) for i, d in enumerate(docs)])

    def search(q: list[str], k: int) -> list[int]:
        if not q:
            return []
        rows = db.execute("SELECT rowid FROM lexical WHERE lexical MATCH ? ORDER BY bm25(lexical) LIMIT ?",
                          (lexical.match_expression(q), k)).fetchall()
        return [r[0] for r in rows]

    return search


def bm25s_index(docs: list[list[str]], params: dict | None = None):  # type: ignore[no-untyped-def]
    import bm25s

    retriever = bm25s.BM25(**(params or {}))
    retriever.index(docs, show_progress=False)

    def search(q: list[str], k: int) -> list[int]:
        if not q:
            return []
        known = [t for t in q if t in retriever.vocab_dict]
        if not known:
            return []
        ids, scores = retriever.retrieve([known], k=min(k, len(docs)), show_progress=False)
        return [int(i) for i, s in zip(ids[0], scores[0]) if s > 0]

    return search


def quality() -> list[dict]:
    items = [i for i in load_qa(QA) if i.answerable]
    with tempfile.TemporaryDirectory() as tmp:
        build([str(SEEDS)], Path(tmp) / "idx", progress=False)
        index = open_index(Path(tmp) / "idx")
        chunks = index.reader.chunks()
        docs = [lexical.terms(c.text, "de") for c in chunks]
        sources = {d.id: d.source for d in index.reader.documents()}
    rows = []
    for name, make in BACKENDS.items():
        search = make(docs)
        ranks = []
        for it in items:
            found = search(lexical.query_terms(it.question), 10)
            rank = next((p + 1 for p, i in enumerate(found)
                         if any(ev in chunks[i].text and Path(sources[chunks[i].doc_id]).name == Path(src).name
                                for src, ev in it.evidence)), None)
            ranks.append(rank)
        r = np.array([x or 0 for x in ranks])
        rows.append({"backend": name, "lexical hit@1": float(np.mean(r == 1)),
                     "lexical hit@10": float(np.mean(r > 0)), "lexical mrr": float(np.mean([1 / x if x else 0 for x in ranks]))})
    return rows


def _rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    import os

    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _cost_of(name: str, docs: list[list[str]], queries: list[list[str]], out) -> None:  # type: ignore[no-untyped-def]
    """In a child process of its own, so memory freed by another backend does not count."""
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    search = BACKENDS[name](docs)
    build_s = time.perf_counter() - t0
    grown = _rss_mb() - rss0
    lat = []
    for q in queries:
        t = time.perf_counter()
        search(q, 50)
        lat.append((time.perf_counter() - t) * 1000)
    out.put({"backend": name, "chunks": len(docs), "index_s": build_s, "rss_growth_mb": grown,
             "query_p50_ms": float(np.percentile(lat, 50)), "query_p95_ms": float(np.percentile(lat, 95))})


def cost() -> list[dict]:
    import multiprocessing

    vocab = sorted({t for p in SEEDS.glob("*.txt") for t in lexical.terms(p.read_text("utf-8"), "de")})
    rng = random.Random(7)
    docs = [[rng.choice(vocab) for _ in range(rng.randint(20, 80))] for _ in range(N_SYNTHETIC)]
    queries = [[rng.choice(vocab) for _ in range(rng.randint(2, 6))] for _ in range(200)]
    ctx = multiprocessing.get_context("fork")
    rows = []
    for name in BACKENDS:
        out = ctx.Queue()
        child = ctx.Process(target=_cost_of, args=(name, docs, queries, out))
        child.start()
        rows.append(out.get())
        child.join()
    return rows


def run() -> tuple[list[dict], str]:
    q, c = quality(), cost()
    md = table(q, ["backend", "lexical hit@1", "lexical hit@10", "lexical mrr"]) + "\n\n" + table(
        c, ["backend", "chunks", "index_s", "rss_growth_mb", "query_p50_ms", "query_p95_ms"])
    return q + c, md


if __name__ == "__main__":
    print(run()[1])
