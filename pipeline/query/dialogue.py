"""Dialogue: a follow-up question and the conversation so far → a question that stands alone.

No LLM: a follow-up ("and who signed for Huawei?", "Und wann war das?") leans on the
previous question. When a question reads like one — it opens with "and/und/what about",
points back ("there", "dort", "das", "he", "sie") or is very short — the names and
content words of the previous question (as it was searched, so a topic carries over several
turns) that it does not repeat are added to what is searched. A question that stands alone is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..text import lexical

_OPENERS = re.compile(
    r"^\W*(and|also|what about|how about|und|auch|sowie|was ist mit|wie steht es mit|und was|und wer|und wann|und wo)\b",
    re.IGNORECASE,
)
_POINTERS = re.compile(
    r"\b(there|then|that|this|these|those|he|she|it|they|him|her|them|his|its|their|"
    r"dort|da|damals|das|dies|diese[rsmn]?|er|sie|es|ihm|ihn|ihr|ihre[nmrs]?|sein|seine[nmrs]?|dabei|dazu)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[\w-]+")


def is_follow_up(question: str) -> bool:
    """Does a question lean on an earlier one?"""
    words = _WORD.findall(question)
    return bool(_OPENERS.search(question)) or bool(_POINTERS.search(question)) or len(words) <= 3


# How many earlier questions a follow-up may reach back through (each follow-up leans on the one before).
MAX_TURNS = 8


def standalone(question: str, previous: Sequence[str]) -> str:
    """A question and the user's earlier questions (oldest first) → the question to search with.

    The previous question is taken as it was searched: when it was a follow-up itself, with the
    words it carried. So a third turn ("Wann war das?") still leans on the topic of the first
    ("who signed the Duisburg declaration?"), not only on the second ("and for Huawei?").
    """
    if not previous or not is_follow_up(question):
        return question
    recent = list(previous[-MAX_TURNS:])
    context = standalone(recent[-1], recent[:-1])
    have = {lexical.fold(w) for w in _WORD.findall(question)}
    stop = lexical.stopwords()
    carried = [
        w
        for w in _WORD.findall(context)
        if lexical.fold(w) not in stop and lexical.fold(w) not in have and not _POINTERS.fullmatch(w)
    ]
    if not carried:
        return question
    return f"{question.rstrip()} ({' '.join(dict.fromkeys(carried))})"
