"""Lexical analysis: text → index terms for BM25 (SQLite FTS5), German-aware.

Case folding (``ß`` → ``ss``), accents folded (``ä`` → ``a``) and Snowball stemming, whose
German stemmer also reads ``ae``/``oe``/``ue`` as umlauts: "Bürgermeister",
"Buergermeister" and "BÜRGERMEISTER" meet in one term. Documents are stemmed in their
own language; a question is stemmed both ways (its language is a guess on few words).
Stopwords come from bm25s's lists.

Where the terms go: an FTS5 table of the index's SQLite file (written atomically with the
chunks, copied row by row in an incremental build); questions are scored by a bm25s matrix
built from it with FTS5's own parameters (``store/bm25.py``). Both were measured with this
analyzer (benchmarks/lexical.py): the same ranking on the seeds QA set (lexical hit@1 0.76),
and on 50,000 synthetic chunks FTS5 answered in p50 27 ms, the matrix in 2.3 ms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Protocol

from .language import LANGS
from .layout import searchable

_TOKEN = re.compile(r"\w+", re.UNICODE)
STEMMERS = {"de": "german", "en": "english", "fr": "french", "es": "spanish", "it": "italian", "nl": "dutch"}
QUESTION_LANGS = LANGS


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """German and English stopwords, folded like the terms they are compared with."""
    from bm25s.stopwords import STOPWORDS_EN_PLUS, STOPWORDS_GERMAN

    # Question words carry no content to match ("wer" and "wann" are missing from the lists).
    questions = "wer wem wen wessen was wann wo wohin woher wie warum weshalb welche welcher welches welchen welchem"
    return frozenset(fold(w) for w in (*STOPWORDS_GERMAN, *STOPWORDS_EN_PLUS, *questions.split()))


class _Stemmer(Protocol):
    """What is used of PyStemmer's ``Stemmer`` (a C extension without type hints)."""

    def stemWords(self, words: Sequence[str]) -> list[str]: ...


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> _Stemmer:
    import Stemmer

    stemmer: _Stemmer = Stemmer.Stemmer(STEMMERS.get(lang, "english"))
    return stemmer


def fold(word: str) -> str:
    """A word → case- and accent-folded (``Größe`` → ``grosse``); umlauts lose their dots."""
    folded = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in folded if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Text → folded word tokens (stopwords kept)."""
    return [fold(t) for t in _TOKEN.findall(searchable(text))]


def terms(text: str, lang: str) -> list[str]:
    """Text in a language → stemmed, folded index terms without stopwords."""
    stop = stopwords()
    words = [t for t in tokens(text) if t not in stop]
    return _stemmer(lang).stemWords(words) if words else []


def query_terms(
    question: str, langs: Iterable[str] = QUESTION_LANGS, equivalents: Callable[[str], Iterable[str]] | None = None
) -> list[str]:
    """A question → its distinct terms, stemmed in each candidate language (order kept).

    ``equivalents`` (a folded word → words naming the same thing in another language, e.g.
    ``crosslingual.equivalents``) adds those words' terms after the question's own.
    """
    stop = stopwords()
    words = [t for t in tokens(question) if t not in stop]
    if equivalents is not None:
        words += [e for w in words for e in equivalents(w) if e not in words]
    seen: dict[str, None] = {}
    for lang in langs:
        for term in _stemmer(lang).stemWords(words) if words else []:
            seen.setdefault(term, None)
    return list(seen)


def selective(query: list[str], df: Callable[[str], int], max_df: int) -> list[str]:
    """Query terms → those in at most ``max_df`` chunks (the rarest term alone if none is).

    FTS5 computes BM25 for every chunk any term matches: one term found in a third of a
    million chunks costs more than the rest of the query. Such a term has a low idf and
    moves the ranking little; the dense side still reads the whole question.
    """
    if max_df <= 0 or not query:
        return query
    counts = {t: df(t) for t in query}
    kept = [t for t in query if counts[t] <= max_df]
    return kept or [min(query, key=lambda t: counts[t])]


def match_expression(query: list[str]) -> str:
    """Terms → an FTS5 MATCH expression that ORs them (each quoted: no FTS syntax gets through)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in query)
