"""Lexical analysis: German-aware folding and stemming, safe FTS5 expressions."""

from __future__ import annotations

import sqlite3

from pipeline.text import lexical
from pipeline.text.lexical import fold, match_expression, query_terms, terms


def test_umlaut_spellings_meet() -> None:
    forms = ["Bürgermeister", "Buergermeister", "BÜRGERMEISTER", "bürgermeistern"]
    assert len({tuple(terms(f, "de")) for f in forms}) == 1


def test_sharp_s_and_accents_fold() -> None:
    assert fold("Straße") == "strasse" and fold("Café") == "cafe"
    assert terms("Straße", "de") == terms("Strasse", "de")


def test_stopwords_are_dropped_and_stems_kept() -> None:
    got = terms("Die Stadt und der Konzern haben unterzeichnet", "de")
    assert got == ["stadt", "konz", "unterzeichn"], got
    assert terms("unterzeichnete", "de") == terms("unterzeichneten", "de")


def test_question_is_stemmed_in_both_languages() -> None:
    q = query_terms("signed agreements")
    assert "sign" in q and "agreement" in q  # English stems
    assert query_terms("Who is the mayor?") == query_terms("Who is the mayor?")


def test_match_expression_is_safe_for_fts5() -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
    db.execute("INSERT INTO t VALUES ('near or and not')")
    for hostile in ['"', 'NEAR(a b)', "x OR", "*", "a AND NOT b", "col:x", "'; DROP TABLE t; --"]:
        expr = match_expression(query_terms(hostile) or ["x"])
        db.execute("SELECT * FROM t WHERE t MATCH ?", (expr,)).fetchall()  # must not raise


FTS5_SYNTAX = ['"', "'", "*", "^", ":", "(", ")", "NEAR", "AND", "OR", "NOT", "col:", "+", "-", "{", "}", ";", "--", "\x00"]


def test_no_text_reaches_fts5_as_syntax() -> None:
    """Any text, however hostile, becomes quoted terms: the query runs and the table is intact."""
    from hypothesis import given, settings, strategies as st

    from pipeline.store import SCHEMA

    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(SCHEMA)
    db.execute("INSERT INTO lexical (rowid, terms) VALUES (0, 'duisburg near and or not')")

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(FTS5_SYNTAX), st.text(max_size=12)), max_size=12).map(" ".join))
    def check(question: str) -> None:
        expr = match_expression(query_terms(question))
        if expr:
            db.execute("SELECT rowid FROM lexical WHERE lexical MATCH ?", (expr,)).fetchall()

    check()
    assert db.execute("SELECT COUNT(*) FROM lexical").fetchone()[0] == 1


def test_selective_drops_common_terms_keeps_the_rarest() -> None:
    df = {"stadt": 900, "bochum": 40, "neu": 300, "strassenbahn": 12}.get
    assert lexical.selective(["stadt", "bochum", "neu", "strassenbahn"], df, 100) == ["bochum", "strassenbahn"]
    assert lexical.selective(["stadt", "neu"], df, 100) == ["neu"]  # none is selective: the rarest stays
    assert lexical.selective(["stadt", "neu"], df, 0) == ["stadt", "neu"]  # 0 = off
    assert lexical.selective([], df, 100) == []
