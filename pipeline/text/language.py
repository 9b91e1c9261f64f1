"""Languages: the two the pipeline reads closely, and one language identifier for documents and questions.

German and English have stemmers, stopwords, CLDR names and sentence rules here; any other
language is indexed and searched by its words and embeddings alone. py3langid's model is
loaded once per process (about 0.3 s) and shared: documents are classified among all its
languages, questions — a few words, where it confuses Latin-script languages — between
German and English only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

# The languages with stemmers, stopwords, CLDR names and sentence rules.
LANGS = ("de", "en")


class LanguageClassifier(Protocol):
    """What is used of py3langid's ``LanguageIdentifier`` (py3langid ships no type hints)."""

    def classify(self, text: str) -> tuple[str, float]: ...

    def set_languages(self, langs: list[str] | None = None) -> None: ...


@lru_cache(maxsize=2)
def identifier(languages: tuple[str, ...] | None = None) -> LanguageClassifier:
    """Languages to choose among (None: all of py3langid's 97) → a classifier; its model is read once."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    found: LanguageClassifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    if languages is not None:
        found.set_languages(list(languages))
    return found


def detect_language(text: str) -> str:
    """Text → ISO 639-1 code ('de', 'en', …), or 'und' when there is too little text to tell."""
    sample = text[:4000]
    if len(re.findall(r"\w+", sample)) < 3:
        return "und"
    lang, prob = identifier().classify(sample)
    return lang if prob >= 0.5 else "und"


def german_or_english(text: str) -> str:
    """A few words of Latin script → 'de' or 'en', whichever is likelier."""
    return str(identifier(LANGS).classify(text)[0])
