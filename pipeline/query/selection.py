"""Sentence selection: feature rows of candidate sentences → the probability that each answers.

One learned decision replaces hand-set weights and thresholds: a logistic regression over
general features of a (question, sentence) pair — dense similarity, lexical coverage with
cross-language matching, whether the sentence holds what the question asks for, grounding
of the question's names, score margins, position — fitted by ``benchmarks/fit_selector.py``
on the development parts of the QA sets (never the held-out parts) and stored as plain
numbers in ``selector.json`` beside this file. The same file holds the refusal threshold
chosen by cross-validation. Logistic regression, not boosted trees: with ~160 training
questions it cross-validated as well (the script prints both), and its weights can be read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

MODEL_PATH = Path(__file__).with_name("selector.json")

# The features, in the order the model's weights are stored; each is described where it is computed
# (``answering.candidates``). A model whose names differ from these is refused when loaded.
FEATURES: tuple[str, ...] = (
    "dense",
    "dense_gap",
    "dense_rank",
    "passage_gap",
    "passage_rank",
    "outside",
    "coverage",
    "coverage_context",
    "coverage_gap",
    "grounded",
    "has_names",
    "absent_names",
    "kind_person",
    "kind_money",
    "kind_number",
    "kind_date",
    "type_match",
    "type_miss",
    "count_match",
    "words",
    "heading",
    "list_item",
    "position",
    "top_dense",
    "top_coverage",
    "known_words",
    "novelty",
    "new_names",
    "short",
    "previous_coverage",
)


@dataclass(frozen=True)
class Model:
    """A fitted selector: standardisation, weights, and the decision thresholds fitted with it."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    abstain_below: float  # refuse when the best sentence's probability is below this
    second_ratio: float  # quote a second sentence when its probability reaches this share of the best's
    fitted_on: str  # what it was fitted on, for people reading the file
    # The threshold for a question that shares no script with the index (its word features hidden, see
    # ``without``): chosen on the development questions with those features hidden.
    abstain_below_unshared: float = 0.0
    # A question that asks two things ("Wann und wo …?"): the best sentence holding the kind of a further
    # ask is quoted too when its probability reaches this share of the best's (above 1: never).
    ask_ratio: float = 1.01

    def probabilities(self, rows: Sequence[Sequence[float]]) -> np.ndarray:
        """Feature rows (in ``features`` order) → P(answers the question) for each."""
        if not len(rows):
            return np.zeros(0)
        x = (np.asarray(rows, dtype=np.float64) - self.mean) / self.scale
        p: np.ndarray = 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))
        return p

    def without(self, rows: Sequence[Sequence[float]], names: Sequence[str]) -> list[list[float]]:
        """Feature rows → the same with the named features set to the mean they were fitted around
        (a feature that cannot be known then weighs nothing)."""
        at = [self.features.index(n) for n in names]
        out = [list(r) for r in rows]
        for r in out:
            for i in at:
                r[i] = float(self.mean[i])
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "abstain_below": self.abstain_below,
            "second_ratio": self.second_ratio,
            "abstain_below_unshared": self.abstain_below_unshared,
            "ask_ratio": self.ask_ratio,
            "fitted_on": self.fitted_on,
        }


def from_json(data: dict[str, Any]) -> Model:
    """The stored numbers → a Model; a file fitted for other features fails naming the script to run."""
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{MODEL_PATH.name} was fitted for other features; run benchmarks/fit_selector.py")
    return Model(
        tuple(data["features"]),
        np.asarray(data["mean"]),
        np.asarray(data["scale"]),
        np.asarray(data["coef"]),
        float(data["intercept"]),
        float(data["abstain_below"]),
        float(data["second_ratio"]),
        str(data.get("fitted_on", "")),
        float(data.get("abstain_below_unshared", data["abstain_below"])),
        float(data.get("ask_ratio", 1.01)),
    )


@lru_cache(maxsize=4)
def load(path: Path = MODEL_PATH) -> Model:
    """The stored selector (read once)."""
    return from_json(json.loads(path.read_text("utf-8")))
