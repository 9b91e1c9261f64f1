"""Verification: a generated answer with [n] markers + the numbered passages → checked citations.

Pure steps, in order: markers that point at no passage are dropped; the answer is split
into sentences; each sentence's claim is scored against the passages it cites (share of
its words found there, or embedding similarity across languages, and every number it
states must appear there); sentences below the threshold are flagged, not hidden. Each
cited passage becomes one ``Citation`` whose span is the sentence(s) of the passage that
support the claims best, so a citation is as tight as in extractive answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..settings import ChunkingSettings
from ..text import lexical
from ..text.chunking import split_sentences
from ..text.language import LANGS
from ..types import Citation, Hit, SentenceCheck, Span
from .prompts import REFUSALS
from .question import Corpus

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Verified:
    """A generated answer after checking: text with renumbered markers, citations, per-sentence checks, notes."""

    text: str
    citations: tuple[Citation, ...]
    checks: tuple[SentenceCheck, ...]
    notes: tuple[str, ...]
    refused: bool


def markers(text: str) -> list[tuple[int, int, list[int]]]:
    """Answer text → (start, end, numbers) of every [n] / [n, m] marker."""
    return [(m.start(), m.end(), [int(x) for x in re.split(r"[,;]", m.group(1))]) for m in _MARKER.finditer(text)]


def drop_out_of_range(text: str, n_passages: int) -> tuple[str, list[int]]:
    """Answer text → the text without citations of passages that do not exist, and the numbers dropped."""
    dropped: list[int] = []

    def keep(m: re.Match[str]) -> str:
        nums = [int(x) for x in re.split(r"[,;]", m.group(1))]
        good = [n for n in nums if 1 <= n <= n_passages]
        dropped.extend(n for n in nums if n not in good)
        return "".join(f"[{n}]" for n in good)

    cleaned = _MARKER.sub(keep, text)
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", cleaned)).strip(), dropped


def is_refusal(text: str) -> bool:
    """Generated text → whether it is (only) the refusal phrase, in any language."""
    bare = _MARKER.sub("", text).strip().strip('"„“”').strip()
    return any(bare.rstrip(".").lower() == r.rstrip(".").lower() for r in REFUSALS.values())


def sentences(text: str, lang: str) -> list[str]:
    """Answer text → its sentences; a sentence of markers only ("[2].") joins the one before."""
    spans = split_sentences(text, Span(0, len(text)), lang if lang in LANGS else "en", ChunkingSettings())
    out: list[str] = []
    for s in spans:
        piece = s.slice(text).strip()
        if out and not _MARKER.sub("", piece).strip(" .,;"):
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


def _terms(text: str) -> set[str]:
    return set(lexical.terms(text, "de")) | set(lexical.terms(text, "en"))


def _numbers(text: str) -> set[str]:
    return {n.replace(".", "").replace(",", "") for n in _NUMBER.findall(text)}


def coverage(claim: str, evidence: str) -> float:
    """A claim and evidence text → the share of the claim's content words found in the evidence."""
    want = _terms(claim)
    return len(want & _terms(evidence)) / len(want) if want else 0.0


def support(claim: str, evidence: str, similarity: float, sim_floor: float, sim_full: float) -> float:
    """A claim, its evidence and their embedding similarity → support in [0, 1].

    Words carry it within one language; the multilingual embedding carries it across
    languages (an English answer from German passages). A number the claim states that
    the evidence does not hold caps support: that is the error that matters most.
    """
    semantic = min(1.0, max(0.0, (similarity - sim_floor) / (sim_full - sim_floor)))
    score = max(coverage(claim, evidence), semantic)
    if _numbers(claim) - _numbers(evidence):
        score = min(score, 0.25)
    return score


def verify(
    text: str, passages: Sequence[Hit], corpus: Corpus, lang: str, min_support: float, sim_floor: float, sim_full: float
) -> Verified:
    """Generated answer text + the passages it was given (numbered from 1) → a Verified answer."""
    notes: list[str] = []
    text, dropped = drop_out_of_range(text, len(passages))
    if dropped:
        notes.append(
            f"dropped citation(s) {', '.join(f'[{n}]' for n in dropped)}: there were only {len(passages)} passages"
        )
    if is_refusal(text) or not text:
        return Verified(REFUSALS.get(lang, REFUSALS["en"]), (), (), tuple(notes), True)

    # Evidence units of each passage: its sentences and the ones right after it.
    units: dict[int, list[tuple[Span, str]]] = {}
    for n, hit in enumerate(passages, start=1):
        doc_text = corpus.text_of(hit.chunk.doc_id)
        spans = list(hit.chunk.sentences or (Span(hit.chunk.start, hit.chunk.end),)) + list(hit.following)
        units[n] = [(s, s.slice(doc_text)) for s in spans]

    renumber: dict[int, int] = {}
    best_spans: dict[int, list[Span]] = {}
    best_scores: dict[int, float] = {}
    checks: list[SentenceCheck] = []
    for sentence in sentences(text, lang):
        cited = list(dict.fromkeys(n for _, _, nums in markers(sentence) for n in nums))
        claim = _MARKER.sub("", sentence).strip()
        score = 0.0
        for n in cited:
            unit_texts = [t for _, t in units[n]]
            sims = corpus.similarities(claim, unit_texts) if unit_texts else []
            whole = " ".join(unit_texts)
            passage_score = support(claim, whole, max(sims, default=0.0), sim_floor, sim_full)
            score = max(score, passage_score)
            # The unit that carries the claim best is what the citation points at.
            per_unit = [support(claim, t, s, sim_floor, sim_full) + 0.01 * s for (_, t), s in zip(units[n], sims)]
            if per_unit:
                i = max(range(len(per_unit)), key=per_unit.__getitem__)
                best_spans.setdefault(n, []).append(units[n][i][0])
                best_scores[n] = max(best_scores.get(n, 0.0), passage_score)
            renumber.setdefault(n, len(renumber) + 1)
        if not cited and not claim:
            continue
        if not cited:
            notes.append(f"no citation for: {claim}")
        shown = _MARKER.sub(lambda m: "".join(f"[{renumber[int(x)]}]" for x in re.split(r"[,;]", m.group(1))), sentence)
        checks.append(SentenceCheck(shown, tuple(renumber[n] for n in cited), round(score, 3), score >= min_support))
    unsupported = [c for c in checks if not c.supported]
    if unsupported:
        notes.append(f"{len(unsupported)} sentence(s) not supported by the passages they cite (flagged)")

    citations = []
    for n, new in sorted(renumber.items(), key=lambda kv: kv[1]):
        hit = passages[n - 1]
        spans = best_spans.get(n) or [Span(hit.chunk.start, hit.chunk.end)]
        start, end = min(s.start for s in spans), max(s.end for s in spans)
        doc_text = corpus.text_of(hit.chunk.doc_id)
        inside = hit.chunk.start <= start and end <= hit.chunk.end
        citations.append(
            Citation(
                n=new,
                source=hit.source,
                doc_id=hit.chunk.doc_id,
                chunk_id=hit.chunk.id if inside else corpus.chunk_containing(hit.chunk.doc_id, Span(start, end)),
                start=start,
                end=end,
                text=doc_text[start:end],
                score=round(best_scores.get(n, 0.0), 4),
            )
        )
    shown_text = " ".join(c.text for c in checks)
    return Verified(shown_text, tuple(citations), tuple(checks), tuple(notes), False)
