"""Warm-process latency of ``ask``: every QA question asked several times in one process.

    .venv/bin/python benchmarks/latency.py

Target (issue 3): p95 < 100 ms for one question in a warm process, query embedding included.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QA, SEEDS, table  # noqa: E402

from pipeline.evaluation import load_qa  # noqa: E402
from pipeline.facade import open_index  # noqa: E402
from pipeline.indexing import build  # noqa: E402

REPEAT = 5


def run() -> tuple[list[dict], str]:
    questions = [i.question for i in load_qa(QA)]
    with tempfile.TemporaryDirectory() as tmp:
        build([str(SEEDS)], Path(tmp) / "idx", progress=False)
        index = open_index(Path(tmp) / "idx")
        index.ask("warm up")
        parts: dict[str, list[float]] = {}
        for _ in range(REPEAT):
            for q in questions:
                for key, ms in index.ask(q).timings_ms.items():
                    parts.setdefault(key, []).append(ms)
    rows = [{"stage": k, "n": len(v), "p50_ms": float(np.percentile(v, 50)), "p95_ms": float(np.percentile(v, 95)),
             "max_ms": float(np.max(v))} for k, v in parts.items()]
    return rows, table(rows, ["stage", "n", "p50_ms", "p95_ms", "max_ms"])


if __name__ == "__main__":
    print(run()[1])
