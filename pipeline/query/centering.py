"""Language centering: a multilingual encoder's scores corrected for the language a passage is written in.

A multilingual encoder puts every text of one language near that language's mean vector, so an
English question is more similar to an English passage than to a German one that answers it
better: over the outsiders' development documents (German and English), English questions got
the English press release ranked above the German one that held the answer. Subtracting each
language's mean from the vectors and adding back the mean of all ("language centering",
Libovický et al., 2020, *On the Language Neutrality of Pre-trained Multilingual
Representations*) removes that part. For a question vector q and a passage vector p of language
l, the centred score is ``q · (p − μ_l + μ) = q · p + q · (μ − μ_l)``: one number per question
and language, added to the passage's cosine. An index in one language has μ_l = μ and is not
changed.

The means are estimated from an evenly spaced sample of the index's rows (at most
``SAMPLE_ROWS``), so opening a large index costs one read of the sample, once. A language with
fewer than ``MIN_ROWS`` rows in the sample gets no mean of its own: a few passages' mean is
their topic rather than their language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Rows read to estimate the means: at 384 dimensions 20,000 rows are 30 MB, read once per opened index.
SAMPLE_ROWS = 20_000
# A language needs this many sampled rows for a mean of its own (below, its passages are not moved).
MIN_ROWS = 10
# Languages the identifier could not tell (too little text) are not a language: they are not moved.
UNKNOWN = "und"


@dataclass(frozen=True)
class Centering:
    """Per language, the vector (μ − μ_l) whose product with a question vector is added to that language's
    scores; languages without one are not moved."""

    offsets: Mapping[str, np.ndarray]

    def scores(self, qv: np.ndarray, weight: float = 1.0) -> dict[str, float]:
        """A question vector (and how much of the correction to apply) → language → what is added to the
        cosine of each of that language's passages."""
        return {lang: weight * float(qv @ off) for lang, off in self.offsets.items()}


NONE = Centering({})


def sample_rows(n: int, sample: int = SAMPLE_ROWS) -> list[int]:
    """A number of rows → evenly spaced rows to estimate means from (all of them when n ≤ sample)."""
    if n <= sample:
        return list(range(n))
    return sorted(set(np.linspace(0, n - 1, sample).round().astype(int).tolist()))


def fit(vectors: np.ndarray, languages: Sequence[str], min_rows: int = MIN_ROWS) -> Centering:
    """Sampled vectors (n, dim) and the language of each → the correction for every language that has at
    least ``min_rows`` of them, when there are at least two such languages (one language: nothing to move)."""
    if len(vectors) == 0:
        return NONE
    langs = np.asarray(languages, dtype=object)
    mean = vectors.mean(axis=0)
    means = {
        str(lang): vectors[langs == lang].mean(axis=0)
        for lang in sorted(set(languages))
        if lang != UNKNOWN and int((langs == lang).sum()) >= min_rows
    }
    if len(means) < 2:
        return NONE
    return Centering({lang: (mean - m).astype(np.float32) for lang, m in means.items()})


def language_of_rows(row_docs: Mapping[int, str], doc_languages: Mapping[str, str]) -> list[str]:
    """Rows → their document → its language, in row order (a document without one: ``UNKNOWN``)."""
    return [doc_languages.get(row_docs[r], UNKNOWN) or UNKNOWN for r in sorted(row_docs)]
