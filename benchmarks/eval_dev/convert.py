"""The outsiders' development set (``qa.jsonl``, their format) → ``benchmarks/qa_eval_dev.jsonl`` (ours).

    .venv/bin/python benchmarks/eval_dev/convert.py [/work/shared/eval/qa.jsonl]

Their line: ``{"id", "q", "lang", "fact", "source": "docs/FILE", "evidence": [str], "answer": [[alt, …], …]}``
or ``{"id", "q", "lang", "unanswerable": true}``. Ours: ``{"id", "question", "lang", "answerable",
"evidence": [{"source": "eval_dev/docs/FILE", "text"}], "answers": [[alt, …], …], "fact"}``.
Sources are named relative to ``benchmarks/`` because ``quality_unseen.py`` builds this corpus
from there; ids, questions, evidence and answers are copied unchanged (their answer groups are
our answer groups: any one alternative of each group must occur).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = Path("/work/shared/eval/qa.jsonl")
TARGET = HERE.parent / "qa_eval_dev.jsonl"


def convert_item(theirs: dict[str, Any]) -> dict[str, Any]:
    """One line of their qa.jsonl → one line of ours (fails loudly on a key it does not know)."""
    known = {"id", "q", "lang", "fact", "source", "evidence", "answer", "unanswerable"}
    unknown = set(theirs) - known
    if unknown:
        raise ValueError(f"{theirs.get('id')}: unknown keys {sorted(unknown)}")
    if theirs.get("unanswerable"):
        return {"id": theirs["id"], "question": theirs["q"], "lang": theirs["lang"], "answerable": False,
                "evidence": [], "answers": [], "fact": None}
    source = "eval_dev/docs/" + Path(theirs["source"]).name
    return {
        "id": theirs["id"], "question": theirs["q"], "lang": theirs["lang"], "answerable": True,
        "evidence": [{"source": source, "text": text} for text in theirs["evidence"]],
        "answers": [list(group) for group in theirs["answer"]],
        "fact": theirs["fact"],
    }


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    lines = [json.loads(line) for line in source.read_text("utf-8").splitlines() if line.strip()]
    with open(TARGET, "w", encoding="utf-8", newline="\n") as f:
        for theirs in lines:
            f.write(json.dumps(convert_item(theirs), ensure_ascii=False) + "\n")
    print(f"{len(lines)} questions → {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
