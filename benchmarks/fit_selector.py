"""Fit the sentence selector on the development parts of the QA sets → pipeline/query/selector.json.

    .venv/bin/python benchmarks/fit_selector.py            (cross-validates, then writes the model)
    .venv/bin/python benchmarks/fit_selector.py --dry-run  (cross-validates only)

Only items listed as ``development`` in ``benchmarks/splits.json`` are read; held-out items
are never asked here. Each development question is asked of its corpus (built once, default
settings) and every candidate sentence gets the feature row the answer stage computes
(``answering.candidates``). A sentence is labelled as answering when it and the item's
evidence overlap (one contains the other, whitespace normalised) in the same source.

Cross-validation is grouped (GroupKFold, 5 folds): an outsider question goes with every
other question about its document, so a fold's questions are about documents the model was
not fitted on, as the product's will be. The decision thresholds — refuse below
``abstain_below``, quote a second sentence at ``second_ratio`` of the best — are chosen on
out-of-fold probabilities (a model's probabilities on questions it was fitted on are too
sure of themselves) by question-level outcome: an answerable question counts when the quoted
sentences hold every expected answer, an unanswerable one when it is refused; the objective
is the share of all questions handled right. The figures printed are nested: each outer
fold's thresholds come from its own training folds. It prints the cross-validated figures
of logistic regression and of gradient-boosted trees (for comparison) and fits the chosen
logistic regression on all development questions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit  # noqa: E402
from quality_unseen import CORPORA, cwd  # noqa: E402

import pipeline  # noqa: E402
from pipeline import Settings  # noqa: E402
from pipeline.evaluation import QAItem, _same_path, load_qa, normalise_space  # noqa: E402
from pipeline.query import answering, selection  # noqa: E402
from pipeline.query.question import parse  # noqa: E402

BENCH = ROOT / "benchmarks"
SPLITS = BENCH / "splits.json"


@dataclass(frozen=True)
class Asked:
    """One development question: its candidates' features and labels, and what counts as right."""

    item: QAItem
    group: str
    texts: tuple[str, ...]
    rows: np.ndarray
    labels: np.ndarray
    same_fact: tuple[tuple[int, ...], ...]  # per candidate: candidates that say the same (not quoted twice)
    eligible: np.ndarray
    quotable: np.ndarray  # per candidate: not a heading or a too short line, whatever the question asks
    docs: tuple[str, ...]  # per candidate: its document
    asks: tuple[str | None, ...]  # the kinds of what the question asks, when it asks more than one thing


def label(item: QAItem, source: str, text: str) -> bool:
    flat = normalise_space(text)
    for src, ev in item.evidence:
        if src and not _same_path(src, source):
            continue
        evidence = normalise_space(ev)
        if evidence and (evidence in flat or (len(flat) >= 20 and flat in evidence)):
            return True
    return False


def collect(settings: Settings) -> list[Asked]:
    """Every development question of every set → its candidates (features, labels)."""
    splits = json.loads(SPLITS.read_text("utf-8"))["sets"]
    out: list[Asked] = []
    with tempfile.TemporaryDirectory(prefix="belegt-fit-") as tmp:
        for corpus_name, (folder, path) in CORPORA.items():
            with cwd(folder):
                index_dir = Path(tmp) / corpus_name.replace("/", "-")
                pipeline.build([path], index_dir, settings, progress=False)
                index = pipeline.open_index(index_dir, settings)
                try:
                    for name, split in splits.items():
                        if split["corpus"] != corpus_name:
                            continue
                        dev = set(split["development"])
                        for item in load_qa(BENCH / name):
                            if item.id in dev:
                                out.append(ask(index, name, item, settings))
                finally:
                    index.close()
    return out


def ask(index: Any, set_name: str, item: QAItem, settings: Settings) -> Asked:
    with index._using() as corpus:  # the generation answering reads, as Index.ask uses it
        hits = corpus.retriever.search(item.question, max(settings.retrieval.top_k, settings.answer.from_passages))
        q = parse(item.question, corpus)
        found = answering.candidates(q, hits, corpus, settings.answer)
    docs = sorted({Path(s).name for s, _ in item.evidence if s})
    group = f"{set_name}:{docs[0]}" if item.answerable and docs else f"{set_name}:{item.id}"
    same = tuple(tuple(j for j, d in enumerate(found) if j != i and answering._same_fact(c, d))
                 for i, c in enumerate(found))
    eligible = np.array([answering.eligible(c, settings.answer) for c in found], dtype=bool)
    quotable = np.array([answering.quotable_line(c, settings.answer) for c in found], dtype=bool)
    return Asked(item, group, tuple(c.text for c in found),
                 np.array([c.features for c in found], dtype=np.float64).reshape(-1, len(selection.FEATURES)),
                 np.array([label(item, c.hit.source, c.text) for c in found], dtype=bool), same, eligible,
                 quotable, tuple(c.hit.chunk.doc_id for c in found), q.asks)


def outcome(a: Asked, p: np.ndarray, abstain_below: float, second_ratio: float, ask_ratio: float = 1.01,
            max_sentences: int = 2) -> bool:
    """Is the answer built from these probabilities right? (Answerable: every expected answer quoted;
    unanswerable: refused.) The choice is the answer stage's (``answering.answer``)."""
    order = [i for i in np.argsort(-p) if a.eligible[i]]
    if not order or p[order[0]] < abstain_below:
        return not a.item.answerable
    if not a.item.answerable:
        return False
    chosen = [order[0]]
    for i in order[1:]:
        if len(chosen) >= max_sentences or p[i] < p[order[0]] * second_ratio:
            break
        if not any(i in a.same_fact[c] for c in chosen):
            chosen.append(i)
    if a.asks:
        pool = [int(i) for i in np.argsort(-p, kind="stable") if a.quotable[i]]
        chosen = answering.further_asks(a.asks, chosen, pool, a.texts, a.docs, p.tolist(), ask_ratio)
    text = " ".join(a.texts[i] for i in chosen).casefold()
    return all(any(alt.casefold() in text for alt in group) for group in a.item.answer_groups)


def objective(asked: Sequence[Asked], probs: Sequence[np.ndarray], t: float, r: float,
              ask: float = 1.01) -> tuple[float, float, float]:
    """(share of all questions handled right, answerable right, unanswerable refused)."""
    ans = [outcome(a, p, t, r, ask) for a, p in zip(asked, probs) if a.item.answerable]
    una = [outcome(a, p, t, r, ask) for a, p in zip(asked, probs) if not a.item.answerable]
    right, refused = float(np.mean(ans)) if ans else 0.0, float(np.mean(una)) if una else 0.0
    return (sum(ans) + sum(una)) / max(len(ans) + len(una), 1), right, refused


# Linear steps, and finer ones among small probabilities (a question that shares no words with the
# index gets probabilities of a few thousandths).
THRESHOLDS = sorted({round(float(x), 4) for x in (*np.linspace(0.0, 0.6, 61), *np.geomspace(0.0005, 0.05, 21))})
RATIOS = [0.5, 0.7, 0.85, 1.01]
ASK_RATIOS = [0.0, 0.1, 0.25, 0.5, 1.01]


def best_thresholds(asked: Sequence[Asked], probs: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Probabilities the model gave questions it was not fitted on → the thresholds that handle most right
    (refusal, second sentence, a further ask's sentence; ties go to the lower refusal threshold, then to
    quoting less)."""
    scores = {(t, r): objective(asked, probs, t, r)[0] for t in THRESHOLDS for r in RATIOS}
    t, r = max(scores, key=lambda k: (scores[k], -k[0]))
    # The further-ask ratio is chosen given the other two: it changes only questions that ask two things.
    by_ask = {a: objective(asked, probs, t, r, a)[0] for a in ASK_RATIOS}
    return t, r, max(by_ask, key=lambda a: (by_ask[a], a))


# Signs the weights must have, from what each feature means: holding what the question asks for,
# its words and names can only make a sentence more likely to answer; being further from the best
# candidate, in a lower passage, a heading, or asked with names the index lacks, only less.
# Features left out may take either sign. With ~160 questions an unconstrained fit learns signs
# from accidents of the data (the grounding of names came out negative), which new questions punish.
SIGNS: dict[str, int] = {
    "dense": 1, "dense_gap": -1, "dense_rank": -1, "passage_gap": -1, "passage_rank": -1,
    "coverage": 1, "coverage_context": 1, "coverage_gap": -1, "grounded": 1, "absent_names": -1,
    "type_match": 1, "type_miss": -1, "previous_coverage": 1, "count_match": 1, "heading": -1, "new_names": 1, "known_words": 1,
}


class SignedLogistic:
    """Logistic regression on standardised features with an L2 penalty and the weights' signs bounded
    by ``SIGNS`` (L-BFGS-B); ``fit``/``predict_proba`` as scikit-learn's."""

    def __init__(self, c: float) -> None:
        self.c = c

    def fit(self, x: np.ndarray, y: np.ndarray) -> "SignedLogistic":
        from scipy.optimize import minimize

        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
        z = (x - self.mean_) / self.scale_
        t = y.astype(np.float64)

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            margin = z @ w[:-1] + w[-1]
            p = 1.0 / (1.0 + np.exp(-margin))
            value = np.sum(np.logaddexp(0.0, margin) - t * margin) + 0.5 / self.c * np.sum(w[:-1] ** 2)
            grad = np.append(z.T @ (p - t) + w[:-1] / self.c, np.sum(p - t))
            return float(value), grad

        bounds = [((0.0, None) if SIGNS.get(f) == 1 else (None, 0.0) if SIGNS.get(f) == -1 else (None, None))
                  for f in selection.FEATURES] + [(None, None)]
        w = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
        self.coef_, self.intercept_ = w[:-1], float(w[-1])
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_)))
        return np.column_stack([1 - p, p])


def make_model(kind: str, c: float) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "signed logistic":
        return SignedLogistic(c)
    if kind == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    return HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=int(c), random_state=0)


def out_of_fold(asked: Sequence[Asked], kind: str, c: float, folds: int = 5,
                hide: Sequence[str] = ()) -> list[np.ndarray]:
    """Grouped k-fold → each question's candidate probabilities from a model not fitted on its group.

    ``hide``: features set to their training mean in the questions scored (as ``Model.without`` does for
    a question in another script)."""
    from sklearn.model_selection import GroupKFold

    at = [selection.FEATURES.index(n) for n in hide]
    probs: list[np.ndarray] = [np.zeros(0)] * len(asked)
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(len(asked)), groups=[a.group for a in asked]):
        tr = [asked[i] for i in train if len(asked[i].rows)]
        x = np.vstack([a.rows for a in tr])
        model = make_model(kind, c).fit(x, np.concatenate([a.labels for a in tr]))
        for i in test:
            if len(asked[i].rows):
                rows = asked[i].rows.copy()
                rows[:, at] = x.mean(axis=0)[at]
                probs[i] = model.predict_proba(rows)[:, 1]
    return probs


def cross_validate(asked: Sequence[Asked], kind: str, c: float, folds: int = 5) -> dict[str, float]:
    """Nested, grouped cross-validation of model *and* thresholds: each outer fold's thresholds are chosen
    on out-of-fold probabilities within its training folds, then its own questions are scored."""
    from sklearn.model_selection import GroupKFold

    groups = [a.group for a in asked]
    right: list[bool] = []
    refused: list[bool] = []
    for train, test in GroupKFold(n_splits=folds).split(np.zeros(len(asked)), groups=groups):
        tr = [asked[i] for i in train]
        t, r, ask_r = best_thresholds(tr, out_of_fold(tr, kind, c, folds - 1))
        fitted = [a for a in tr if len(a.rows)]
        model = make_model(kind, c).fit(np.vstack([a.rows for a in fitted]), np.concatenate([a.labels for a in fitted]))
        for i in test:
            a = asked[i]
            p = model.predict_proba(a.rows)[:, 1] if len(a.rows) else np.zeros(0)
            (right if a.item.answerable else refused).append(outcome(a, p, t, r, ask_r))
    n = len(right) + len(refused)
    return {"answerable right": float(np.mean(right)), "unanswerable refused": float(np.mean(refused)),
            "all right": (sum(right) + sum(refused)) / n}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="cross-validate only; do not write the model")
    parser.add_argument("--kinds", default="signed logistic,logistic,boosted trees",
                        help="the model kinds to cross-validate, comma-separated (fewer: faster)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    settings = Settings()
    asked = collect(settings)
    kinds = set(args.kinds.split(","))
    n_ans = sum(a.item.answerable for a in asked)
    positives = sum(int(a.labels.sum()) for a in asked)
    reachable = sum(bool(a.labels.any()) for a in asked if a.item.answerable)
    print(f"{len(asked)} development questions ({n_ans} answerable, {reachable} with an answering candidate), "
          f"{sum(len(a.rows) for a in asked)} candidate sentences, {positives} answering; "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    results = {}
    for kind, values in (("signed logistic", (0.1, 0.3, 1.0)), ("logistic", (0.1, 0.3, 1.0)),
                         ("boosted trees", (300.0,))):
        for c in values if kind in kinds else ():
            results[(kind, c)] = cross_validate(asked, kind, c)
            print(f"cross-validated {kind} ({'iterations' if kind == 'boosted trees' else 'C'}={c:g}): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in results[(kind, c)].items()), flush=True)
    # The model stored is the linear one (signed or not, with its C) that handled most questions right in
    # nested cross-validation; a tie goes to the signed one. Boosted trees are printed for comparison only.
    kind, best_c = max(((k, c) for k, c in results if k != "boosted trees"),
                       key=lambda kc: (round(results[kc]["all right"], 6), kc[0] == "signed logistic"))
    fitted = [a for a in asked if len(a.rows)]
    model = make_model(kind, best_c).fit(np.vstack([a.rows for a in fitted]), np.concatenate([a.labels for a in fitted]))
    t, r, ask_r = best_thresholds(asked, out_of_fold(asked, kind, best_c))
    # Questions in another script share no words with the index: their threshold is chosen with the
    # word features hidden (the development questions asked as if in another script).
    t_unshared, _, _ = best_thresholds(asked, out_of_fold(asked, kind, best_c, hide=answering.LEXICAL_FEATURES))
    cv = results[(kind, best_c)]
    if kind == "logistic":  # scikit-learn's pipeline: the scaler's numbers, then the regression's
        mean, scale, coef, intercept = (model[0].mean_, model[0].scale_, model[-1].coef_[0],
                                        float(model[-1].intercept_[0]))
    else:
        mean, scale, coef, intercept = model.mean_, model.scale_, model.coef_, model.intercept_
    stored = selection.Model(
        features=selection.FEATURES, mean=mean, scale=scale, coef=coef,
        intercept=intercept, abstain_below=t, second_ratio=r, abstain_below_unshared=t_unshared,
        ask_ratio=ask_r,
        fitted_on=(f"benchmarks/fit_selector.py at {git_commit()}: {len(asked)} development questions of "
                   f"benchmarks/splits.json ({n_ans} answerable), {kind} regression C={best_c:g}; nested grouped "
                   f"5-fold cross-validation: answerable right {cv['answerable right']:.3f}, unanswerable refused "
                   f"{cv['unanswerable refused']:.3f}"),
    )
    print(f"chosen: {kind} regression C={best_c:g}, abstain_below {t}, second_ratio {r}, "
          f"abstain_below_unshared {t_unshared}, ask_ratio {ask_r}")
    for name, w in sorted(zip(selection.FEATURES, stored.coef), key=lambda kv: -abs(kv[1])):
        print(f"  {name:18s} {w:+.3f}")
    if not args.dry_run:
        selection.MODEL_PATH.write_text(json.dumps(stored.to_json(), indent=1) + "\n", "utf-8")
        print(f"wrote {selection.MODEL_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
