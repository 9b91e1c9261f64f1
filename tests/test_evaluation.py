"""Evaluation: QA files are validated; metrics count what they claim to."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from pipeline.evaluation import QAFileError, QAItem, failures, judge, load_qa, metrics
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


# --- answer groups, paraphrases, missing evidence ---------------------------------------------

def write_qa(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_answers_may_be_groups_of_alternatives(tmp_path: Path) -> None:
    """A list inside ``answers`` is satisfied by any one alternative; plain strings must all occur, as before."""
    qa = write_qa(tmp_path / "qa.jsonl", [
        {"id": "a", "question": "Wann?", "answerable": True,
         "answers": ["Köln", ["9. September 2024", "9 September 2024"]], "fact": "f"},
        {"id": "b", "question": "Wer?", "answerable": True, "answers": ["Sören Link"]},
    ])
    a, b = load_qa(qa)
    assert a.answers == ("Köln", ("9. September 2024", "9 September 2024")) and a.fact == "f"
    assert a.answer_groups == (("Köln",), ("9. September 2024", "9 September 2024")) and b.fact == ""
    src = tmp_path / "s.txt"
    src.write_text("Köln startete am 9 September 2024.", "utf-8")
    one_alternative = judge(a, fake_answer(src, "Köln startete am 9 September 2024.", 0), lambda s, x, y: "", 1.0)
    assert one_alternative.correct
    missing_group = judge(a, fake_answer(src, "Es startete am 9 September 2024.", 0), lambda s, x, y: "", 1.0)
    assert not missing_group.correct
    assert "expected 'Köln'" in failures([missing_group])[0]
    no_alternative = judge(a, fake_answer(src, "Köln startete im Herbst.", 0), lambda s, x, y: "", 1.0)
    assert "expected '9. September 2024' or '9 September 2024'" in failures([no_alternative])[0]


@pytest.mark.parametrize("answers, fact", [([[]], None), ([["a", 1]], None), ([{"a": 1}], None), (["a"], 3)])
def test_bad_answer_groups_and_facts_are_refused(tmp_path: Path, answers: list, fact: object) -> None:
    qa = write_qa(tmp_path / "qa.jsonl", [{"id": "a", "question": "q?", "answers": answers, "fact": fact}])
    with pytest.raises(QAFileError, match=r"qa.jsonl:1: field '(answers|fact)'"):
        load_qa(qa)


def test_paraphrase_groups_count_only_when_every_phrasing_is_right(tmp_path: Path) -> None:
    src = tmp_path / "s.txt"
    src.write_text("Sören Link unterzeichnete.", "utf-8")
    ev = ((str(src), "Sören Link"),)
    right = fake_answer(src, "Sören Link unterzeichnete.", 0)
    wrong = fake_answer(src, "Jemand unterzeichnete.", 0)
    span = lambda s, a, b: src.read_text("utf-8")[a:b]  # noqa: E731
    de = QAItem("de", "Wer?", True, ev, ("Sören Link",), "de", fact="signer")
    en = QAItem("en", "Who?", True, ev, ("Sören Link",), "en", fact="signer")
    de2 = QAItem("de2", "Wer 2?", True, ev, ("Sören Link",), "de", fact="signer2")
    en2 = QAItem("en2", "Who 2?", True, ev, ("Sören Link",), "en", fact="signer2")
    alone = QAItem("x", "Wer allein?", True, ev, ("Sören Link",), "de", fact="unique")
    results = [judge(de, right, span, 1), judge(en, right, span, 1), judge(de2, right, span, 1),
               judge(en2, wrong, span, 1), judge(alone, wrong, span, 1)]
    m = metrics(results)
    assert m["paraphrase_groups"] == 2  # a tag seen once is no group
    assert m["paraphrase_accuracy"] == 0.5  # signer2 fails: one of its two phrasings is wrong
    assert m["answer_accuracy"] == 0.6
    assert metrics(results[:1])["paraphrase_groups"] == 0 and metrics(results[:1])["paraphrase_accuracy"] is None


def test_without_evidence_retrieval_metrics_are_none_not_zero(tmp_path: Path) -> None:
    """A QA file (or split) with answers but no evidence cannot measure retrieval: None ("–"), not 0.0."""
    src = tmp_path / "s.txt"
    src.write_text("Sören Link unterzeichnete.", "utf-8")
    item = QAItem("q1", "Wer?", True, (), ("Sören Link",))
    r = judge(item, fake_answer(src, "Sören Link unterzeichnete.", 0), lambda s, a, b: "", 1.0)
    m = metrics([r])
    assert m["hit@1"] is None and m["hit@5"] is None and m["mrr"] is None and m["citation_support"] is None
    assert m["answer_accuracy"] == 1.0
    assert failures([r]) == ["q1 'Wer?': invalid citation offsets"]  # no "evidence at rank >k"
    only_unanswerable = judge(QAItem("u", "Nie?", False, (), ()), fake_answer(src, "", 0, True), lambda s, a, b: "", 1)
    assert metrics([only_unanswerable])["hit@1"] is None
    # One question with evidence: figures over it alone, the other does not count as a miss.
    with_ev = QAItem("q2", "Wer?", True, ((str(src), "Sören Link"),), ("Sören Link",))
    r2 = judge(with_ev, fake_answer(src, "Sören Link unterzeichnete.", 0), lambda s, a, b: "", 1.0)
    assert metrics([r, r2])["hit@1"] == 1.0 and metrics([r, r2])["citation_support"] == 1.0


def test_evidence_matches_with_whitespace_normalised(tmp_path: Path) -> None:
    src = tmp_path / "s.txt"
    passage = "Das Rechenzentrum kostet\n   rund 85 Millionen\tFranken."
    item = QAItem("q", "Was kostet es?", True, ((str(src), "kostet rund 85  Millionen Franken"),), ("85 Millionen",))
    r = judge(item, fake_answer(src, passage, 0), lambda s, a, b: passage[a:b], 1.0)
    assert r.rank == 1 and r.supported
    assert not judge(item, fake_answer(src, "kostet rund 58 Millionen Franken", 0), lambda s, a, b: "", 1.0).supported


# --- evidence and citations against the text the index stores ------------------------------

ZUERICH_HTML = """<html><head><title>Zürich baut</title><meta name="date" content="2024-05-02"></head><body>
<nav><a href="/">Start</a> <a href="/politik">Politik</a></nav>
<div class="cookie">Wir verwenden Cookies. <button>OK</button></div>
<article><h1>Neues Rechenzentrum in Zürich</h1>
<p>Das neue Rechenzentrum in Zürich-Altstetten kostet
   rund <strong>85 Millionen Franken</strong> und geht im Herbst 2026 in Betrieb.</p>
<p>Stadträtin Anna Meier sagte, das Projekt sei ein Meilenstein für die Stadt.</p>
</article><footer>Impressum</footer></body></html>
"""
INNSBRUCK_LATIN1 = ("Die Stadt Innsbruck tauscht im Jänner 2025 alle Wasserzähler aus. "
                    "Die Kosten trägt die Stadtwerke GmbH.\n")


@pytest.fixture
def html_and_latin1_index(tmp_path: Path) -> Iterator[tuple[Any, str, str]]:
    """An index (model-free embedder) of an HTML page and a Latin-1 text → (Index, HTML source, Latin-1 source)."""
    import pipeline
    from conftest import ALWAYS_ANSWER, tiny_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "innsbruck.txt").write_bytes(INNSBRUCK_LATIN1.encode("latin-1"))  # tiny_index writes UTF-8 only
    index = pipeline.open_index(tiny_index(tmp_path, {"zuerich.html": ZUERICH_HTML}), ALWAYS_ANSWER)
    yield index, str(docs / "zuerich.html"), str(docs / "innsbruck.txt")
    index.close()


def html_latin1_items(html: str, latin1: str) -> list[QAItem]:
    return [
        # Evidence as written from the page (one space); the file has a line break and <strong> there.
        QAItem("h", "Was kostet das Rechenzentrum in Zürich?", True,
               ((html, "kostet rund 85 Millionen Franken"),), (("85 Millionen", "85 Mio."),)),
        QAItem("l", "Wann tauscht Innsbruck die Wasserzähler aus?", True,
               ((latin1, "tauscht im Jänner 2025 alle Wasserzähler aus"),), ("Jänner 2025",)),
    ]


def test_html_and_latin1_citations_are_checked_against_the_stored_text(
    html_and_latin1_index: tuple[Any, str, str],
) -> None:
    from pipeline.evaluation import evaluate, index_span_reader, read_span_from_file

    index, html, latin1 = html_and_latin1_index
    items = html_latin1_items(html, latin1)
    answers = [index.ask(i.question) for i in items]
    cites = [c for a in answers for c in a.citations]
    assert {c.source for c in cites} == {html, latin1}
    # The bug: offsets point into the stored text, not into the raw bytes of these files.
    assert all(read_span_from_file(c.source, c.start, c.end) != c.text for c in cites)
    stored = index_span_reader(index)
    assert all(stored(c.source, c.start, c.end) == c.text for c in cites)
    for c in cites:
        assert index.reader.document_by_source(c.source).text[c.start:c.end] == c.text
    assert stored("no/such/source.txt", 0, 5) == ""
    # evaluate reads the stored text of the index behind a bound ask, or through the reader passed.
    for ask, read_span in ((index.ask, None), (lambda q: index.ask(q, None), stored)):
        m, results = evaluate(items, ask, read_span)
        assert m["citation_validity"] == 1.0, failures(results)
        assert m["hit@1"] == 1.0 and m["citation_support"] == 1.0 and m["answer_accuracy"] == 1.0
    # An explicit reader still wins: the raw file marks them invalid (what eval reported before the fix).
    m, _ = evaluate(items, index.ask, read_span_from_file)
    assert m["citation_validity"] == 0.0


@pytest.mark.slow  # a `python -m pipeline` process
def test_the_eval_command_accepts_correct_html_citations(
    html_and_latin1_index: tuple[Any, str, str], tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    index, html, latin1 = html_and_latin1_index
    rows = [{"id": i.id, "question": i.question, "answerable": True,
             "evidence": [{"source": s, "text": t} for s, t in i.evidence],
             "answers": [list(g) for g in i.answer_groups]} for i in html_latin1_items(html, latin1)]
    qa = write_qa(tmp_path / "qa.jsonl", rows)
    env = {**os.environ, "BELEGT_ANSWER__ABSTAIN_BELOW": "0"}  # a model-free index: answer, see ALWAYS_ANSWER
    out = subprocess.run([sys.executable, "-m", "pipeline", "eval", str(qa), "--index", str(index.dir), "--json"],
                         capture_output=True, text=True, cwd=Path(__file__).parent.parent, check=True, env=env)
    m = json.loads(out.stdout)
    assert m["citation_validity"] == 1.0 and m["failures"] == []


# --- the development corpus of outsiders and the splits ------------------------------------

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SHARED = Path("/work/shared/eval")


def test_eval_dev_is_a_faithful_copy_and_conversion() -> None:
    items = load_qa(BENCH / "qa_eval_dev.jsonl")
    assert len(items) == 150 and sum(i.answerable for i in items) == 120
    assert {i.lang for i in items} == {"de", "en"}
    facts = [i.fact for i in items if i.fact]
    assert sum(facts.count(f) == 2 for f in set(facts)) == 15  # the README's 15 EN/DE paraphrase pairs
    assert all(i.answer_groups and i.evidence for i in items if i.answerable)
    assert all(not i.evidence and not i.answers for i in items if not i.answerable)
    assert {Path(s).parent.as_posix() for i in items for s, _ in i.evidence} == {"eval_dev/docs"}
    if not SHARED.exists():
        pytest.skip("the shared development corpus is not on this machine")
    for theirs in sorted((SHARED / "docs").iterdir()):
        assert (BENCH / "eval_dev" / "docs" / theirs.name).read_bytes() == theirs.read_bytes()
    rows = [json.loads(line) for line in (SHARED / "qa.jsonl").read_text("utf-8").splitlines() if line.strip()]
    for theirs, ours in zip(rows, items):
        assert (ours.id, ours.question, ours.lang) == (theirs["id"], theirs["q"], theirs["lang"])
        assert ours.answer_groups == tuple(tuple(g) for g in theirs.get("answer", []))
        assert [t for _, t in ours.evidence] == theirs.get("evidence", [])


def test_eval_dev_evidence_is_in_the_text_the_index_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Built as quality_unseen.py builds it (from benchmarks/, relative paths): every evidence string is in its
    document's stored text (HTML: extracted, Latin-1: decoded), whitespace-normalised; sources match exactly."""
    import pipeline
    from pipeline.embedding import HashingEmbedder
    from pipeline.evaluation import normalise_space

    monkeypatch.chdir(BENCH)
    pipeline.build(["eval_dev/docs"], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    index = pipeline.open_index(tmp_path / "idx")
    try:
        for item in load_qa(BENCH / "qa_eval_dev.jsonl"):
            for source, text in item.evidence:
                doc = index.reader.document_by_source(source)
                assert doc is not None, source
                assert normalise_space(text) in normalise_space(doc.text), (item.id, text)
        html = index.reader.document_by_source("eval_dev/docs/08_zuerich_rechenzentrum.html")
        assert "<article" not in html.text and html.meta.get("text_path")
        latin1 = index.reader.document_by_source("eval_dev/docs/12_innsbruck_wasserzaehler_latin1.txt")
        assert "Jänner" in latin1.text and latin1.meta.get("text_path")
    finally:
        index.close()


def test_splits_cover_every_item_once_and_keep_documents_and_pairs_together() -> None:
    splits = json.loads((BENCH / "splits.json").read_text("utf-8"))
    assert splits["note"]
    assert set(splits["sets"]) == {p.name for p in BENCH.glob("qa_*.jsonl")}
    for name, split in splits["sets"].items():
        ids = [i.id for i in load_qa(BENCH / name)]
        assert sorted(split["development"] + split["held_out"]) == sorted(ids), name
        assert not set(split["development"]) & set(split["held_out"]), name
        assert split["note"]
    assert splits["sets"]["qa_seeds.jsonl"]["tuned_on"] and not splits["sets"]["qa_seeds.jsonl"]["held_out"]
    dev = splits["sets"]["qa_eval_dev.jsonl"]
    held_docs = set(dev["held_out_documents"])
    assert len(held_docs) == 6 and len(set(dev["development_documents"])) == 6
    assert {"08_zuerich_rechenzentrum.html", "12_innsbruck_wasserzaehler_latin1.txt"} - held_docs  # one each side
    assert held_docs & {"06_ratsbericht_freiburg_digitalisierung.md", "07_ratsbericht_linz_infrastruktur.md"}
    english = {"09_parkwise_vienna_en.txt", "10_voltpark_germany_en.txt", "11_koeln_digital_faq_en.md"}
    assert english & held_docs and english - held_docs
    items = load_qa(BENCH / "qa_eval_dev.jsonl")
    held = set(dev["held_out"])
    for item in items:
        if item.answerable:  # split by document
            assert (item.id in held) == (Path(item.evidence[0][0]).name in held_docs), item.id
    unanswerable = [i.id for i in items if not i.answerable]
    assert sum(i in held for i in unanswerable) == len(unanswerable) // 2
    by_fact: dict[str, set[bool]] = {}
    for item in items:
        if item.fact:
            by_fact.setdefault(item.fact, set()).add(item.id in held)
    assert all(len(sides) == 1 for sides in by_fact.values())  # paraphrase pairs never split
