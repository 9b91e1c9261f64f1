"""Lexical analysis: German-aware folding and stemming, safe FTS5 expressions."""

from __future__ import annotations

import sqlite3

from pipeline import lexical
from pipeline.lexical import fold, match_expression, query_terms, terms


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


def test_selective_drops_common_terms_keeps_the_rarest() -> None:
    df = {"stadt": 900, "bochum": 40, "neu": 300, "strassenbahn": 12}.get
    assert lexical.selective(["stadt", "bochum", "neu", "strassenbahn"], df, 100) == ["bochum", "strassenbahn"]
    assert lexical.selective(["stadt", "neu"], df, 100) == ["neu"]  # none is selective: the rarest stays
    assert lexical.selective(["stadt", "neu"], df, 0) == ["stadt", "neu"]  # 0 = off
    assert lexical.selective([], df, 100) == []
