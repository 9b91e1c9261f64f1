"""Cross-language names: a folded English word → its German CLDR name, and back.

An English question over German text names months, weekdays, countries, regions and
languages in English ("July", "Germany", "Europe") where the text says "Juli",
"Deutschland", "Europa": the lexical side never meets them. CLDR (through Babel, the
Unicode consortium's locale data) names each of these — and the cities that name time zones
("Wien" / "Vienna") — in both languages under one key;
words that are the same in both ("China", "April") map to nothing new. Only one-word
names are paired: a multi-word name ("United States") has no single term to match.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from .language import LANGS
from .lexical import fold, stopwords

if TYPE_CHECKING:
    from babel import Locale

_CONTINENTS = frozenset({"Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"})


def _names(locale: Locale) -> dict[str, str]:
    """A Babel locale → key → name for months, weekdays, territories, languages and the cities that name
    time zones ('Wien' / 'Vienna')."""
    from zoneinfo import available_timezones

    from babel.dates import get_timezone_location

    out: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if zone.count("/") == 1 and zone.split("/")[0] in _CONTINENTS:
            out[f"zones:{zone}"] = get_timezone_location(zone, locale=locale, return_city=True)
    for kind in ("months", "days"):
        table = getattr(locale, kind)
        for context in ("format", "stand-alone"):
            for key, name in table.get(context, {}).get("wide", {}).items():
                out[f"{kind}:{context}:{key}"] = name
    for kind in ("territories", "languages"):
        for key, name in getattr(locale, kind).items():
            out[f"{kind}:{key}"] = name
    return out


@lru_cache(maxsize=1)
def table() -> dict[str, frozenset[str]]:
    """Folded one-word name in de or en → the folded names of the same thing in the other language."""
    from babel import Locale

    names = [_names(Locale(lang)) for lang in LANGS]
    pairs: dict[str, set[str]] = {}
    stop = stopwords()
    for key in names[0].keys() & names[1].keys():
        words = [fold(n[key]) for n in names]
        if any(len(w.split()) != 1 or not w.isalpha() or w in stop for w in words) or words[0] == words[1]:
            continue
        pairs.setdefault(words[0], set()).add(words[1])
        pairs.setdefault(words[1], set()).add(words[0])
    return {w: frozenset(o) for w, o in pairs.items()}


def equivalents(word: str) -> frozenset[str]:
    """A word → the folded names of the same month, weekday, country, region or language in the other
    language (empty when CLDR names nothing by it): 'July' → {'juli'}, 'Deutschland' → {'germany'}."""
    return table().get(fold(word), frozenset())
