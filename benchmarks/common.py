"""Shared helpers for the benchmarks: paths, machine facts, Markdown tables."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
QA = ROOT / "benchmarks" / "qa_seeds.jsonl"
HELDOUT = ROOT / "benchmarks" / "qa_heldout.jsonl"  # unanswerable questions written after tuning
# 12 answerable + 12 unanswerable, written 2026-11-29 before any change it was used to judge
HELDOUT2 = ROOT / "benchmarks" / "qa_heldout2.jsonl"
# 12 answerable + 8 unanswerable, written 2026-11-29 before the list-quoting change; set 2 was its development set
HELDOUT3 = ROOT / "benchmarks" / "qa_heldout3.jsonl"
OUT = ROOT / "benchmarks" / "out"


def machine() -> str:
    """One line about the machine the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1048576:.0f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}, {platform.system()}"


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows → a Markdown table with the given columns."""
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
        return "–" if v is None else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)
