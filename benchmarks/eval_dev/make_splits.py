"""Every QA set → ``benchmarks/splits.json``: which item ids are for development, which are held out.

    .venv/bin/python benchmarks/eval_dev/make_splits.py

Held-out items are scored only at the end of a change, never while it is made. The rule
for ``qa_eval_dev.jsonl`` uses nothing but file names, document kinds and ids, so it was
fixed before any figure on this corpus was computed (see the ``note`` written into the JSON).
Running this again gives the same file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

BENCH = Path(__file__).resolve().parent.parent
SALT = "belegt eval_dev split v1"

# Document kinds of the development corpus (its README). Each kind is split in half; the two
# kinds with an odd count alternate rounding (first down, then up) so that 6 of 12 are held out.
STRATA: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("German press releases", ("01_kassel_glasfaser.txt", "02_muenchen_smartparking.txt",
                               "03_koeln_buergerportal.txt", "04_graz_ladeinfrastruktur.txt",
                               "05_kassel_glasfaser_update.txt")),
    ("German council reports in Markdown", ("06_ratsbericht_freiburg_digitalisierung.md",
                                           "07_ratsbericht_linz_infrastruktur.md")),
    ("the HTML file and the Latin-1 file", ("08_zuerich_rechenzentrum.html", "12_innsbruck_wasserzaehler_latin1.txt")),
    ("English documents", ("09_parkwise_vienna_en.txt", "10_voltpark_germany_en.txt", "11_koeln_digital_faq_en.md")),
)


def hash_order(names: Sequence[str]) -> list[str]:
    """Names → the same names ordered by SHA-256 of salt + name (deterministic, unrelated to content)."""
    return sorted(names, key=lambda n: hashlib.sha256(f"{SALT}/{n}".encode("utf-8")).hexdigest())


def held_out_documents() -> list[str]:
    """The strata → the 6 held-out file names."""
    held: list[str] = []
    round_up = False
    for _, names in STRATA:
        n = len(names) // 2
        if len(names) % 2:
            n += round_up
            round_up = not round_up
        held += hash_order(names)[:n]
    return sorted(held)


def read(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (BENCH / name).read_text("utf-8").splitlines() if line.strip()]


def eval_dev_split() -> dict[str, Any]:
    """qa_eval_dev.jsonl → its split: by document for answerable items, by id hash for the unanswerable ones."""
    items = read("qa_eval_dev.jsonl")
    held_docs = held_out_documents()
    all_docs = sorted(n for _, names in STRATA for n in names)
    unanswerable = hash_order([i["id"] for i in items if not i["answerable"]])
    held_una = set(unanswerable[: len(unanswerable) // 2])
    held, dev = [], []
    for item in items:
        if item["answerable"]:
            docs = {Path(e["source"]).name for e in item["evidence"]}
            assert len(docs) == 1, item["id"]  # every item of this set has one source
            (held if docs <= set(held_docs) else dev).append(item["id"])
        else:
            (held if item["id"] in held_una else dev).append(item["id"])
    return {
        "corpus": "eval_dev/docs",
        "tuned_on": False,
        "held_out_documents": held_docs,
        "development_documents": [d for d in all_docs if d not in held_docs],
        "strata": {kind: {"held_out": [n for n in names if n in held_docs],
                          "development": [n for n in names if n not in held_docs]} for kind, names in STRATA},
        "development": dev,
        "held_out": held,
        "note": (
            "Split by document so that the held-out half measures documents nobody tuned for. The 12 documents "
            "fall into four kinds (German press releases 01-05; German council reports in Markdown 06, 07; the "
            "HTML file 08 and the Latin-1 file 12; English documents 09, 10, 11). Within each kind the files are "
            f"ordered by SHA-256 of '{SALT}/<file name>' and the first half is held out; the two kinds with an "
            "odd count alternate rounding (press releases down: 2 of 5, English up: 2 of 3), so 6 of 12 "
            "documents are held out. An answerable item goes with the document of its evidence (paraphrase "
            "pairs share a source, so they stay together). The 30 unanswerable items have no source: they are "
            f"ordered by SHA-256 of '{SALT}/<id>' and the first 15 are held out. The rule uses only file names, "
            "document kinds and ids; it was fixed and this file written (benchmarks/eval_dev/make_splits.py) "
            "before any figure on this corpus was computed for this split, and nobody looked at held-out "
            "results before choosing it. Caveat: benchmarks/answers_snapshot.py (commit db57084) has recorded "
            "answers to all 150 questions for refactoring diffs; those are answers, not scores, and were not "
            "used to choose the split."
        ),
    }


def main() -> None:
    seeds = read("qa_seeds.jsonl")
    h1, h2, h3 = read("qa_heldout.jsonl"), read("qa_heldout2.jsonl"), read("qa_heldout3.jsonl")
    splits = {
        "note": (
            "Which item ids of each QA set are for development (look at them while changing the code) and "
            "which are held out (scored only at the end of a change, to judge it; a change tuned after "
            "seeing held-out results turns them into development items). benchmarks/quality_unseen.py "
            "reports every set by this split, held-out parts first. Written by "
            "benchmarks/eval_dev/make_splits.py."
        ),
        "sets": {
            "qa_seeds.jsonl": {
                "corpus": "seeds", "tuned_on": True, "development": [i["id"] for i in seeds], "held_out": [],
                "note": ("The answer rules and weights were tuned on this set: all development, it measures "
                         "nothing unseen."),
            },
            "qa_heldout.jsonl": {
                "corpus": "seeds", "tuned_on": True, "development": [i["id"] for i in h1], "held_out": [],
                "note": ("11 unanswerable questions written after tuning; their refusals have been reported in "
                         "every benchmark run since 2026-11-22 and were read during later refusal work, so "
                         "they count as development now."),
            },
            "qa_heldout2.jsonl": {
                "corpus": "seeds", "tuned_on": True, "development": [i["id"] for i in h2], "held_out": [],
                "note": "Written before any change it judged; then the development set of the list-quoting change.",
            },
            "qa_heldout3.jsonl": {
                "corpus": "seeds", "tuned_on": False, "development": [], "held_out": [i["id"] for i in h3],
                "note": ("Written before the list-quoting change and used only to judge it (figures published "
                         "once, commit 8494ec8); nothing was tuned on it. Held out, but it is about the seeds, "
                         "the documents everything was tuned on."),
            },
            "qa_eval_dev.jsonl": eval_dev_split(),
        },
    }
    path = BENCH / "splits.json"
    path.write_text(json.dumps(splits, ensure_ascii=False, indent=1) + "\n", "utf-8")
    for name, s in splits["sets"].items():
        print(f"{name}: {len(s['development'])} development, {len(s['held_out'])} held out")
    print("held-out documents:", ", ".join(splits["sets"]["qa_eval_dev.jsonl"]["held_out_documents"]))


if __name__ == "__main__":
    main()
