"""Cross-language names from CLDR: an English word over German text meets its German name."""

from __future__ import annotations

from pipeline.query.question import word_stems
from pipeline.text import lexical
from pipeline.text.crosslingual import equivalents


def test_months_countries_languages_and_cities_pair_up_both_ways() -> None:
    assert equivalents("July") == {"juli"} and "july" in equivalents("Juli")
    assert equivalents("Germany") == {"deutschland"} and equivalents("Deutschland") == {"germany"}
    assert equivalents("Austria") == {"osterreich"}  # folded like index terms
    assert equivalents("Vienna") == {"wien"} and equivalents("Monday") == {"montag"}


def test_names_the_same_in_both_languages_or_unknown_add_nothing() -> None:
    assert equivalents("China") == frozenset() and equivalents("April") == frozenset()
    assert equivalents("Duisburg") == frozenset() and equivalents("declaration") == frozenset()


def test_a_question_word_matches_the_other_languages_term() -> None:
    assert set(lexical.terms("im Juli 2018", "de")) & word_stems("july")
    plain = set(lexical.query_terms("signed in Germany"))
    expanded = set(lexical.query_terms("signed in Germany", equivalents=equivalents))
    assert "deutschland" not in plain and expanded >= plain | {"deutschland"}
