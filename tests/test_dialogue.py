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


def test_a_third_turn_keeps_the_topic_of_the_first() -> None:
    history = ["who signed the Duisburg declaration?", "and who signed for Huawei?"]
    q = standalone("Wann war das?", history)
    assert q.startswith("Wann war das?") and all(w in q for w in ("Duisburg", "declaration", "Huawei", "signed"))
    # A question that stands alone starts a new topic: the turn after it leans on it alone.
    q = standalone("und wo?", [*history, "Wie viele Mitarbeiter hat ZTE?"])
    assert "Mitarbeiter" in q and "ZTE" in q and "Duisburg" not in q


def test_a_long_conversation_reaches_back_a_bounded_number_of_turns() -> None:
    history = ["Wer hat die Duisburger Erklärung unterzeichnet?"] + ["und dann?"] * 50
    assert "Duisburger" not in standalone("und dort?", history)  # more than MAX_TURNS follow-ups ago
    assert "Duisburger" in standalone("und dort?", history[:4])


@pytest.mark.slow
def test_a_three_turn_dialogue_stays_on_the_signing(seeds_open) -> None:  # type: ignore[no-untyped-def]
    history = ["who signed the Duisburg declaration?", "and who signed for Huawei?"]
    answer = seeds_open.ask("Wann war das?", history=history)
    # Before, the third turn leaned on "Huawei" alone and answered since when Huawei is in Germany.
    assert not answer.abstained and "nterzeichn" in answer.text and "2001" not in answer.text, answer.text
