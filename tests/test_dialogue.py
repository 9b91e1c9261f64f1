"""Dialogue: follow-ups are searched with what they lean on; standalone questions are left alone."""

from __future__ import annotations

import pytest

from pipeline.query.dialogue import is_follow_up, standalone


@pytest.mark.parametrize(
    "question, follow_up",
    [
        ("and who signed for Huawei?", True),
        ("Und wann wurde das unterzeichnet?", True),
        ("Wer ist dort Bürgermeister?", True),
        ("what about ZTE?", True),
        ("Wie viele Mitarbeiter hat Huawei weltweit?", False),
        ("who signed the Duisburg declaration?", False),
    ],
)
def test_is_follow_up(question: str, follow_up: bool) -> None:
    assert is_follow_up(question) is follow_up


def test_follow_up_carries_the_previous_topic() -> None:
    q = standalone("and who signed for Huawei?", ["who signed the Duisburg declaration?"])
    assert q.startswith("and who signed for Huawei?") and "Duisburg" in q and "declaration" in q
    assert "who" not in q[len("and who signed for Huawei?"):]  # question words are not carried


def test_standalone_questions_and_first_questions_stay_as_they_are() -> None:
    assert standalone("Wie viele Mitarbeiter hat Huawei?", ["Wo sitzt Huawei?"]) == "Wie viele Mitarbeiter hat Huawei?"
    assert standalone("und dort?", []) == "und dort?"


@pytest.mark.slow
@pytest.mark.parametrize(
    "first, follow_up, expected",
    [
        ("who signed the Duisburg declaration?", "and who signed for Huawei?", ["Huawei"]),
        ("Wer ist Oberbürgermeister von Gelsenkirchen?", "Und wann wurde die Vereinbarung unterzeichnet?", ["2016"]),
        ("Welche Städte gehören zu Drei gewinnt?", "Wer ist dort Bürgermeister von Kelsterbach?", ["Manfred Ockel"]),
    ],
)
def test_two_turn_dialogues(seeds_open, first: str, follow_up: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    answer = seeds_open.ask(follow_up, history=[first])
    assert not answer.abstained
    assert all(e in answer.text for e in expected), answer.text
