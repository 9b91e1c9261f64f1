"""Evaluation: a QA file (JSONL) and an ``ask`` function → retrieval, answer and citation metrics.

Each line: ``{"id", "question", "answerable", "evidence": [{"source", "text"}], "answers": [...]}``
(``lang`` optional). ``evidence`` texts are exact substrings of their source that carry
the fact; ``answers`` are strings a correct answer contains (case-insensitive).

Metrics (answerable questions unless said otherwise):
- hit@1, hit@5, MRR: rank of the first passage holding an evidence text (a passage counts
  with the near-duplicates collapsed into it);
- answer accuracy: not abstained, and every expected string is in the answer;
- citation validity (all citations): the source file, read as UTF-8, holds the cited text
  at the cited offsets;
- citation support: some citation's span contains an evidence text of its source;
- cited characters per answer: how much text a reader checks (tight citations are quick to verify);
- abstention precision/recall over the unanswerable questions, and the false-abstention rate;
- latency p50/p95 of ``ask``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from .types import Answer


class QAFileError(ValueError):
    """The QA file is malformed; the message names the line and field."""


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answerable: bool
    evidence: tuple[tuple[str, str], ...]
    answers: tuple[str, ...]
    lang: str = ""


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """A JSONL file → (line number, object) for each non-blank line; bad lines fail naming file and line."""
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM from Windows editors is fine
            except UnicodeDecodeError as err:
                raise QAFileError(f"{path}:{n}: not UTF-8 text (byte {err.object[err.start]:#04x}); save the file as UTF-8") from err
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise QAFileError(f"{path}:{n}: not JSON ({err.msg})") from err
            if not isinstance(obj, dict):
                raise QAFileError(f"{path}:{n}: each line must be a JSON object")
            yield n, obj


def load_qa(path: str | Path) -> list[QAItem]:
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
            raise QAFileError(f"{path}:{n}: field 'evidence' must be a list of {{\"source\", \"text\"}} objects")
        answers = obj.get("answers", [])
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise QAFileError(f"{path}:{n}: field 'answers' must be a list of strings")
        answerable = obj.get("answerable", bool(evidence))
        items.append(QAItem(
            id=obj["id"], question=obj["question"], answerable=bool(answerable),
            evidence=tuple((str(e.get("source", "")), e["text"]) for e in evidence),
            answers=tuple(answers), lang=str(obj.get("lang", "")),
        ))
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


def _contains_evidence(item: QAItem, source: str, text: str) -> bool:
    return any((not src or _same_path(src, source)) and ev in text for src, ev in item.evidence)


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
    text = answer.text.casefold()
    correct = item.answerable and not answer.abstained and all(a.casefold() in text for a in item.answers)
    supported = any(_contains_evidence(item, c.source, c.text) for c in answer.citations)
    valid = sum(1 for c in answer.citations if read_span(c.source, c.start, c.end) == c.text)
    return QAResult(item, answer, rank, correct, supported, valid, len(answer.citations), latency_ms)


def read_span_from_file(source: str, start: int, end: int) -> str:
    """The source file read as UTF-8 (line endings untouched) → text at [start:end] ('' if unreadable)."""
    try:
        return Path(source).read_bytes().decode("utf-8")[start:end]
    except (OSError, UnicodeDecodeError):
        return ""


def evaluate(
    items: Sequence[QAItem],
    ask: Callable[[str], Answer],
    read_span: Callable[[str, int, int], str] = read_span_from_file,
    k: int = 5,
) -> tuple[dict[str, Any], list[QAResult]]:
    """QA items and an ask function → (metrics, per-question results)."""
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
    ranks = [r.rank for r in ans]
    lat = np.array([r.latency_ms for r in results]) if results else np.zeros(1)
    total_cits = sum(r.citations_total for r in results)

    def share(values: Sequence[bool]) -> float | None:
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
        "citation_support": share([r.supported for r in ans]),
        # How much text a reader must check per answer: tight citations are quick to verify.
        "cited_chars_per_answer": round(float(np.mean([sum(len(c.text) for c in r.answer.citations)
                                                        for r in results if not r.answer.abstained] or [0])), 1),
        "abstention_precision": share([not r.item.answerable for r in abstained]),
        "abstention_recall": share([r.answer.abstained for r in una]),
        "false_abstention_rate": share([r.answer.abstained for r in ans]),
        "latency_p50_ms": round(float(np.percentile(lat, 50)), 1),
        "latency_p95_ms": round(float(np.percentile(lat, 95)), 1),
    }


def failures(results: Sequence[QAResult]) -> list[str]:
    """Per-question results → one line for each question that missed something."""
    lines = []
    for r in results:
        problems = []
        if r.item.answerable:
            if r.rank != 1:
                problems.append(f"evidence at rank {r.rank or '>k'}")
            if r.answer.abstained:
                problems.append("abstained")
            elif not r.correct:
                problems.append("expected " + ", ".join(repr(a) for a in r.item.answers if a.casefold() not in r.answer.text.casefold()))
            if not r.supported and not r.answer.abstained:
                problems.append("citation lacks evidence")
        elif not r.answer.abstained:
            problems.append("answered an unanswerable question")
        if r.citations_valid != r.citations_total:
            problems.append("invalid citation offsets")
        if problems:
            lines.append(f"{r.item.id} {r.item.question!r}: {'; '.join(problems)}")
    return lines
