"""Answering: a question and its hits → an ``Answer`` quoting cited sentences, or an honest refusal.

No LLM by default. Every sentence of the top passages (and the sentences just after each)
is a candidate. Each gets a row of general features — its embedding similarity to the
question, the idf-weighted share of the question's words it holds (German and English
stems, with CLDR's names of months, countries and cities in the other language), whether
it holds what the question asks for (a name for "who", a date for "when", a number for
"how many"), whether the question's names occur in it or in the sentences it leans on,
margins to the best candidate, its passage's rank, its length and kind of line — and a
fitted selector (``selection.py``) turns the row into the probability that the sentence
answers. The best one or two sentences, each from a different passage and never two
near-identical ones from duplicate documents, become the answer with ``[n]`` markers;
each citation is that sentence's exact span.

Refusals, each with a machine-readable ``abstain_reason``:
- ``empty_index``: the index holds no passage at all (the answer says to add documents);
- ``no_passages``: nothing was retrieved;
- ``no_known_word``: no word of a Latin-script question occurs in the index (SQL, markup, typos);
- ``not_stated``: the best sentence is too unlikely an answer, but the passages are on the
  question's topic (they hold most of its words): the closest passages are kept to read;
- ``off_topic``: too unlikely an answer, and nothing retrieved is about the question.
"""
# Size: a little over 400 lines on purpose. The features of a candidate and the choice among candidates
# read the same rows; kept together, a feature and the decision that uses it are read on one screen
# (the patterns they ask of a sentence live in patterns.py, the fitted model in selection.py).

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..settings import AnswerSettings
from ..text import lexical
from ..text.cleaning import is_contact_text
from ..text.dedup import SAME_REPORT, containment
from ..text.layout import searchable
from ..types import Answer, Chunk, Citation, Hit, Span
from . import selection
from .patterns import (
    HEADING,
    LEANS_BACK,
    LIST_ITEM,
    NAME_OR_NUMBER,
    TABLE_ROW,
    has_type,
    quantities,
)
from .prompts import EMPTY_INDEX, NOT_STATED, REFUSALS
from .question import (
    ANSWER_TYPES,
    LATIN_LANGS,
    Corpus,
    Question,
    answer_type,
    matches,
    names,
    parse,
    question_language,
)

__all__ = [
    "Candidate",
    "answer",
    "answer_type",
    "candidates",
    "cited_first",
    "has_type",
    "names",
    "quantities",
    "question_language",
    "with_list",
    "Corpus",
    "REFUSALS",
    "NOT_STATED",
]


# Features read from words the question shares with the index: unknown, not zero, for a question in
# another script. (Its kind of answer stays "none found": its question words are not read either way.)
LEXICAL_FEATURES = (
    "coverage",
    "coverage_context",
    "coverage_gap",
    "previous_coverage",
    "top_coverage",
    "known_words",
    "novelty",
    "new_names",
    "grounded",
    "has_names",
    "absent_names",
)


@dataclass(frozen=True)
class Candidate:
    """A candidate sentence of one hit: its span and text, its feature row, and P(it answers)."""

    hit: Hit
    span: Span
    text: str
    features: tuple[float, ...]
    score: float = 0.0

    def feature(self, name: str) -> float:
        return self.features[selection.FEATURES.index(name)]


def coverage(weighted: Sequence[tuple[frozenset[str], float]], terms: set[str]) -> float:
    """Idf-weighted share of the question's words found in a sentence (0..1)."""
    total = sum(w for _, w in weighted)
    return sum(w for stems, w in weighted if matches(stems, terms)) / total if total else 0.0


# A candidate before the features that compare it with the others: its hit, span, text and own features.
Row = tuple[Hit, Span, str, dict[str, float]]


def candidates(q: Question, hits: Sequence[Hit], corpus: Corpus, settings: AnswerSettings) -> list[Candidate]:
    """A parsed question and its hits → every candidate sentence with its feature row (in hit order).

    The features, as ``selection.FEATURES`` names them: ``dense`` the sentence's cosine to the
    question, ``dense_gap``/``dense_rank`` how far it is from the best candidate, ``passage_gap``/
    ``passage_rank`` its passage's retrieval score and rank, ``outside`` whether it follows the
    passage; ``coverage`` (in it), ``coverage_context`` (with the sentences it leans on),
    ``previous_coverage`` (in the sentence before it) and
    ``coverage_gap`` of the question's weighted words; ``grounded`` the share of the question's
    known names in it or before it; the question's kind one-hot with ``type_match``/``type_miss``
    and, for how-many questions, ``count_match``; its ``words``, ``heading``/``list_item`` lines
    and ``position`` in the document, ``short`` (six words or fewer), ``novelty`` (share of its terms
    the question lacks) and ``new_names`` (capitalised words and numbers the question lacks:
    answers are mostly names and numbers); and per question ``top_dense``, ``top_coverage``,
    ``has_names``, ``absent_names``, ``known_words``.
    """
    count_match = _count_matches(q.counted, hits, corpus, settings) if q.counted else {}
    rows: list[Row] = []
    seen: set[tuple[str, int]] = set()
    for rank, hit in enumerate(hits[: settings.from_passages], start=1):
        rows += _passage_rows(q, hit, rank, hits[0].score, corpus, settings, count_match, seen)
    return _with_question_level(q, rows)


def _passage_rows(
    q: Question,
    hit: Hit,
    rank: int,
    top_score: float,
    corpus: Corpus,
    settings: AnswerSettings,
    count_match: dict[str, float],
    seen: set[tuple[str, int]],
) -> list[Row]:
    """One passage → its sentences not seen in an earlier passage, each with its own features (see
    ``candidates``); ``seen`` gains them."""
    date_of = getattr(corpus, "date_of", None)  # a corpus that cannot tell counts every document as dated
    dated = date_of is None or date_of(hit.chunk.doc_id) is not None
    total_names = sum(w for _, w in q.names)
    doc_text = corpus.text_of(hit.chunk.doc_id)
    # The sentences before the passage count for grounding the passage's first sentences.
    lead = corpus.sentences_before(hit.chunk.doc_id, hit.chunk.start, settings.grounding_window)
    spans = hit.chunk.sentences + hit.following
    # Features read the words as a reader does: a PDF word broken at a line end (soft hyphen) is one word.
    # The quoted text stays the exact span (texts).
    lead_texts = [searchable(sp.slice(doc_text)) for sp in lead]
    texts = [sp.slice(doc_text) for sp in spans]
    plain = [searchable(t) for t in texts]
    lead_terms = [_terms(t) for t in lead_texts]
    sentence_terms = [_terms(t) for t in plain]
    # The lines of a contact block are details to quote ("Telefon: …"), not headings.
    contact = is_contact_text(hit.chunk.text)
    rows: list[Row] = []
    for i, span in enumerate(spans):
        if (hit.chunk.doc_id, span.start) in seen:
            continue
        seen.add((hit.chunk.doc_id, span.start))
        text, terms = texts[i], sentence_terms[i]
        # A sentence leans on the ones before it ("Unterzeichnet wurde diese Vereinbarung …").
        context = terms.union(
            *_antecedents(plain[i], lead_texts + plain[:i], lead_terms + sentence_terms[:i], settings.grounding_window)
        )
        line = doc_text[doc_text.rfind("\n", 0, span.start) + 1 : span.end]
        typed = has_type(plain[i], q.kind, dated)
        if q.counted:  # the number must count what the question counts: countries ~ "170 Ländern"
            typed = count_match.get(text, 0.0) >= settings.count_match
        words = len(re.findall(r"\w+", plain[i]))
        # What a sentence adds to the question: an answer holds words (names, numbers) the question lacks.
        names_new = {w for w in NAME_OR_NUMBER.findall(plain[i]) if lexical.fold(w) not in q.words}
        rows.append(
            (
                hit,
                span,
                text,
                {
                    "dense": hit.sentence_scores[i] if i < len(hit.sentence_scores) else 0.0,
                    "passage_gap": top_score - hit.score,
                    "passage_rank": math.log(rank),
                    "outside": float(i >= len(hit.chunk.sentences)),
                    "coverage": coverage(q.terms, terms),
                    "coverage_context": coverage(q.terms, context),
                    # An answer often follows the sentence that restates the question ("… erfolgte die
                    # Unterzeichnung der Absichtserklärung." → "Unterzeichnet wurde sie von …").
                    "previous_coverage": coverage(q.terms, (lead_terms + sentence_terms[:i])[-1])
                    if lead_terms or i
                    else 0.0,
                    "grounded": (
                        sum(w for stems, w in q.names if matches(stems, context)) / total_names if total_names else 1.0
                    ),
                    "type_match": float(bool(q.kind) and typed),
                    "type_miss": float(bool(q.kind) and not typed),
                    "count_match": count_match.get(text, 0.0) if q.counted else 0.0,
                    "words": math.log1p(words),
                    "heading": float(not contact and _is_heading(doc_text, span, line, words)),
                    "list_item": float(contact or bool(LIST_ITEM.match(line) or TABLE_ROW.match(line))),
                    "position": span.start / max(len(doc_text), 1),
                    "novelty": len(terms - q.stems) / max(len(terms), 1),
                    "new_names": math.log1p(len(names_new)),
                    "short": float(words <= 6),
                },
            )
        )
    return rows


def _with_question_level(q: Question, rows: Sequence[Row]) -> list[Candidate]:
    """Rows → Candidates, with the features that compare each with the best of all and those of the question."""
    if not rows:
        return []
    top_dense = max(r[3]["dense"] for r in rows)
    top_context = max(r[3]["coverage_context"] for r in rows)
    order = sorted(range(len(rows)), key=lambda j: -rows[j][3]["dense"])
    dense_rank = {j: r for r, j in enumerate(order)}
    question_level = {
        "top_dense": top_dense,
        "top_coverage": max(r[3]["coverage"] for r in rows),
        "has_names": float(bool(q.names)),
        "absent_names": float(min(len(q.absent), 2)),
        "known_words": float(q.known_words),
        **{f"kind_{k}": float(q.kind == k) for k in ANSWER_TYPES},
    }
    out = []
    for j, (hit, span, text, f) in enumerate(rows):
        f = {
            **f,
            **question_level,
            "dense_gap": top_dense - f["dense"],
            "dense_rank": math.log1p(dense_rank[j]),
            "coverage_gap": top_context - f["coverage_context"],
        }
        out.append(Candidate(hit, span, text, tuple(float(f[name]) for name in selection.FEATURES)))
    return out


def _is_heading(doc_text: str, span: Span, line: str, words: int) -> bool:
    """A Markdown heading, or a short line of its own without closing punctuation that is no list item
    or table row: a title or heading, which names a topic and answers nothing."""
    if HEADING.match(line):
        return True
    line_start = doc_text.rfind("\n", 0, span.start) + 1
    line_end = doc_text.find("\n", span.end)
    own_line = (
        not doc_text[line_start : span.start].strip()
        and not doc_text[span.end : len(doc_text) if line_end < 0 else line_end].strip()
    )
    plain = not (LIST_ITEM.match(line) or TABLE_ROW.match(line))
    text = span.slice(doc_text)
    return own_line and plain and words <= 15 and not re.search(r"[.!?:;“”\"»«)]\W*$", text)


def eligible(c: Candidate, settings: AnswerSettings) -> bool:
    """May a candidate be quoted? Not a heading or title, not a line of fewer than ``min_answer_words`` words,
    and — when the question asks for a person, date, number or amount — one that holds such a thing.

    The last is a constraint, not only a feature: in nested cross-validation on the development
    questions it raised the share handled right from 0.60 to 0.62–0.64 (more unanswerable questions
    refused, no answerable one lost), where the selector alone still quoted a sentence restating the
    question ("… erfolgte die Unterzeichnung der Absichtserklärung." for "who signed?")."""
    return c.feature("type_miss") == 0.0 and quotable_line(c, settings)


def quotable_line(c: Candidate, settings: AnswerSettings) -> bool:
    """May a candidate be quoted whatever the question asks for? Not a heading or title, not a line of
    fewer than ``min_answer_words`` words."""
    return c.feature("heading") == 0.0 and len(re.findall(r"\w+", c.text)) >= settings.min_answer_words


def further_asks(
    asks: Sequence[str | None],
    chosen: Sequence[int],
    pool: Sequence[int],
    texts: Sequence[str],
    docs: Sequence[str],
    scores: Sequence[float],
    ratio: float,
) -> list[int]:
    """The chosen candidates (indices) and a question's asks → the chosen ones, then for each ask of a
    kind that none of them holds, the best candidate of the first one's document that holds it (``pool``:
    quotable candidates, best first; at least ``ratio`` × the first one's score).

    "Wer ist Pressesprecherin … und wie lautet ihre E-Mail-Adresse?": the sentence naming her rarely
    holds the address, which is a line of the contact block below; both are the answer."""
    out = list(chosen)
    if not out:
        return out
    first = out[0]
    for kind in asks:
        if kind is None or any(has_type(texts[i], kind) for i in out):
            continue
        pick = next(
            (
                i
                for i in pool
                if i not in out
                and docs[i] == docs[first]
                and scores[i] >= scores[first] * ratio
                and has_type(texts[i], kind)
            ),
            None,
        )
        if pick is not None:
            out.append(pick)
    return out


def scored(
    q: Question, hits: Sequence[Hit], corpus: Corpus, settings: AnswerSettings, model: selection.Model | None = None
) -> list[Candidate]:
    """Candidates with their probability of answering (``score``), best first."""
    found = candidates(q, hits, corpus, settings)
    model = model or selection.load()
    rows: Sequence[Sequence[float]] = [c.features for c in found]
    if q.lang not in LATIN_LANGS:
        # A question in another script shares no word with the index: its lexical features say nothing
        # (not "no match"), so they take the value the model was fitted around and weigh nothing.
        rows = model.without(rows, LEXICAL_FEATURES)
    probabilities = model.probabilities(rows)
    return sorted((replace(c, score=float(p)) for c, p in zip(found, probabilities)), key=lambda c: -c.score)


def answer(
    question: str,
    hits: Sequence[Hit],
    corpus: Corpus,
    settings: AnswerSettings,
    searched: str | None = None,
    model: selection.Model | None = None,
) -> Answer:
    """A question and its hits → the extractive Answer (citations numbered in answer order), or a refusal
    with its ``abstain_reason``."""
    q = parse(question, corpus, searched)
    model = model or selection.load()
    # None of the question's words occurs anywhere (markup, SQL, a typo, only stopwords): the passage
    # nearest by embedding alone is not an answer. Only for Latin script: other scripts share no
    # words with the index, yet the multilingual embedder finds their answers.
    if not hits:
        return refusal(q, hits, "empty_index" if corpus.n_chunks == 0 else "no_passages")
    if settings.require_known_word and q.lang in LATIN_LANGS and not q.known_words:
        return refusal(q, hits, "no_known_word")
    ranked = scored(q, hits, corpus, settings, model)
    # Headings and one-word lines are never quoted on their own: they name a topic, they answer nothing.
    quotable = [c for c in ranked if eligible(c, settings)]
    fitted = model.abstain_below if q.lang in LATIN_LANGS else model.abstain_below_unshared
    threshold = fitted if settings.abstain_below is None else settings.abstain_below
    if not quotable or quotable[0].score < threshold:
        on_topic = any(c.feature("coverage_context") >= settings.topic_coverage for c in ranked)
        return refusal(q, hits, "not_stated" if on_topic else "off_topic")
    chosen = [quotable[0]]
    for cand in quotable[1:]:
        if len(chosen) >= settings.max_sentences or cand.score < quotable[0].score * model.second_ratio:
            break
        if not any(_same_fact(cand, c) for c in chosen):
            chosen.append(cand)
    if q.asks:
        at = {id(c): i for i, c in enumerate(ranked)}
        picked = further_asks(
            q.asks,
            [at[id(c)] for c in chosen],
            [i for i, c in enumerate(ranked) if quotable_line(c, settings)],
            [c.text for c in ranked],
            [c.hit.chunk.doc_id for c in ranked],
            [c.score for c in ranked],
            model.ask_ratio,
        )
        chosen = [ranked[i] for i in picked]
    return _quoted(q, chosen, hits, corpus)


def refusal(q: Question, hits: Sequence[Hit], reason: str) -> Answer:
    """A refusal in the question's language; "not stated" says the passages below are the closest."""
    texts = {"not_stated": NOT_STATED, "empty_index": EMPTY_INDEX}.get(reason, REFUSALS)
    text = texts.get(q.lang, texts["en"])
    return Answer(question=q.text, text=text, citations=(), hits=tuple(hits), abstained=True, abstain_reason=reason)


def _quoted(q: Question, chosen: list[Candidate], hits: Sequence[Hit], corpus: Corpus) -> Answer:
    """The chosen sentences → the Answer quoting them, best passage first, reading order within one passage."""
    best_of_passage: dict[str, float] = {}
    for c in chosen:
        best_of_passage[c.hit.chunk.id] = max(best_of_passage.get(c.hit.chunk.id, c.score), c.score)
    chosen = sorted(chosen, key=lambda c: (-best_of_passage[c.hit.chunk.id], c.span.start))
    citations = []
    parts = []
    for n, c in enumerate(chosen, start=1):
        inside = c.hit.chunk.start <= c.span.start and c.span.end <= c.hit.chunk.end
        chunk_id = c.hit.chunk.id if inside else corpus.chunk_containing(c.hit.chunk.doc_id, c.span)
        doc_text = corpus.text_of(c.hit.chunk.doc_id)
        span = with_list(doc_text, c.span)  # a lead-in is quoted with the list it announces
        text = span.slice(doc_text)
        citations.append(
            Citation(
                n=n,
                source=c.hit.source,
                doc_id=c.hit.chunk.doc_id,
                chunk_id=chunk_id,
                start=span.start,
                end=span.end,
                text=text,
                score=round(c.score, 4),
            )
        )
        parts.append(f"{_quote(text)} [{n}]")
    return Answer(question=q.text, text=" ".join(parts), citations=tuple(citations), hits=tuple(hits), abstained=False)


def _count_matches(counted: str, hits: Sequence[Hit], corpus: Corpus, settings: AnswerSettings) -> dict[str, float]:
    """Sentence text → how close the thing counted next to one of its numbers is to what the question counts.

    One embedding call, for the few sentences with numbers that are most similar to the question:
    cross-lingual ("countries" ~ "170 Ländern"), and a number next to something else
    ("79.000 Mitarbeiter" for street lights) does not count.
    """
    found: dict[str, tuple[float, list[str]]] = {}
    for hit in hits[: settings.from_passages]:
        doc_text = corpus.text_of(hit.chunk.doc_id)
        for i, span in enumerate(hit.chunk.sentences + hit.following):
            text = span.slice(doc_text)
            phrases = quantities(searchable(text))  # "47.500 Hau\u00adshalte" is "47.500 Haushalte"
            if phrases:
                dense = hit.sentence_scores[i] if i < len(hit.sentence_scores) else 0.0
                found[text] = (max(dense, found.get(text, (dense, []))[0]), phrases)
    # The counted word itself next to a number counts in any sentence ("8.300 Haushalte" for "wie viele
    # Haushalte", "3.100 Unternehmensstandorte" for "Standorte" by its head); other words are compared
    # by embedding, for the few sentences most similar to the question.
    stems = frozenset(lexical.query_terms(counted))
    out = {text: 1.0 for text, (_, ps) in found.items() if any(matches(stems, _terms(p)) for p in ps)}
    top = [kv for kv in sorted(found.items(), key=lambda kv: -kv[1][0]) if kv[0] not in out][
        : settings.count_candidates
    ]
    flat = sorted({p for _, (_, ps) in top for p in ps})
    if flat:
        sims = dict(zip(flat, corpus.similarities(counted, flat)))
        out.update({text: max(sims[p] for p in ps) for text, (_, ps) in top})
    return out


def _antecedents(text: str, before: Sequence[str], before_terms: Sequence[set[str]], limit: int) -> list[set[str]]:
    """The terms of the sentences a sentence refers back to: the one before it, and further back for as
    long as each sentence reached leans on its predecessor ("diese Vereinbarung", "dabei", "this")."""
    out: list[set[str]] = []
    current = text
    for j in range(len(before) - 1, max(-1, len(before) - 1 - limit), -1):
        if out and not LEANS_BACK.search(current):
            break
        out.append(before_terms[j])
        current = before[j]
    return out


def _terms(text: str) -> set[str]:
    return set(lexical.terms(text, "de")) | set(lexical.terms(text, "en"))


def cited_first(
    hits: Sequence[Hit], citations: Sequence[Citation], chunk_of: Callable[[str], Chunk | None], k: int
) -> tuple[Hit, ...]:
    """Hits → the passages holding the citations first (in citation order), then the rest; ranks renumbered.

    The passage a reader should look at first is the one the answer quotes. A cited sentence
    just after a retrieved passage brings its own passage along.
    """
    by_chunk = {h.chunk.id: h for h in hits}
    ordered: list[Hit] = []
    for c in citations:
        if any(h.chunk.id == c.chunk_id for h in ordered):
            continue
        hit = by_chunk.get(c.chunk_id)
        if hit is None:
            chunk = chunk_of(c.chunk_id)
            base = next((h for h in hits if h.chunk.doc_id == c.doc_id), None)
            if chunk is None or base is None:
                continue
            hit = replace(base, chunk=chunk, origin="answer", duplicates=(), following=(), sentence_scores=())
        ordered.append(hit)
    ordered += [h for h in hits if all(h.chunk.id != o.chunk.id for o in ordered)]
    return tuple(replace(h, rank=i) for i, h in enumerate(ordered[:k], start=1))


def with_list(text: str, span: Span, max_items: int = 20, max_chars: int = 1000) -> Span:
    """A sentence that introduces a list → its span extended over the list's items.

    "… folgende Handlungsfelder besonders relevant" followed by the lines "- Bildung",
    "- Breitband & 5G" …: quoting the lead-in alone answers nothing. The sentence must end
    its line and the next lines (at least two) must be items; a sentence that is itself an
    item is not extended. The result is still one exact span of the text.
    """
    line_start = text.rfind("\n", 0, span.start) + 1
    if LIST_ITEM.match(text[line_start : span.end]):
        return span
    ends_line = re.match(r"[ \t:]*\n", text[span.end :])
    if not ends_line:
        return span
    pos, end, items = span.end + ends_line.end(), span.end, 0
    while items < max_items and pos < len(text):
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        line = text[pos:line_end]
        if not LIST_ITEM.match(line) or line_end - span.start > max_chars:
            break
        end, items, pos = pos + len(line.rstrip()), items + 1, line_end + 1
    return Span(span.start, end) if items >= 2 else span


def _same_fact(a: Candidate, b: Candidate) -> bool:
    """Two candidate sentences say the same (same passage, or near-identical in duplicate documents)."""
    if a.hit.chunk.id == b.hit.chunk.id and a.span == b.span:
        return True
    if a.hit.group != b.hit.group:
        return False
    return containment(set(lexical.terms(a.text, "de")), set(lexical.terms(b.text, "de"))) >= SAME_REPORT


def _quote(text: str) -> str:
    """A cited sentence → one line (line breaks inside a sentence become spaces)."""
    return re.sub(r"\s*\n\s*", " ", text)
