"""What a sentence holds, read by patterns: dates (CLDR's month names in both languages), amounts,
persons, quantities, and whether a line is a list item, a table row or a heading.

The answer stage's features (``answering``) ask these questions of every candidate sentence.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..text import lexical
from .question import DETERMINERS, NUMBER


@lru_cache(maxsize=1)
def date_pattern() -> re.Pattern[str]:
    """Dates in German and English text: years, "9. Juli", "1.7.", month names (CLDR's, both languages)."""
    from babel import Locale

    # German as written in Austria and Switzerland too ("Jänner").
    locales = [Locale.parse(name) for name in ("de", "de_AT", "de_CH", "en")]
    months = sorted(
        {
            m.casefold()
            for loc in locales
            for context in ("format", "stand-alone")
            for m in loc.months[context]["wide"].values()
        }
    )
    alternatives = "|".join(map(re.escape, months))
    return re.compile(
        rf"\b(1[89]\d\d|20\d\d)\b|\b\d{{1,2}}\.\s*({alternatives})\b|\b\d{{1,2}}\.\d{{1,2}}\.|\b({alternatives})\b|"
        r"\b(vorletzte[nr]? woche|vergangenen woche|kommenden jahr|nächsten jahres|last week|next year)\b",
        re.I,
    )


# The day of the text itself: it answers "when?" only where the source is dated ("heute" in an
# undated text is as often "nowadays").
RELATIVE_DAY = re.compile(r"\b(gestern|heute|yesterday|today)\b", re.I)


MONEY = re.compile(r"€|\$|\b(euro|eur|dollar|usd|chf|mio|mrd|millionen|milliarden|million|billion)\b", re.I)


# Person cues in news text: a title or role before a name, or a capitalised pair (first and
# last name) followed by an affiliation in parentheses, a comma or "und"/"sagt" — unless an
# article stands before it, as before German nouns ("die Stadt Duisburg und …").
PERSON_TITLE = re.compile(
    r"\b(Prof\.|Dr\.|Oberbürgermeister(in)?|Bürgermeister(in)?|CEO|CFO|Manager(in)?|Rektor(in)?|"
    r"\w*[dD]ezernent(in)?|Herr|Frau|Mr\.|Mrs\.|Ms\.)\s+[A-ZÄÖÜ]"
)


PERSON_PAIR = re.compile(
    r"(?P<before>\w+\s+)?\b[A-ZÄÖÜ][a-zäöüß]+\s+(?:[A-Z]\.\s+)?[A-ZÄÖÜ][a-zäöüß]+"
    r"(?=\s*(?:\(|,|\bund\b|\band\b|\bsagt|\berklärt|\berläutert|\bergänzt|\bsaid|\bsays))"
)


LIST_ITEM = re.compile(r"[ \t]*(?:[-–•*▪]|\d{1,2}[.)])[ \t]+\S")


TABLE_ROW = re.compile(r"[ \t]*\|")


HEADING = re.compile(r"[ \t]*#")


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# A telephone number: a leading + or 0, then at least six more digits in groups ("+49 551 3879-240").
PHONE = re.compile(r"(?<![\w.])(\+|0)\d[\d ()/–-]{5,}\d(?![\w.])")
NAME_OR_NUMBER = re.compile(r"(?<![\w.])(?:[A-ZÄÖÜ][\w-]+|\d[\d.,]*)")


def has_type(text: str, kind: str | None, dated: bool = True) -> bool:
    """Does a sentence hold an answer of that kind? (No kind: always.)

    ``dated``: its document has a date, so "heute"/"yesterday" name a day; in an undated one they do
    not answer "when?" ("… sind heute die Grundvoraussetzung" is not a date).
    """
    if kind == "money":
        return bool(MONEY.search(text))
    if kind == "number":
        return bool(NUMBER.search(text))
    if kind == "date":
        return bool(date_pattern().search(text)) or (dated and bool(RELATIVE_DAY.search(text)))
    if kind == "email":
        return bool(EMAIL.search(text))
    if kind == "phone":
        return bool(PHONE.search(text))
    if kind == "person":
        if PERSON_TITLE.search(text):
            return True
        return any(
            not m.group("before") or lexical.fold(m.group("before").strip()) not in DETERMINERS
            for m in PERSON_PAIR.finditer(text)
        )
    return True


QUANTITY = re.compile(
    r"(?<![\w.])(\d[\d.,]*|[Zz]wei|[Dd]rei|[Vv]ier|[Ff]ünf|[Ss]echs|[Ss]ieben|[Aa]cht|[Nn]eun|[Zz]ehn|[Ee]lf|[Zz]wölf|"
    r"[Hh]undert|[Tt]ausend|[Tt]wo|[Tt]hree|[Ff]our|[Ff]ive|[Ss]ix|[Ss]even|[Ee]ight|[Nn]ine|[Tt]en|[Hh]undred|[Tt]housand)\s+"
    r"((?:[\w]+-?\s+(?:und|and)\s+(?=[A-ZÄÖÜ]))?[\w-]+)",
)


def quantities(text: str) -> list[str]:
    """A sentence → what each number in it counts, with the word after ('180.000 Mitarbeiter und').

    Dates are not counts: ordinals ("9. Juli") and years ("seit 2001") are left out.
    """
    out = []
    for m in QUANTITY.finditer(text):
        number, thing = m.group(1), m.group(2)
        if re.fullmatch(r"1[89]\d\d|20\d\d", number) or number.endswith("."):
            continue
        rest = re.match(r"\s+([\w-]+)", text[m.end() :])
        out.append(thing + (" " + rest.group(1) if rest else ""))
    return out


LEANS_BACK = re.compile(
    r"\b(dies(e[rsmn]?)?|dabei|dazu|damit|hierzu|hierbei|hierfür|dafür|darauf|daher|deshalb|ebenfalls|"
    r"this|these|those|such|thereby|therefore)\b|^\W*(er|sie|es|he|she|it|they)\b",
    re.IGNORECASE,
)
