"""Evaluation: QA files are validated; metrics count what they claim to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluation import QAFileError, QAItem, judge, load_qa, metrics
from pipeline.types import Answer, Chunk, Citation, Hit


def test_bad_lines_name_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "qa.jsonl"
    f.write_text('{"id": "a", "question": "ok?"}\n{"id": "b"}\n', "utf-8")
    with pytest.raises(QAFileError, match=r"qa.jsonl:2: field 'question'"):
        load_qa(f)
    f.write_text("not json\n", "utf-8")
    with pytest.raises(QAFileError, match=r":1: not JSON"):
        load_qa(f)


def test_the_seed_qa_set_is_well_formed() -> None:
    items = load_qa(Path(__file__).parent.parent / "benchmarks" / "qa_seeds.jsonl")
    assert len(items) >= 40 and sum(not i.answerable for i in items) >= 6
    assert {i.lang for i in items} == {"de", "en"}
    root = Path(__file__).parent.parent
    for item in items:
        for source, text in item.evidence:
            assert text in (root / source).read_bytes().decode("utf-8"), (item.id, text)


def fake_answer(source: Path, text: str, start: int, abstained: bool = False) -> Answer:
    chunk = Chunk(id="c", doc_id="d", start=start, end=start + len(text), text=text)
    hit = Hit(chunk=chunk, score=1.0, rank=1, origin="dense", source=str(source))
    cite = Citation(n=1, source=str(source), doc_id="d", chunk_id="c", start=start, end=start + len(text), text=text, score=1.0)
    return Answer("q", "" if abstained else f"{text} [1]", () if abstained else (cite,), (hit,), abstained)


def test_judge_and_metrics(tmp_path: Path) -> None:
    src = tmp_path / "s.txt"
    src.write_text("Vorher. Sören Link unterzeichnete. Nachher.", "utf-8")
    item = QAItem("q1", "Wer?", True, ((str(src), "Sören Link"),), ("Sören Link",))
    good = judge(item, fake_answer(src, "Sören Link unterzeichnete.", 8), lambda s, a, b: Path(s).read_text("utf-8")[a:b], 1.0)
    assert good.rank == 1 and good.correct and good.supported and good.citations_valid == 1
    bad_offsets = judge(item, fake_answer(src, "Sören Link unterzeichnete.", 7), lambda s, a, b: Path(s).read_text("utf-8")[a:b], 1.0)
    assert bad_offsets.citations_valid == 0
    unanswerable = QAItem("q2", "Wer nicht?", False, (), ())
    refused = judge(unanswerable, fake_answer(src, "", 0, abstained=True), lambda s, a, b: "", 2.0)
    m = metrics([good, bad_offsets, refused])
    assert m["hit@1"] == 1.0 and m["answer_accuracy"] == 1.0
    assert m["citation_validity"] == 0.5
    assert m["abstention_recall"] == 1.0 and m["abstention_precision"] == 1.0 and m["false_abstention_rate"] == 0.0
