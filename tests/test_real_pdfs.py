"""PDFs nobody here wrote (documentation shipped in Debian packages, unpacked by `make real-pdfs`)
build without error and answer a question each, cited on the right page."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.facade import open_index
from pipeline.indexing import build

DOCS = ROOT / ".cache" / "real-pdfs" / "usr" / "share" / "doc"
PDFS = {  # file → (a question, a phrase its answer holds)
    # (Its title page's "Abstract Syntax Notation One (ASN.1) library …" is set large: a heading, never quoted.)
    "libtasn1-doc/libtasn1.pdf": ("Which version of GNU Libtasn1 is this manual for?", "4.19.0"),
    "shared-mime-info/shared-mime-info-spec.pdf": (
        "Which desktops' MIME database systems does the specification try to unify?", "ROX"),
    "ghostscript/GS9_Color_Management.pdf": (
        "With which release was the color architecture of Ghostscript updated to use ICC profiles?", "9.0"),
}
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not all((DOCS / name).exists() for name in PDFS),
                       reason="Debian's documentation PDFs are not in .cache/real-pdfs (make real-pdfs fetches them)"),
]


def test_real_pdfs_build_and_answer(tmp_path: Path) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in PDFS:
        shutil.copyfile(DOCS / name, folder / Path(name).name)
    report = build([folder], tmp_path / "idx", progress=False)
    assert report.documents == 3 and not report.skipped, report.summary()
    index = open_index(tmp_path / "idx")
    for name, (question, phrase) in PDFS.items():
        answer = index.ask(question)
        assert not answer.abstained, (question, answer.abstain_reason)
        assert phrase in answer.text.replace("\u00ad", ""), (question, answer.text)
        cite = answer.citations[0]
        assert Path(cite.source).name == Path(name).name and cite.page and cite.boxes
    index.close()
