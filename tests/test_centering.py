"""Language centering: the means it fits, and a question in one language finding its answer in another."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from pipeline.embedding import HashingEmbedder
from pipeline.embedding.base import Kind, normalize
from pipeline.indexing import build
from pipeline.query import centering
from pipeline.query.retrieval import Retriever
from pipeline.settings import ChunkingSettings, RetrievalSettings, Settings
from pipeline.store import IndexReader
from pipeline.text.language import detect_language


def test_fit_takes_each_language_mean_out() -> None:
    rng = np.random.default_rng(0)
    de = rng.normal(size=(30, 8)) + np.eye(8)[0] * 5
    en = rng.normal(size=(20, 8)) + np.eye(8)[1] * 5
    fitted = centering.fit(np.vstack([de, en]), ["de"] * 30 + ["en"] * 20)
    mean = np.vstack([de, en]).mean(axis=0)
    assert set(fitted.offsets) == {"de", "en"}
    np.testing.assert_allclose(fitted.offsets["de"], mean - de.mean(axis=0), rtol=1e-5)
    # A question along the English direction: English passages lose, German ones gain.
    added = fitted.scores(np.eye(8)[1])
    assert added["en"] < 0 < added["de"]
    assert fitted.scores(np.eye(8)[1], weight=0.5)["en"] == pytest.approx(added["en"] / 2)


def test_one_language_few_rows_or_unknown_move_nothing() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 4))
    assert centering.fit(vectors, ["de"] * 40).offsets == {}
    # A language with fewer rows than MIN_ROWS, or none told ('und'), gets no mean of its own.
    few = ["de"] * 35 + ["fr"] * (centering.MIN_ROWS - 5)
    assert centering.fit(vectors, few).offsets == {}
    assert set(centering.fit(vectors, ["de"] * 20 + ["en"] * 15 + ["und"] * 5).offsets) == {"de", "en"}
    assert centering.fit(np.zeros((0, 4)), []).offsets == {}


def test_sample_rows_are_all_when_few_and_evenly_spaced_when_many() -> None:
    assert centering.sample_rows(5) == [0, 1, 2, 3, 4]
    rows = centering.sample_rows(1_000_000, sample=1000)
    assert len(rows) == 1000 and rows[0] == 0 and rows[-1] == 999_999
    assert max(np.diff(rows)) - min(np.diff(rows)) <= 1


class LanguageBiased(HashingEmbedder):
    """A stand-in with the flaw centering corrects: every English text is pushed along one direction, every
    German one along another, as a multilingual encoder puts a language's texts near its mean."""

    def embed(self, texts: Sequence[str], kind: Kind) -> np.ndarray:
        base = super().embed(texts, kind)
        pushed = base.copy()
        for i, text in enumerate(texts):
            pushed[i, 0 if detect_language(text) == "en" else 1] += 2.0
        return normalize(pushed)


GERMAN = [
    "Die Stadtwerke tauschen im kommenden Jahr alle alten Wasserzähler in den Wohnhäusern der Stadt aus.",
    "Der Gemeinderat hat dafür im Herbst ein Budget von zwei Millionen Euro beschlossen.",
    "Die neuen Geräte senden ihre Messwerte einmal am Tag über ein eigenes Funknetz an die Stadtwerke.",
    "Hauseigentümer müssen für den Tausch nichts bezahlen, die Kosten tragen die Stadtwerke.",
    "Die Arbeiten beginnen im März im Stadtteil Pradl und sollen bis Dezember abgeschlossen sein.",
    "Für Fragen ist ein Servicetelefon eingerichtet, das werktags von acht bis sechzehn Uhr erreichbar ist.",
    "Die alten Zähler werden von einem Fachbetrieb aus der Region fachgerecht entsorgt und recycelt.",
    "Die Stadt erwartet, dass sich Wasserverluste im Leitungsnetz mit den Daten schneller finden lassen.",
    "Bisher lasen Mitarbeiter der Stadtwerke die Zähler einmal im Jahr in jedem Keller selbst ab.",
    "Der Datenschutzbeauftragte des Landes hat das Verfahren vorab geprüft und keine Einwände erhoben.",
    "Eine Informationsveranstaltung für alle Bürgerinnen und Bürger findet im Februar im Rathaus statt.",
    "Die Wohnungsgesellschaften der Stadt haben ihre Unterstützung bei der Terminplanung zugesagt.",
]
ENGLISH = [
    "The parking company opened its first office abroad in Vienna this spring.",
    "Its sensors are installed in the asphalt and report whether a parking space is free.",
    "Drivers see the free spaces in the city's mobility app and can drive there directly.",
    "The company was founded six years ago by two engineers from the technical university.",
    "It now employs about eighty people in three countries and plans to hire more staff.",
    "The sensors run for up to ten years on one battery before they have to be replaced.",
    "The data are published in anonymised form as open data for researchers and developers.",
    "A first pilot ran for eighteen months in two districts of a large German city.",
    "Traffic searching for parking fell by a fifth in the pilot area according to the city.",
    "The company's chief executive said the project was a milestone for the young business.",
    "Installation in the new districts is scheduled to begin in the summer of next year.",
    "Customers pay a monthly fee per sensor that includes maintenance and the data service.",
]


def test_an_english_question_finds_the_german_answer_despite_the_language_pull(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "wasser.txt").write_text("\n\n".join(GERMAN), "utf-8")
    (docs / "parking.txt").write_text("\n\n".join(ENGLISH), "utf-8")
    embedder = LanguageBiased(64)
    # One sentence a chunk: each language then has enough chunks for a mean of its own (centering.MIN_ROWS).
    one_each = Settings(chunking=ChunkingSettings(max_sentences=1, overlap_sentences=0))
    build([docs], tmp_path / "idx", one_each, embedder=embedder, progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    try:
        # Words shared with the German answer (Hauseigentümer, Tausch, Stadtwerke) but asked in English.
        question = "Do Hauseigentümer have to pay for the Tausch of the meters by the Stadtwerke?"
        plain = Retriever(reader, embedder, RetrievalSettings(language_centering=0.0, lexical_weight=0.0))
        centred = Retriever(reader, embedder, RetrievalSettings(language_centering=1.0, lexical_weight=0.0))
        assert plain.centering()[0].offsets.keys() == {"de", "en"}
        assert "parking" in plain.search(question, 1)[0].source  # the pull: the English document wins
        assert centred.search(question, 1)[0].source.endswith("wasser.txt")
    finally:
        reader.close()
