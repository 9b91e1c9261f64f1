"""Answers on every QA set, written down and compared: a refactoring must not change one.

    python benchmarks/answers_snapshot.py --write benchmarks/out/answers-before.jsonl
    ... change the code ...
    python benchmarks/answers_snapshot.py --compare benchmarks/out/answers-before.jsonl

Builds the seeds and the development corpus (``../shared/eval/docs``, when present) with the
default embedder in a temporary folder, asks every question of ``benchmarks/qa_*.jsonl`` (over
the seeds) and of ``../shared/eval/qa.jsonl`` (over its documents) and records, per question,
the answer text, whether it abstained, the cited spans and the passages' spans. ``--compare``
prints every question whose record differs and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval"


def question_sets() -> Iterator[tuple[str, Path, list[tuple[str, str]]]]:
    """→ (set name, the folder its questions are about, [(id, question)])."""
    for path in sorted((ROOT / "benchmarks").glob("qa_*.jsonl")):
        if path.stem == "qa_eval_dev":  # the development corpus's questions: asked below, over its own documents
            continue
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        yield path.stem, ROOT / "seeds", [(str(r["id"]), r["question"]) for r in rows]
    qa = EVAL / "qa.jsonl"
    if qa.exists():
        rows = [json.loads(line) for line in qa.read_text("utf-8").splitlines() if line.strip()]
        yield "shared_eval", EVAL / "docs", [(str(r["id"]), r["q"]) for r in rows]


def record(answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one answer → what must not change (scores rounded: the last bits of a float may)."""
    return {
        "answer": answer["answer"],
        "abstained": answer["abstained"],
        "citations": [[c["source"], c["start"], c["end"]] for c in answer["citations"]],
        "passages": [[p["source"], p["start"], p["end"], round(p["score"], 4)] for p in answer["passages"]],
    }


def snapshot() -> dict[str, dict[str, Any]]:
    """Every QA set asked of its corpus → {"set/id": record}."""
    from pipeline.facade import open_index
    from pipeline.indexing import build
    from pipeline.settings import Settings

    out: dict[str, dict[str, Any]] = {}
    indexes: dict[Path, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="belegt-snapshot-"))
    try:
        for name, corpus, questions in question_sets():
            if corpus not in indexes:
                # Sources as the QA sets name them (seeds/…, docs/…): build from the corpus's parent.
                index_dir = tmp / f"index-{len(indexes)}"
                os.chdir(corpus.parent)
                build([corpus.name], index_dir, Settings(), progress=False)
                indexes[corpus] = open_index(index_dir, Settings())
            index = indexes[corpus]
            for qid, question in questions:
                out[f"{name}/{qid}"] = record(index.ask(question).to_dict())
            print(f"{name}: {len(questions)} questions", file=sys.stderr)
        return out
    finally:
        for index in indexes.values():
            index.close()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--write", type=Path, help="write the snapshot here (JSONL)")
    g.add_argument("--compare", type=Path, help="compare with this snapshot; exit 1 on any difference")
    args = p.parse_args(argv)
    now = snapshot()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        with open(args.write, "w", encoding="utf-8") as f:
            for key, rec in now.items():
                f.write(json.dumps({"key": key, **rec}, ensure_ascii=False) + "\n")
        print(f"{len(now)} answers written to {args.write}")
        return 0
    before = {}
    for line in args.compare.read_text("utf-8").splitlines():
        rec = json.loads(line)
        before[rec.pop("key")] = rec
    changed = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    for key in changed:
        print(f"{key}:\n  before: {json.dumps(before.get(key), ensure_ascii=False)[:400]}\n"
              f"  now:    {json.dumps(now.get(key), ensure_ascii=False)[:400]}")
    print(f"{len(now)} answers, {len(changed)} changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
