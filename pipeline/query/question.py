"""Questions: a question (and what retrieval searched) → a ``Question`` value, analysed once.

Everything the later stages read about a question is worked out here, once: the language
its refusal is written in, what kind of answer it wants (a person, a date, a number, an
amount), its content words with idf weights (stemmed in German and English, with the other
language's CLDR names of months, countries, regions, languages and cities added), the
names it mentions that the index knows and those it does not, and what a how-many question
counts. Also the one ``Corpus`` protocol: what the query stages may ask of an index.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..text import crosslingual, lexical
from ..text.language import LANGS, german_or_english
from ..types import Span

# A question in another script is refused in that script's main language; the identifier
# only chooses between German and English (on a few words it confuses Latin-script languages).
_SCRIPTS = {"CYRILLIC": "ru", "CJK": "zh", "ARABIC": "ar"}
LATIN_LANGS = LANGS

_ROLES = (
    r"(ober)?bürgermeister\w*|\w*dezernent\w*|rektor\w*|präsident\w*|minister\w*|direktor\w*|sprecher\w*|"
    r"geschäftsführer\w*|manager\w*|vorsitzende\w*|ceo|cfo|cto|mayor|executive|rector|president|director|"
    r"spokes\w*|chair\w*|founder|gründer\w*|leiter\w*|chef\w*|person|people|politiker\w*"
)
# Coarse answer types, each with its question words in both languages; the first that matches wins.
_ANSWER_TYPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "person",
        re.compile(
            r"^\W*((and|also|und|auch) )?((by|for|to|with|von|für|mit|an) )?(who|whom|whose|wer|wem|wen|wessen)\b", re.I
        ),
    ),
    (
        "money",
        re.compile(
            r"\b(budget|euros?|dollars?|cost|costs|price|invest\w*|money|funding|geld|kost\w*|preis|"
            r"investi\w*|etat|fördermittel\w*|summe)\b",
            re.I,
        ),
    ),
    ("number", re.compile(r"\b(how (many|much)|wie (viele?|hoch|groß|gross)|wieviele?|anzahl|number of)\b", re.I)),
    (
        "date",
        re.compile(
            r"\b(when|what date|which date|(what|which) year|since when|by when|until when|wann|seit wann|bis wann|"
            r"welchem (tag|datum|jahr|monat)|welchen (tag|datum|monat)|welches datum)\b",
            re.I,
        ),
    ),
    ("person", re.compile(rf"\b(which|what|welche[rsnm]?)\s+(\w+\s+)?({_ROLES})\b", re.I)),
    # Contact details, asked of press releases ("… und wie lautet ihre E-Mail-Adresse?"): last, so that
    # "who is the press contact and what is the phone number" stays a question for a person first.
    ("email", re.compile(r"\b(e-?mail\w*|mail-?adress\w*)\b", re.I)),
    # Only numbers one calls: "Kundennummer", "Hausnummer" or "Aktenzeichen" ask for no telephone number.
    (
        "phone",
        re.compile(
            r"\b(telefon\w*|phone|(?:ruf|handy|mobil|mobilfunk|fax|service)nummer\w*|durchwahl|fax|hotline)\b", re.I
        ),
    ),
)
# The kinds that have their own feature (``kind_…``); contact kinds count only through type_match/type_miss.
ANSWER_TYPES = ("person", "money", "number", "date")
# Where a question asks a second thing: "…, und bis wann?", "When and where …", "… and who decides …".
_FURTHER_ASK = re.compile(
    r",?\s+\b(?:und|and|sowie)\s+(?=(?:(?:in|an|auf|bei|bis|seit|unter|von|mit|für|at|on|by|under|from|with|for|"
    r"since|until)\s+)?(?:wer|wen|wem|wessen|was|wann|wo|wie|welche\w*|warum|who|whom|whose|what|when|where|which|"
    r"how|why)\b)",
    re.I,
)
NUMBER = re.compile(
    r"\d|\b(zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|elf|zwölf|hundert|tausend|million|milliarde|"
    r"two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|dozen)\w*\b",
    re.I,
)
_CAPITALISED = re.compile(r"(?<![\w.])([A-ZÄÖÜ][\w-]+)")
DETERMINERS = frozenset(
    "der die das den dem des ein eine einen einem einer eines kein keine welche welcher welches welchen welchem "
    "dieser diese dieses diesen diesem jede jeder jedes jeden sein seine seiner ihr ihre ihrer unser unsere "
    "the a an this that these those which what whose its his her their our my your any each every no".split()
)
_COUNT_TRIGGER = re.compile(r"\b(how many|wie viele|wieviele|number of|anzahl (der|an))\s+", re.I)

Terms = tuple[tuple[frozenset[str], float], ...]


class Corpus(Protocol):
    """What the query stages may ask of an index generation (``facade.OpenGeneration`` is one)."""

    n_chunks: int

    def text_of(self, doc_id: str) -> str: ...

    def date_of(self, doc_id: str) -> str | None: ...

    def df(self, term: str) -> int: ...

    def chunk_containing(self, doc_id: str, span: Span) -> str: ...

    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]: ...

    def similarities(self, query: str, texts: Sequence[str]) -> list[float]: ...


@dataclass(frozen=True)
class Question:
    """A question, analysed once.

    ``text`` is what the user asked; ``searched`` what retrieval searched (a follow-up with
    words carried over from the conversation). ``terms``: each content word of ``searched``
    → (its stems in de and en, with its cross-language equivalents' stems; idf weight).
    ``names``: capitalised words the index knows, with idf; ``absent``: names it does not
    know where a name stands. ``known_words``: whether any content word occurs in the index.
    ``stems`` (all stems of ``terms``) and ``words`` (the folded words of ``searched``) are what
    the answer stage compares each candidate sentence with. ``asks``: the kind of each thing a
    question asks for when it asks more than one ("Wann und wo …?" → ('date', None)), else empty.
    """

    text: str
    searched: str
    lang: str
    kind: str | None
    terms: Terms
    names: Terms
    absent: tuple[str, ...]
    known_words: bool
    counted: str | None
    stems: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    asks: tuple[str | None, ...] = ()


def parse(question: str, corpus: Corpus, searched: str | None = None) -> Question:
    """A question, the index it is asked of and what retrieval searched → its ``Question``."""
    searched = searched or question
    kind = answer_type(question)
    known, absent = names(question, corpus)
    terms = tuple(weighted_terms(searched, corpus))
    stems = frozenset(t for stems_of_word, _ in terms for t in stems_of_word)
    return Question(
        text=question,
        searched=searched,
        lang=question_language(question),
        kind=kind,
        terms=terms,
        names=tuple(known),
        absent=tuple(absent),
        # Any content word (stemmed in de or en, or an equivalent) in the index: the stems of ``terms``.
        known_words=any(corpus.df(t) for t in stems),
        counted=counted_thing(question) if kind == "number" else None,
        stems=stems,
        words=frozenset(lexical.tokens(searched)),
        asks=asks(question),
    )


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
        return german_or_english(question)
    return _SCRIPTS.get(script, "en")


def answer_type(question: str) -> str | None:
    """A question → what kind of answer it wants: 'person', 'money', 'number', 'date', 'email', 'phone' or None."""
    for kind, pattern in _ANSWER_TYPES:
        if pattern.search(question):
            return kind
    return None


def asks(question: str) -> tuple[str | None, ...]:
    """A question → the answer kind of each thing it asks for, when it asks for more than one (else ()):
    "Wie viele Ladepunkte …, und bis wann?" → ('number', 'date'); "When and where …?" → ('date', None)."""
    parts = [p for p in _FURTHER_ASK.split(question) if p.strip()]
    return tuple(answer_type(p) for p in parts) if len(parts) > 1 else ()


def idf(freq: int, n: int) -> float:
    """BM25's idf; a term absent from the index weighs as much as the rarest present one."""
    freq = max(freq, 1)
    return math.log(1 + (n - freq + 0.5) / (freq + 0.5))


def matches(stems: frozenset[str] | set[str], terms: set[str]) -> bool:
    """Does a word (its stems) occur among a sentence's terms? German compounds count by their head:
    "Dezernent" is in "Digitalisierungsdezernent"."""
    if stems & terms:
        return True
    return any(len(s) >= 5 and t.endswith(s) for s in stems for t in terms)


def word_stems(word: str) -> frozenset[str]:
    """A folded word → its stems in de and en, and those of its CLDR equivalents in the other language."""
    words = [word, *sorted(crosslingual.equivalents(word))]
    return frozenset(t for w in words for t in lexical.query_terms(w))


def weighted_terms(question: str, corpus: Corpus) -> list[tuple[frozenset[str], float]]:
    """A question → per content word: (its stems in de and en with equivalents', idf weight)."""
    out = []
    stop = lexical.stopwords()
    for word in dict.fromkeys(t for t in lexical.tokens(question) if t not in stop):
        stems = word_stems(word)
        if stems:
            out.append((stems, idf(max(corpus.df(s) for s in stems), corpus.n_chunks)))
    return out


def names(question: str, corpus: Corpus) -> tuple[list[tuple[frozenset[str], float]], list[str]]:
    """Capitalised words of a question (not its first word) → ((stems, idf) of those in the index, names absent).

    The known ones are what the question is about (Duisburg, Huawei, Absichtserklärung).
    An absent one counts as a missing *name* only where a name stands: after a preposition
    or verb, without article ("für Siemens", "with Microsoft", "did Munich"). After an
    article or another capitalised word it is more likely a noun or a translation the
    index words differently ("welcher Partei", "the Lord Mayor", "Huawei Germany") — unless
    none of the question's capitalised words is in the index at all.
    """
    words = re.findall(r"[\w-]+", question)
    known: list[tuple[frozenset[str], float]] = []
    absent: list[str] = []
    unknown: list[str] = []
    for i, word in enumerate(words):
        if i == 0 or not _CAPITALISED.fullmatch(word) or lexical.fold(word) in lexical.stopwords():
            continue
        stems = word_stems(lexical.fold(word))
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
        if (
            before[0].islower()
            and lexical.fold(before) not in DETERMINERS
            and not NUMBER.fullmatch(before)
            and not adjective
        ):
            absent.append(word)
    # Nothing the question names is in the index ("der Kölner Dom", "the Eiffel Tower"): it is about something else.
    if not known and unknown and not absent:
        absent = unknown
    return known, absent


def counted_thing(question: str) -> str | None:
    """'How many smart street lights will …' → 'smart street lights': what a how-many question counts."""
    m = _COUNT_TRIGGER.search(question)
    if not m:
        return None
    words: list[str] = []
    for word in re.findall(r"[\w-]+", question[m.end() :]):
        # Up to the verb: a stopword ("will", "hat") ends it; an English past form ("attended") is kept
        # and ends it, because "people attended" says more than "people".
        if lexical.fold(word) in lexical.stopwords() or len(words) == 3:
            break
        words.append(word)
        if word.endswith("ed"):
            break
    return " ".join(words) or None
