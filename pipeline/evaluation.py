"""Evaluation: a QA file (JSONL) and an ``ask`` function → retrieval, answer and citation metrics.

Each line: ``{"id", "question", "answerable", "evidence": [{"source", "text"}], "answers": [...]}``
(``lang`` and ``fact`` optional). ``evidence`` texts carry the fact: substrings of the text the
index holds for their source (for HTML the extracted text, for Latin-1 the decoded text),
compared with runs of whitespace made single spaces. ``answers``: what a correct answer
contains (case-insensitive); each element is a string that must occur, or a group (a list
of alternatives) of which one must occur. ``fact``: items sharing a tag ask the same fact
(paraphrases, e.g. once in English, once in German).

Metrics (answerable questions unless said otherwise):
- hit@1, hit@5, MRR: rank of the first passage holding an evidence text (a passage counts
  with the near-duplicates collapsed into it); over the answerable questions with evidence,
  None when there are none;
- answer accuracy: not abstained, and every expected string (or one alternative of every
  group) is in the answer;
- citation validity (all citations): the text the index stores for the cited source holds
  the cited text at the cited offsets (the source file read as UTF-8 when no index is known);
- citation support: some citation's span contains an evidence text of its source (questions
  with evidence, None when there are none);
- cited characters per answer: how much text a reader checks (tight citations are quick to verify);
- abstention precision/recall over the unanswerable questions, and the false-abstention rate;
- paraphrase groups and accuracy: items sharing a ``fact`` tag (two or more) form a group,
  correct only when every item in it is (answered correctly, or refused if unanswerable);
- latency p50/p95 of ``ask``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .text.sources import read_source_span
from .types import Answer


class QAFileError(ValueError):
    """The QA file is malformed; the message names the line and field."""


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answerable: bool
    evidence: tuple[tuple[str, str], ...]
    answers: tuple[str | tuple[str, ...], ...]
    lang: str = ""
    fact: str = ""

    @property
    def answer_groups(self) -> tuple[tuple[str, ...], ...]:
        """``answers`` → groups of alternatives (a plain string is a group of one)."""
        return tuple((a,) if isinstance(a, str) else tuple(a) for a in self.answers)


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSONL file → (line number, object) for each non-blank line; bad lines fail naming file and line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM from Windows editors is fine
            except UnicodeDecodeError as err:
                raise QAFileError(
                    f"{path}:{n}: not UTF-8 text (byte {err.object[err.start]:#04x}); save the file as UTF-8"
                ) from err
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise QAFileError(f"{path}:{n}: not JSON ({err.msg})") from err
            if not isinstance(obj, dict):
                raise QAFileError(f"{path}:{n}: each line must be a JSON object")
            yield n, obj


def load_qa(path: str | os.PathLike[str]) -> list[QAItem]:
    """A JSONL file → QA items; malformed lines fail with file, line and field named."""
    items = []
    for n, obj in read_jsonl(path):
        for key in ("id", "question"):
            if not isinstance(obj.get(key), str) or not obj[key].strip():
                raise QAFileError(f"{path}:{n}: field '{key}' must be a non-empty string")
        evidence = obj.get("evidence", [])
        if not isinstance(evidence, list) or any(
            not isinstance(e, dict) or not isinstance(e.get("text"), str) for e in evidence
        ):
            raise QAFileError(f'{path}:{n}: field \'evidence\' must be a list of {{"source", "text"}} objects')
        answers = obj.get("answers", [])
        if not isinstance(answers, list) or not all(
            isinstance(a, str) or (isinstance(a, list) and a and all(isinstance(x, str) for x in a)) for a in answers
        ):
            raise QAFileError(
                f"{path}:{n}: field 'answers' must be a list of strings or of non-empty lists of strings (alternatives)"
            )
        fact = obj.get("fact")
        if fact is not None and not isinstance(fact, str):
            raise QAFileError(f"{path}:{n}: field 'fact' must be a string or null")
        answerable = obj.get("answerable", bool(evidence))
        items.append(
            QAItem(
                id=obj["id"],
                question=obj["question"],
                answerable=bool(answerable),
                evidence=tuple((str(e.get("source", "")), e["text"]) for e in evidence),
                answers=tuple(a if isinstance(a, str) else tuple(a) for a in answers),
                lang=str(obj.get("lang", "")),
                fact=fact or "",
            )
        )
    return items


@dataclass(frozen=True)
class QAResult:
    item: QAItem
    answer: Answer
    rank: int | None
    correct: bool
    supported: bool
    citations_valid: int
    citations_total: int
    latency_ms: float


def normalise_space(text: str) -> str:
    """Text → the same text with every run of whitespace one space, none at the ends, and no soft hyphens.

    Evidence is written from a document as people read it; extracted HTML and wrapped
    lines put other whitespace between the same words, and a PDF's words broken at a line
    end hold a soft hyphen (U+00AD), which a reader does not see.
    """
    return " ".join(text.replace("\u00ad", "").split())


def _contains_evidence(item: QAItem, source: str, text: str) -> bool:
    flat = normalise_space(text)
    return any((not src or _same_path(src, source)) and normalise_space(ev) in flat for src, ev in item.evidence)


def _satisfied(group: tuple[str, ...], answer_text: str) -> bool:
    return any(alt.casefold() in answer_text for alt in group)


def _same_path(a: str, b: str) -> bool:
    return Path(a).as_posix().lstrip("./") == Path(b).as_posix().lstrip("./") or Path(a).name == Path(b).name


def judge(item: QAItem, answer: Answer, read_span: Callable[[str, int, int], str], latency_ms: float) -> QAResult:
    """One question and its answer → what the metrics need."""
    rank = None
    for hit in answer.hits:
        places = [(hit.source, hit.chunk.text)] + [(s, read_span(s, a, b)) for s, a, b in hit.duplicates]
        if any(_contains_evidence(item, s, t) for s, t in places):
            rank = hit.rank
            break
    text = answer.text.replace("\u00ad", "").casefold()  # a soft hyphen from a PDF line end is not read
    correct = item.answerable and not answer.abstained and all(_satisfied(g, text) for g in item.answer_groups)
    supported = any(_contains_evidence(item, c.source, c.text) for c in answer.citations)
    valid = sum(1 for c in answer.citations if read_span(c.source, c.start, c.end) == c.text)
    return QAResult(item, answer, rank, correct, supported, valid, len(answer.citations), latency_ms)


# The source file read as UTF-8 → text at [start:end]: right for plain UTF-8 files only; for HTML, PDF or
# Latin-1 sources offsets point into the text the index stores, see ``index_span_reader``.
read_span_from_file = read_source_span


def index_span_reader(index: Any) -> Callable[[str, int, int], str]:
    """An open index (anything with ``.reader.document_by_source``) → read_span over the text it stores.

    Offsets of citations and passages point into ``Document.text``: the decoded file, for
    HTML the extracted text, for other encodings the decoded text (``meta.text_path``). A
    source the index does not hold reads as ''. The reader is asked on every call, so an
    index that switches to a newer generation is read from that one.
    """
    # (id(reader), source) → (reader, text); the reader is kept so its id cannot be reused meanwhile.
    texts: dict[tuple[int, str], tuple[Any, str | None]] = {}

    def read_span(source: str, start: int, end: int) -> str:
        reader = index.reader
        key = (id(reader), source)
        if key not in texts:
            doc = reader.document_by_source(source)
            texts[key] = (reader, None if doc is None else doc.text)
        text = texts[key][1]
        return "" if text is None else text[start:end]

    return read_span


def evaluate(
    items: Sequence[QAItem],
    ask: Callable[[str], Answer],
    read_span: Callable[[str, int, int], str] | None = None,
    k: int = 5,
) -> tuple[dict[str, Any], list[QAResult]]:
    """QA items and an ask function → (metrics, per-question results).

    ``read_span(source, start, end)`` gives the text at a cited or duplicate span; an index's
    callers pass ``index_span_reader(index)`` (the text it stores: HTML extracted, Latin-1
    decoded). Without it: the text of an Index whose bound ``ask`` is given, else the source
    file read as UTF-8.
    """
    if read_span is None:
        index = getattr(ask, "__self__", None)
        has_text = callable(getattr(getattr(index, "reader", None), "document_by_source", None))
        read_span = index_span_reader(index) if has_text else read_span_from_file
    results = []
    for item in items:
        t0 = time.perf_counter()
        ans = ask(item.question)
        results.append(judge(item, ans, read_span, (time.perf_counter() - t0) * 1000))
    return metrics(results, k), results


def metrics(results: Sequence[QAResult], k: int = 5) -> dict[str, Any]:
    """Per-question results → the metric table."""
    ans = [r for r in results if r.item.answerable]
    una = [r for r in results if not r.item.answerable]
    abstained = [r for r in results if r.answer.abstained]
    # Retrieval and support need evidence: a question without any would count as a miss, so
    # these metrics are None (shown as "–") when no question has evidence, not 0.0.
    with_evidence = [r for r in ans if r.item.evidence]
    ranks = [r.rank for r in with_evidence]
    groups = paraphrase_groups(results)
    lat = np.array([r.latency_ms for r in results]) if results else np.zeros(1)
    total_cits = sum(r.citations_total for r in results)

    def share(values: Sequence[float]) -> float | None:
        return round(float(np.mean(values)), 4) if len(values) else None

    return {
        "questions": len(results),
        "answerable": len(ans),
        "unanswerable": len(una),
        "hit@1": share([r == 1 for r in ranks]),
        f"hit@{k}": share([r is not None and r <= k for r in ranks]),
        "mrr": share([1 / r if r else 0.0 for r in ranks]),
        "answer_accuracy": share([r.correct for r in ans]),
        "citation_validity": round(sum(r.citations_valid for r in results) / total_cits, 4) if total_cits else None,
        "citation_support": share([r.supported for r in with_evidence]),
        # How much text a reader must check per answer: tight citations are quick to verify.
        "cited_chars_per_answer": round(
            float(
                np.mean(
                    [sum(len(c.text) for c in r.answer.citations) for r in results if not r.answer.abstained] or [0]
                )
            ),
            1,
        ),
        "abstention_precision": share([not r.item.answerable for r in abstained]),
        "abstention_recall": share([r.answer.abstained for r in una]),
        "false_abstention_rate": share([r.answer.abstained for r in ans]),
        "paraphrase_groups": len(groups),
        "paraphrase_accuracy": share([all(_right(r) for r in g) for g in groups]),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 1),
    }


def _right(r: QAResult) -> bool:
    """A result → whether the question was handled right: answered correctly, or refused if unanswerable."""
    return r.correct if r.item.answerable else r.answer.abstained


def paraphrase_groups(results: Sequence[QAResult]) -> list[list[QAResult]]:
    """Per-question results → the groups of two or more that share a ``fact`` tag (file order).

    A tag seen once (its partner is in another split, or the tag is unique) is no group:
    robustness to rephrasing needs at least two phrasings.
    """
    by_fact: dict[str, list[QAResult]] = {}
    for r in results:
        if r.item.fact:
            by_fact.setdefault(r.item.fact, []).append(r)
    return [g for g in by_fact.values() if len(g) > 1]


def failures(results: Sequence[QAResult]) -> list[str]:
    """Per-question results → one line for each question that missed something."""
    lines = []
    for r in results:
        problems = []
        if r.item.answerable:
            if r.item.evidence and r.rank != 1:  # without evidence the rank is unknown, not a miss
                problems.append(f"evidence at rank {r.rank or '>k'}")
            if r.answer.abstained:
                reason = getattr(r.answer, "abstain_reason", None)
                problems.append(f"abstained ({reason})" if reason else "abstained")
            elif not r.correct:
                text = r.answer.text.replace("\u00ad", "").casefold()
                problems.append(
                    "expected "
                    + ", ".join(
                        " or ".join(repr(a) for a in g) for g in r.item.answer_groups if not _satisfied(g, text)
                    )
                )
            if r.item.evidence and not r.supported and not r.answer.abstained:
                problems.append("citation lacks evidence")
        elif not r.answer.abstained:
            problems.append("answered an unanswerable question")
        if r.citations_valid != r.citations_total:
            problems.append("invalid citation offsets")
        if problems:
            lines.append(f"{r.item.id} {r.item.question!r}: {'; '.join(problems)}")
    return lines
