"""The library as a developer uses it, on the real seeds index with the default embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.query.prompts import NOT_STATED
from pipeline.evaluation import evaluate, load_qa
from pipeline.text.sources import verify_source_span

from conftest import ROOT

pytestmark = pytest.mark.slow

CONTRACT = {"question", "answer", "abstained", "citations", "passages", "timings_ms"}
ITEM_KEYS = {"source", "doc_id", "chunk_id", "start", "end", "text", "score"}


@pytest.mark.parametrize("question", ["who signed the Duisburg declaration?",
                                      "Wer hat die Duisburger Absichtserklärung unterzeichnet?"])
def test_headline_question_names_the_seven_signers(seeds_open, question: str) -> None:  # type: ignore[no-untyped-def]
    answer = seeds_open.ask(question)
    assert not answer.abstained
    signers = ["Sören Link", "Ernest Zhang", "Burkhard Landers", "Ulrich Radtke", "Alexander Kranki",
               "Marcus O. Wittig", "Anton Grabmaier"]
    assert all(name in answer.text for name in signers)
    cited = [c for c in answer.citations if "Anton Grabmaier" in c.text]
    assert cited and Path(cited[0].source).name.startswith("004_")
    assert f"[{cited[0].n}]" in answer.text
    for c in answer.citations:  # every citation verifies against the file on disk
        assert verify_source_span(c.source, c.start, c.end, c.text)


def test_json_contract(seeds_open) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(json.dumps(seeds_open.ask("who signed the Duisburg declaration?").to_dict()))
    assert CONTRACT <= set(data)
    assert data["citations"] and data["passages"]
    for c in data["citations"]:
        assert ITEM_KEYS | {"n"} <= set(c)
        assert Path(c["source"]).read_bytes().decode("utf-8")[c["start"] : c["end"]] == c["text"]
    for p in data["passages"]:
        assert ITEM_KEYS | {"rank"} <= set(p)
        assert Path(p["source"]).read_bytes().decode("utf-8")[p["start"] : p["end"]] == p["text"]
    assert set(data["timings_ms"]) >= {"embed_query", "search", "answer", "total"}


def test_out_of_corpus_questions_are_refused_in_their_language(seeds_open) -> None:  # type: ignore[no-untyped-def]
    de = seeds_open.ask("Wie viele Einwohner hat Duisburg?")
    en = seeds_open.ask("What did Munich agree with Microsoft?")
    assert de.abstained and not de.citations and de.abstain_reason in ("not_stated", "off_topic")
    assert de.text in ("Die Quellen enthalten dazu keine Angaben.", NOT_STATED["de"])
    assert en.abstained and en.text in ("The sources do not say.", NOT_STATED["en"])
    assert en.to_dict()["abstain_reason"] == en.abstain_reason


# Floors a little under what the fitted selector gives on benchmarks/qa_seeds.jsonl (a development set:
# the selector was fitted on it, so these guard against regressions, they are not results), so that
# a regression fails CI. Results on held-out questions: benchmarks/QUALITY.md.
FLOORS = {
    "hit@1": 0.88, "mrr": 0.93, "answer_accuracy": 0.90, "citation_support": 0.88, "citation_validity": 1.0,
    "abstention_recall": 0.4,
}


def test_quality_does_not_regress_on_the_seed_qa_set(seeds_open) -> None:  # type: ignore[no-untyped-def]
    metrics, _ = evaluate(load_qa(ROOT / "benchmarks" / "qa_seeds.jsonl"), seeds_open.ask)
    for key, floor in FLOORS.items():
        assert metrics[key] >= floor, (key, metrics[key], metrics)
    assert metrics["false_abstention_rate"] <= 0.1
