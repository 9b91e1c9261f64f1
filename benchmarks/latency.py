"""Warm-process latency of ``ask``: every QA question asked several times in one process.

The first pass is reported on its own: later rounds may hit the per-process phrase cache.

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
        rows = []
        # First pass: every question new to the process (no per-process caches hit); then repeats.
        for label, rounds in (("first ask of each question", 1), (f"{REPEAT - 1} more rounds", REPEAT - 1)):
            parts: dict[str, list[float]] = {}
            for _ in range(rounds):
                for q in questions:
                    for key, ms in index.ask(q).timings_ms.items():
                        parts.setdefault(key, []).append(ms)
            rows += [{"pass": label, "stage": k, "n": len(v), "p50_ms": float(np.percentile(v, 50)),
                      "p95_ms": float(np.percentile(v, 95)), "max_ms": float(np.max(v))} for k, v in parts.items()]
    return rows, table(rows, ["pass", "stage", "n", "p50_ms", "p95_ms", "max_ms"])


if __name__ == "__main__":
    print(run()[1])
