"""Answering: a question and its hits → an ``Answer`` quoting cited sentences, or an honest refusal.

No LLM by default. Every sentence of the top passages is a candidate; each is scored by
its embedding similarity to the question, the share of the question's (idf-weighted)
terms it contains, and whether it holds what the question asks for (a name for "who",
a date for "when", a number for "how many"). The best one or two sentences, each from a
different passage and never two near-identical ones from duplicate documents, become
the answer with ``[n]`` markers; each citation is that sentence's exact span.

Abstention: when the best sentence's support falls below ``abstain_below`` — or the
question names something (a capitalised term) that occurs nowhere in the index — the
answer says the sources do not contain it, in the question's language.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Protocol, Sequence

from ..text import lexical
from ..text.dedup import SAME_REPORT, containment
from .prompts import REFUSALS
from ..settings import AnswerSettings
from ..types import Answer, Chunk, Citation, Hit, Span

# A question in another script is refused in that script's main language; the identifier
# only chooses between German and English (on a few words it confuses Latin-script languages).
_SCRIPTS = {"CYRILLIC": "ru", "CJK": "zh", "ARABIC": "ar"}
_LATIN_LANGS = ("de", "en")

_ROLES = (
    r"(ober)?bürgermeister\w*|\w*dezernent\w*|rektor\w*|präsident\w*|minister\w*|direktor\w*|sprecher\w*|"
    r"geschäftsführer\w*|manager\w*|vorsitzende\w*|ceo|cfo|cto|mayor|executive|rector|president|director|"
    r"spokes\w*|chair\w*|founder|gründer\w*|leiter\w*|chef\w*|person|people|politiker\w*"
)
# Fine answer types: a question about a party, the weather or a colour is answered only by a
# sentence that names one; otherwise a sentence that merely mentions the question's topic
# ("Sören Link", "Shenzhen") would be quoted as if it answered.
_FINE_TYPES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "party": (
        re.compile(r"\b(welche[rnms]?\s+(politischen\s+)?partei|partei(zugehörigkeit|buch)|(which|what)\s+(political\s+)?"
                   r"party|party\s+affiliation|party\s+(does|did|is|was)\b)", re.I),
        re.compile(r"\b(SPD|CDU|CSU|FDP|AfD|BSW|ÖDP|Grünen?|Bündnis\s*90|Linken?|Piratenpartei|Freien?\s+Wähler|"
                   r"parteilos\w*|Labour|Tories|Conservatives?|Democrats?|Republicans?|\w+partei)\b"),
    ),
    "weather": (
        re.compile(r"\b(wetter|weather|temperatur\w*|temperature)\b", re.I),
        re.compile(r"\b(wetter|weather|sonn\w*|sunny|sunshine|regn\w*|regen\w*|rain\w*|schnee\w*|snow\w*|"
                   r"bewölkt|cloud\w*|wolk\w*|gewitter|storm\w*|sturm|wind\w*|nebel|fog|hitze|heat|kälte|frost|"
                   r"temperatur\w*|temperature|grad celsius)\b|°", re.I),
    ),
    "colour": (
        re.compile(r"\b(farbe[n]?|colou?rs?)\b", re.I),
        re.compile(r"\b(rot|blau|grün|gelb|weiß|schwarz|grau|braun|orange|violett|lila|rosa|pink|türkis|"
                   r"red|blue|green|yellow|white|black|gr[ae]y|brown|purple|golden|silbern?|silver)\w*\b", re.I),
    ),
}

_ANSWER_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    *((kind, question) for kind, (question, _) in _FINE_TYPES.items()),
    ("person", re.compile(
        r"^\W*((and|also|und|auch) )?((by|for|to|with|von|für|mit|an) )?(who|whom|whose|wer|wem|wen|wessen)\b", re.I)),
    ("money", re.compile(
        r"\b(budget|euros?|dollars?|cost|costs|price|invest\w*|money|funding|geld|kost\w*|preis|"
        r"investi\w*|etat|fördermittel\w*|summe)\b", re.I)),
    ("number", re.compile(r"\b(how (many|much)|wie (viele?|hoch|groß|gross)|wieviele?|anzahl|number of)\b", re.I)),
    ("date", re.compile(
        r"\b(when|what date|which date|(what|which) year|since when|wann|seit wann|welchem (tag|datum|jahr)|"
        r"welchen (tag|datum)|welches datum)\b", re.I)),
    ("person", re.compile(rf"\b(which|what|welche[rsnm]?)\s+(\w+\s+)?({_ROLES})\b", re.I)),
)
_MONTHS = (
    r"januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    r"january|february|march|may|june|july|october|december"
)
_DATE = re.compile(
    rf"\b(1[89]\d\d|20\d\d)\b|\b\d{{1,2}}\.\s*({_MONTHS})\b|\b\d{{1,2}}\.\d{{1,2}}\.|\b({_MONTHS})\b|"
    r"\b(vorletzte[nr]? woche|vergangenen woche|kommenden jahr|nächsten jahres|last week)\b",
    re.I,
)
# The day of the text itself: it answers "when?" only where the source is dated ("heute" in an
# undated text is as often "nowadays"). Weeks and years ahead or back mostly come with an event
# ("zum Hessentag im kommenden Jahr") and count as they are.
_RELATIVE_DAY = re.compile(r"\b(gestern|heute|yesterday|today)\b", re.I)
_MONEY = re.compile(r"€|\$|\b(euro|eur|dollar|usd|mio|mrd|millionen|milliarden|million|billion)\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|hundert|tausend|million|milliarde|"
    r"two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|dozen)\w*\b",
    re.I,
)
# Person cues in news text: a title or role before a name, or a capitalised pair (first and
# last name) followed by an affiliation in parentheses, a comma or "und"/"sagt" — unless an
# article stands before it, as before German nouns ("die Stadt Duisburg und …").
_PERSON_TITLE = re.compile(
    r"\b(Prof\.|Dr\.|Oberbürgermeister(in)?|Bürgermeister(in)?|CEO|CFO|Manager(in)?|Rektor(in)?|"
    r"\w*[dD]ezernent(in)?|Herr|Frau|Mr\.|Mrs\.|Ms\.)\s+[A-ZÄÖÜ]"
)
_PERSON_PAIR = re.compile(
    r"(?P<before>\w+\s+)?\b[A-ZÄÖÜ][a-zäöüß]+\s+(?:[A-Z]\.\s+)?[A-ZÄÖÜ][a-zäöüß]+"
    r"(?=\s*(?:\(|,|\bund\b|\band\b|\bsagt|\berklärt|\berläutert|\bergänzt|\bsaid|\bsays))"
)
_CAPITALISED = re.compile(r"(?<![\w.])([A-ZÄÖÜ][\w-]+)")
_DETERMINERS = frozenset(
    "der die das den dem des ein eine einen einem einer eines kein keine welche welcher welches welchen welchem "
    "dieser diese dieses diesen diesem jede jeder jedes jeden sein seine seiner ihr ihre ihrer unser unsere "
    "the a an this that these those which what whose its his her their our my your any each every no".split()
)


@dataclass(frozen=True)
class Scored:
    """A candidate sentence of one hit, with its features and overall score."""

    hit: Hit
    span: Span
    text: str
    dense: float
    coverage: float
    type_match: float
    grounded: float
    score: float


def question_language(question: str) -> str:
    """A question → the language its refusal is written in: by script (Cyrillic → 'ru', Chinese
    characters → 'zh', Arabic → 'ar'), else 'de' or 'en'; a question in any other script gets 'en'."""
    counts: dict[str, int] = {}
    for ch in question:
        if ch.isalpha():
            script = unicodedata.name(ch, "UNKNOWN").split(" ")[0]
            counts[script] = counts.get(script, 0) + 1
    script = max(counts, key=counts.__getitem__) if counts else "LATIN"
    if script == "LATIN":
        return _question_identifier().classify(question)[0]
    return _SCRIPTS.get(script, "en")


@lru_cache(maxsize=1)
def _question_identifier():  # type: ignore[no-untyped-def]
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_LATIN_LANGS))
    return identifier


def answer_type(question: str) -> str | None:
    """A question → what kind of answer it wants: 'party', 'weather', 'colour', 'money', 'number', 'date',
    'person', or None."""
    for kind, pattern in _ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def has_type(text: str, kind: str | None, dated: bool = True) -> bool:
    """Does a sentence hold an answer of that kind? (No kind: always.)

    ``dated``: its document has a date, so "heute"/"yesterday" name a day; in an undated one they do
    not answer "when?" ("… sind heute die Grundvoraussetzung" is not a date).
    """
    if kind in _FINE_TYPES:
        return bool(_FINE_TYPES[kind][1].search(text))
    if kind == "money":
        return bool(_MONEY.search(text))
    if kind == "number":
        return bool(_NUMBER.search(text))
    if kind == "date":
        return bool(_DATE.search(text)) or (dated and bool(_RELATIVE_DAY.search(text)))
    if kind == "person":
        if _PERSON_TITLE.search(text):
            return True
        return any(
            not m.group("before") or lexical.fold(m.group("before").strip()) not in _DETERMINERS
            for m in _PERSON_PAIR.finditer(text)
        )
    return True


class Corpus(Protocol):
    """What answering needs to know about the index."""

    n_chunks: int

    def text_of(self, doc_id: str) -> str: ...

    def date_of(self, doc_id: str) -> str | None: ...

    def df(self, term: str) -> int: ...

    def chunk_containing(self, doc_id: str, span: Span) -> str: ...

    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]: ...

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]: ...


def idf(freq: int, n: int) -> float:
    """BM25's idf; a term absent from the index weighs as much as the rarest present one."""
    freq = max(freq, 1)
    return math.log(1 + (n - freq + 0.5) / (freq + 0.5))


def matches(stems: set[str], terms: set[str]) -> bool:
    """Does a word (its stems) occur among a sentence's terms? German compounds count by their head:
    "Dezernent" is in "Digitalisierungsdezernent"."""
    if stems & terms:
        return True
    return any(len(s) >= 5 and t.endswith(s) for s in stems for t in terms)


_COUNT_TRIGGER = re.compile(r"\b(how many|wie viele|wieviele|number of|anzahl (der|an))\s+", re.I)
_QUANTITY = re.compile(
    r"(?<![\w.])(\d[\d.,]*|[Zz]wei|[Dd]rei|[Vv]ier|[Ff]ünf|[Ss]echs|[Ss]ieben|[Aa]cht|[Nn]eun|[Zz]ehn|[Ee]lf|[Zz]wölf|"
    r"[Hh]undert|[Tt]ausend|[Tt]wo|[Tt]hree|[Ff]our|[Ff]ive|[Ss]ix|[Ss]even|[Ee]ight|[Nn]ine|[Tt]en|[Hh]undred|[Tt]housand)\s+"
    r"((?:[\w]+-?\s+(?:und|and)\s+(?=[A-ZÄÖÜ]))?[\w-]+)",
)


def counted_thing(question: str) -> str | None:
    """'How many smart street lights will …' → 'smart street lights': what a how-many question counts."""
    m = _COUNT_TRIGGER.search(question)
    if not m:
        return None
    words = []
    for word in re.findall(r"[\w-]+", question[m.end() :]):
        # Up to the verb: a stopword ("will", "hat") ends it; an English past form ("attended") is kept
        # and ends it, because "people attended" says more than "people".
        if lexical.fold(word) in lexical.stopwords() or len(words) == 3:
            break
        words.append(word)
        if word.endswith("ed"):
            break
    return " ".join(words) or None


def quantities(text: str) -> list[str]:
    """A sentence → what each number in it counts, with the word after ('180.000 Mitarbeiter und').

    Dates are not counts: ordinals ("9. Juli") and years ("seit 2001") are left out.
    """
    out = []
    for m in _QUANTITY.finditer(text):
        number, thing = m.group(1), m.group(2)
        if re.fullmatch(r"1[89]\d\d|20\d\d", number) or number.endswith("."):
            continue
        rest = re.match(r"\s+([\w-]+)", text[m.end() :])
        out.append(thing + (" " + rest.group(1) if rest else ""))
    return out


def weighted_terms(question: str, corpus: Corpus) -> list[tuple[set[str], float]]:
    """A question → per content word: (its stems in de and en, idf weight)."""
    out = []
    stop = lexical.stopwords()
    for word in dict.fromkeys(t for t in lexical.tokens(question) if t not in stop):
        stems = set(lexical.query_terms(word))
        if stems:
            out.append((stems, idf(max(corpus.df(s) for s in stems), corpus.n_chunks)))
    return out


def knows_a_word(question: str, corpus: Corpus) -> bool:
    """Does any content word of a question (stemmed in de or en) occur in the index?"""
    stop = lexical.stopwords()
    words = dict.fromkeys(t for t in lexical.tokens(question) if t not in stop)
    return any(corpus.df(stem) for word in words for stem in lexical.query_terms(word))


def coverage(weighted: Sequence[tuple[set[str], float]], terms: set[str]) -> float:
    """Idf-weighted share of the question's words found in a sentence (0..1)."""
    total = sum(w for _, w in weighted)
    return sum(w for stems, w in weighted if matches(stems, terms)) / total if total else 0.0


def names(question: str, corpus: Corpus) -> tuple[list[tuple[set[str], float]], list[str]]:
    """Capitalised words of a question (not its first word) → ((stems, idf) of those in the index, names absent).

    The known ones are what the question is about (Duisburg, Huawei, Absichtserklärung).
    An absent one counts as a missing *name* only where a name stands: after a preposition
    or verb, without article ("für Siemens", "with Microsoft", "did Munich"). After an
    article or another capitalised word it is more likely a noun or a translation the
    index words differently ("welcher Partei", "the Lord Mayor", "Huawei Germany") — unless
    none of the question's capitalised words is in the index at all.
    """
    words = re.findall(r"[\w-]+", question)
    known: list[tuple[set[str], float]] = []
    absent: list[str] = []
    unknown: list[str] = []
    for i, word in enumerate(words):
        if i == 0 or not _CAPITALISED.fullmatch(word) or lexical.fold(word) in lexical.stopwords():
            continue
        stems = set(lexical.query_terms(word))
        if not stems:
            continue
        freq = max(corpus.df(t) for t in stems)
        if freq:
            if all(stems != k for k, _ in known):
                known.append((stems, idf(freq, corpus.n_chunks)))
            continue
        unknown.append(word)
        before = words[i - 1]
        adjective = len(before) > 3 and before.endswith(("e", "en", "er", "es", "em"))  # "städtischen Tochterfirmen"
        if before[0].islower() and lexical.fold(before) not in _DETERMINERS and not _NUMBER.fullmatch(before) and not adjective:
            absent.append(word)
    # Nothing the question names is in the index ("der Kölner Dom", "the Eiffel Tower"): it is about something else.
    if not known and unknown and not absent:
        absent = unknown
    return known, absent


def score_sentences(question: str, hits: Sequence[Hit], corpus: Corpus, settings: AnswerSettings,
                    searched: str | None = None) -> list[Scored]:
    """Hits → every sentence of the top passages (and the sentences just after them), scored, best first.

    ``searched`` is the question as retrieval saw it (a follow-up with words carried over from
    the conversation): its words count for overlap; what the answer must hold comes from the
    question itself.
    """
    weighted = weighted_terms(searched or question, corpus)
    kind = answer_type(question)
    known, _ = names(question, corpus)
    counted = counted_thing(question) if kind == "number" else None
    count_match = _count_matches(counted, hits, corpus, settings) if counted else {}
    date_of = getattr(corpus, "date_of", None)  # a corpus that cannot tell counts every document as dated

    def dated(doc_id: str) -> bool:
        return date_of is None or date_of(doc_id) is not None

    out: list[Scored] = []
    seen: set[tuple[str, int]] = set()
    top_score = hits[0].score if hits else 0.0
    for hit in hits[: settings.from_passages]:
        doc_text = corpus.text_of(hit.chunk.doc_id)
        # The sentences before the passage count for grounding the passage's first sentences.
        lead = corpus.sentences_before(hit.chunk.doc_id, hit.chunk.start, settings.grounding_window)
        spans = hit.chunk.sentences + hit.following
        lead_texts = [sp.slice(doc_text) for sp in lead]
        texts = [sp.slice(doc_text) for sp in spans]
        lead_terms = [_terms(t) for t in lead_texts]
        sentence_terms = [_terms(t) for t in texts]
        for i, span in enumerate(spans):
            if (hit.chunk.doc_id, span.start) in seen:
                continue
            seen.add((hit.chunk.doc_id, span.start))
            text = span.slice(doc_text)
            terms = sentence_terms[i]
            # A sentence leans on the ones before it ("Unterzeichnet wurde diese Vereinbarung …").
            context = terms.union(*_antecedents(text, lead_texts + texts[:i], lead_terms + sentence_terms[:i],
                                                 settings.grounding_window))
            total = sum(w for _, w in known)
            grounded = sum(w for stems, w in known if matches(stems, context)) / total if known else 1.0
            dense = hit.sentence_scores[i] if i < len(hit.sentence_scores) else 0.0
            cov = coverage(weighted, terms)
            typed = 1.0 if has_type(text, kind, dated(hit.chunk.doc_id)) else 0.0
            if counted:  # the number must count what the question counts: countries ~ "170 Ländern"
                typed = 1.0 if count_match.get(text, 0.0) >= settings.count_match else 0.0
            score = (
                settings.dense_weight * dense
                + settings.coverage_weight * cov
                + settings.grounding_weight * grounded
                + settings.type_weight * (typed if kind else 0.0)
                + settings.passage_weight * (hit.score - top_score)
            )
            out.append(Scored(hit, span, text, dense, cov, typed, grounded, score))
    return sorted(out, key=lambda s: -s.score)


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
            phrases = quantities(text)
            if phrases:
                dense = hit.sentence_scores[i] if i < len(hit.sentence_scores) else 0.0
                found[text] = (max(dense, found.get(text, (dense, []))[0]), phrases)
    top = sorted(found.items(), key=lambda kv: -kv[1][0])[: settings.count_candidates]
    flat = sorted({p for _, (_, ps) in top for p in ps})
    if not flat:
        return {}
    sims = dict(zip(flat, corpus.similarities(counted, flat)))
    return {text: max(sims[p] for p in ps) for text, (_, ps) in top}


_LEANS_BACK = re.compile(
    r"\b(dies(e[rsmn]?)?|dabei|dazu|damit|hierzu|hierbei|hierfür|dafür|darauf|daher|deshalb|ebenfalls|"
    r"this|these|those|such|thereby|therefore)\b|^\W*(er|sie|es|he|she|it|they)\b",
    re.IGNORECASE,
)


def _antecedents(text: str, before: Sequence[str], before_terms: Sequence[set[str]], limit: int) -> list[set[str]]:
    """The terms of the sentences a sentence refers back to: the one before it, and further back for as
    long as each sentence reached leans on its predecessor ("diese Vereinbarung", "dabei", "this")."""
    out: list[set[str]] = []
    current = text
    for j in range(len(before) - 1, max(-1, len(before) - 1 - limit), -1):
        if out and not _LEANS_BACK.search(current):
            break
        out.append(before_terms[j])
        current = before[j]
    return out


def _terms(text: str) -> set[str]:
    return set(lexical.terms(text, "de")) | set(lexical.terms(text, "en"))


def answer(question: str, hits: Sequence[Hit], corpus: Corpus, settings: AnswerSettings,
           searched: str | None = None) -> Answer:
    """A question and its hits → the extractive Answer (citations numbered in answer order)."""
    lang = question_language(question)
    kind = answer_type(question)
    known, absent = names(question, corpus)
    scored = score_sentences(question, hits, corpus, settings, searched)
    # A who/when/how-many question is answered only by a sentence that holds that kind of
    # answer and is about what the question names.
    eligible = [c for c in scored if not kind or (c.type_match and c.grounded >= settings.min_grounding)]
    # The question names someone or something the index never mentions: nothing here is about it.
    # Or none of its words occurs anywhere (markup, SQL, a typo, only stopwords): the passage
    # nearest by embedding alone is not an answer. Only for Latin script: other scripts share
    # no words with the index, yet the multilingual embedder finds their answers.
    unknown = settings.require_known_word and lang in _LATIN_LANGS and not knows_a_word(searched or question, corpus)
    # A heading ("Mobilität", "E-Government") that is nearest to a question is not an answer to it.
    heading = bool(eligible) and len(re.findall(r"\w+", eligible[0].text)) < settings.min_answer_words
    if absent or unknown or heading or not eligible or eligible[0].score < settings.abstain_below:
        return Answer(question=question, text=REFUSALS[lang], citations=(), hits=tuple(hits), abstained=True)
    chosen = [eligible[0]]
    for cand in eligible[1:]:
        if len(chosen) >= settings.max_sentences:
            break
        if cand.score < eligible[0].score - settings.second_sentence_margin:
            break
        if any(_same_fact(cand, c) for c in chosen):
            continue
        chosen.append(cand)
    # Best first; two sentences of one passage keep their reading order.
    best_of_passage: dict[str, float] = {}
    for c in chosen:
        best_of_passage[c.hit.chunk.id] = max(best_of_passage.get(c.hit.chunk.id, c.score), c.score)
    chosen.sort(key=lambda c: (-best_of_passage[c.hit.chunk.id], c.span.start))
    citations = []
    parts = []
    for n, c in enumerate(chosen, start=1):
        inside = c.hit.chunk.start <= c.span.start and c.span.end <= c.hit.chunk.end
        chunk_id = c.hit.chunk.id if inside else corpus.chunk_containing(c.hit.chunk.doc_id, c.span)
        doc_text = corpus.text_of(c.hit.chunk.doc_id)
        span = with_list(doc_text, c.span)  # a lead-in is quoted with the list it announces
        text = span.slice(doc_text)
        citations.append(Citation(n=n, source=c.hit.source, doc_id=c.hit.chunk.doc_id, chunk_id=chunk_id,
                                  start=span.start, end=span.end, text=text, score=round(c.score, 4)))
        parts.append(f"{_quote(text)} [{n}]")
    return Answer(question=question, text=" ".join(parts), citations=tuple(citations), hits=tuple(hits),
                  abstained=False)


def cited_first(hits: Sequence[Hit], citations: Sequence[Citation], chunk_of: Callable[[str], Chunk | None],
                k: int) -> tuple[Hit, ...]:
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


_LIST_ITEM = re.compile(r"[ \t]*(?:[-–•*▪]|\d{1,2}[.)])[ \t]+\S")


def with_list(text: str, span: Span, max_items: int = 20, max_chars: int = 1000) -> Span:
    """A sentence that introduces a list → its span extended over the list's items.

    "… folgende Handlungsfelder besonders relevant" followed by the lines "- Bildung",
    "- Breitband & 5G" …: quoting the lead-in alone answers nothing. The sentence must end
    its line and the next lines (at least two) must be items; a sentence that is itself an
    item is not extended. The result is still one exact span of the text.
    """
    line_start = text.rfind("\n", 0, span.start) + 1
    if _LIST_ITEM.match(text[line_start : span.end]):
        return span
    ends_line = re.match(r"[ \t:]*\n", text[span.end :])
    if not ends_line:
        return span
    pos, end, items = span.end + ends_line.end(), span.end, 0
    while items < max_items and pos < len(text):
        line_end = text.find("\n", pos)
        line_end = len(text) if line_end < 0 else line_end
        line = text[pos:line_end]
        if not _LIST_ITEM.match(line) or line_end - span.start > max_chars:
            break
        end, items, pos = pos + len(line.rstrip()), items + 1, line_end + 1
    return Span(span.start, end) if items >= 2 else span


def _same_fact(a: Scored, b: Scored) -> bool:
    """Two candidate sentences say the same (same passage, or near-identical in duplicate documents)."""
    if a.hit.chunk.id == b.hit.chunk.id and a.span == b.span:
        return True
    if a.hit.group != b.hit.group:
        return False
    return containment(set(lexical.terms(a.text, "de")), set(lexical.terms(b.text, "de"))) >= SAME_REPORT


def _quote(text: str) -> str:
    """A cited sentence → one line (line breaks inside a sentence become spaces)."""
    return re.sub(r"\s*\n\s*", " ", text)
