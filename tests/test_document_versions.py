"""The development documents as PDF, two-column PDF, Word file and scan answer as the text files do.

A subset of ``benchmarks/eval_dev/docs`` (a German press release, a Markdown report with a table,
an English text, a Latin-1 file) is written in each version by ``benchmarks/document_versions.py``
and built with default settings; every question of ``qa_eval_dev.jsonl`` about those documents,
and ten unanswerable ones, is asked of each. ``benchmarks/documents.py`` measures all twelve.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.evaluation import load_qa
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.text import ocr

sys.path.insert(0, str(ROOT / "benchmarks"))
from document_versions import write_versions  # noqa: E402
from documents import box_check, same_answer  # noqa: E402

pytestmark = pytest.mark.slow
DOCS = ROOT / "benchmarks" / "eval_dev" / "docs"
SUBSET = ("01_kassel_glasfaser.txt", "07_ratsbericht_linz_infrastruktur.md", "09_parkwise_vienna_en.txt",
          "12_innsbruck_wasserzaehler_latin1.txt")
# The share of questions answered as from the text files, at least. Measured on this subset: 50, 49, 50
# and 46 of 50; on all twelve documents (benchmarks/DOCUMENTS.md) 1.00, 0.99, 1.00 and 0.91, so the
# issue's targets (0.95, and 0.85 for scans) are met by every version. The floors leave a question or
# two of room and keep what is reached from slipping back.
AGREEMENT = {"pdf": 0.95, "pdf2": 0.94, "docx": 0.95, "scan": 0.86}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The subset built as text and in every version → version → (answers, folder)."""
    root = tmp_path_factory.mktemp("versions")
    items = [it for it in load_qa(ROOT / "benchmarks" / "qa_eval_dev.jsonl")
             if any(Path(s).name in SUBSET for s, _ in it.evidence)]
    items += [it for it in load_qa(ROOT / "benchmarks" / "qa_eval_dev.jsonl") if not it.answerable][:10]
    text = root / "text"
    text.mkdir()
    for name in SUBSET:
        (text / name).write_bytes((DOCS / name).read_bytes())
        write_versions(DOCS / name, root, tuple(AGREEMENT) if ocr.available() else ("pdf", "pdf2", "docx"))
    out: dict[str, object] = {"items": items}
    before = os.getcwd()
    os.chdir(root)
    try:
        for version in ("text", *AGREEMENT):
            if not (root / version).is_dir():
                continue
            report = build([version], root / f"idx-{version}", progress=False)
            assert report.documents == len(SUBSET) and not report.skipped, report.summary()
            index = open_index(root / f"idx-{version}")
            out[version] = ([index.ask(it.question) for it in items], root / version)
            index.close()
    finally:
        os.chdir(before)
    return out


@pytest.mark.parametrize("version", list(AGREEMENT))
def test_each_version_answers_as_the_text_does(versions: dict[str, object], version: str) -> None:
    if version not in versions:
        pytest.skip(f"Tesseract is not installed ({ocr.INSTALL})")
    text, _ = versions["text"]  # type: ignore[misc]
    answers, _ = versions[version]  # type: ignore[misc]
    same = [same_answer(a, b) for a, b in zip(text, answers)]
    differ = "\n".join(f"{it.question}\n  text: {a.abstain_reason or a.text[:150]}\n  {version}: "
                       f"{b.abstain_reason or b.text[:150]}"
                       for it, a, b, ok in zip(versions["items"], text, answers, same) if not ok)  # type: ignore[call-overload]
    assert sum(same) / len(same) >= AGREEMENT[version], differ


@pytest.mark.parametrize("version", ["pdf", "pdf2"])
def test_pdf_citation_boxes_hold_the_cited_words(versions: dict[str, object], version: str) -> None:
    answers, folder = versions[version]  # type: ignore[misc]
    good, total = box_check(answers, folder)
    assert total >= 10 and good == total
