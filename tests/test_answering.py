"""Answering: question analysis, candidate features, the selector's choice, refusals with reasons, exact citations.

The choice itself is learned (``pipeline/query/selector.json``); tests of the mechanics pass a
small hand-made model (``weights``), so they say what ``answer`` does with any model's
probabilities. The stored model is checked for what it must be, and on real questions by the
slow tests of ``test_facade.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

import numpy as np

from pipeline.query import selection
from pipeline.query.answering import NOT_STATED, REFUSALS, answer, answer_type, candidates, has_type, names, \
    question_language, with_list
from pipeline.query.question import asks as question_asks
from pipeline.query.question import counted_thing, parse
from pipeline.settings import AnswerSettings
from pipeline.types import Chunk, Hit, Span


@pytest.mark.parametrize(
    "question, kind",
    [
        ("Who signed the Duisburg declaration?", "person"),
        ("Wer hat die Absichtserklärung unterzeichnet?", "person"),
        ("Welcher Dezernent hielt einen Vortrag?", "person"),
        ("Which Huawei executive said that?", "person"),
        ("When was the memorandum signed?", "date"),
        ("Seit welchem Jahr ist Huawei in Deutschland tätig?", "date"),
        ("In how many countries is Huawei active?", "number"),
        ("Wie viele Einwohner hat Duisburg?", "number"),
        ("What was the budget in euros?", "money"),
        ("Wie viel Geld investiert ZTE?", "money"),
        ("Welche Funktion hat Sun Jie bei ZTE?", None),
        ("By when will the rollout be finished?", "date"),
        # No question-specific types: a party, the weather or a colour is for the selector to judge.
        ("Welcher Partei gehört der Oberbürgermeister an?", None),
        ("What was the weather like in Shenzhen?", None),
        ("Wie lautet die E-Mail-Adresse der Pressestelle?", "email"),
        ("Telefonnummer Pressestelle Mobilitätsreferat München", "phone"),
        ("Unter welcher Hotline erreicht man das Bürgerbüro?", "phone"),
        # A number one does not call is not a telephone number.
        ("Welche Hausnummer hat das Rathaus?", None),
    ],
)
def test_answer_type(question: str, kind: str | None) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(
    "text, kind, expected",
    [
        ("Unterzeichnet wurde sie von Oberbürgermeister Sören Link und Ernest Zhang (Huawei).", "person", True),
        ("erläutert Manfred Ockel, Bürgermeister der Stadt Kelsterbach.", "person", True),
        ("Die Stadt Duisburg und der Technologiekonzern Huawei haben vereinbart.", "person", False),
        ("Der Rat hat am 7. Mai 2018 beschlossen.", "date", True),
        ("Das geschah in der vergangenen Woche.", "date", True),
        ("Die Stadt baut Straßenlaternen.", "date", False),
        ("Huawei beschäftigt 79.000 Mitarbeiter.", "number", True),
        ("Das Projekt kostet 5 Mio. Euro.", "money", True),
        ("Das Projekt hat drei Partner.", "money", False),
        ("Innsbruck, 15. Jänner 2025.", "date", True),  # CLDR's Austrian month names count too
        ("E-Mail: presse@stadt-kassel.de", "email", True),
        ("Schreiben Sie uns eine E-Mail.", "email", False),
        ("Telefon: +49 551 3879-240", "phone", True),
        ("Tel. 0511 123456", "phone", True),
        ("Der Anteil stieg 2024 von 0 auf 14 Prozent.", "phone", False),
    ],
)
def test_has_type(text: str, kind: str, expected: bool) -> None:
    assert has_type(text, kind) is expected


def test_question_language() -> None:
    assert question_language("Who signed the declaration?") == "en"
    assert question_language("Wer hat die Erklärung unterzeichnet?") == "de"


@dataclass
class FakeCorpus:
    texts: dict[str, str]
    vocabulary: set[str] = field(default_factory=set)
    n_chunks: int = 100

    def text_of(self, doc_id: str) -> str:
        return self.texts[doc_id]

    def df(self, term: str) -> int:
        return 3 if term in self.vocabulary else 0

    def chunk_containing(self, doc_id: str, span: Span) -> str:
        return "c-" + doc_id

    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]:
        return []

    def similarities(self, query: str, texts):  # type: ignore[no-untyped-def]
        return [0.0 for _ in texts]


def test_missing_names_are_told_from_nouns() -> None:
    corpus = FakeCorpus({}, {"duisburg", "absichtserklar", "absichtserklarung"})
    assert names("Wer hat für Siemens die Duisburger Absichtserklärung unterzeichnet?", corpus)[1] == ["Siemens"]
    assert names("Welcher Partei gehört der Duisburger Oberbürgermeister an?", corpus)[1] == []  # a noun after an article
    assert names("What did Munich agree with Microsoft?", corpus)[1] == ["Munich", "Microsoft"]
    assert names("Who is the Lord Mayor of Duisburg?", corpus)[1] == []
    # None of the question's capitalised words is in the index: it is about something else.
    assert names("Wann wurde der Kölner Dom gebaut?", corpus)[1] == ["Kölner", "Dom"]
    assert names("Wann wurde der Duisburger Dom gebaut?", corpus)[1] == []


DOC = (
    "Im Rahmen der Veranstaltung erfolgte die Unterzeichnung der Absichtserklärung zur Smart City Duisburg. "
    "Diese hat zum Ziel, die Lebensqualität zu verbessern. "
    "Unterzeichnet wurde diese Vereinbarung von Oberbürgermeister Sören Link und Ernest Zhang (Huawei)."
)


def sentence_spans(text: str) -> tuple[Span, ...]:
    out, start = [], 0
    for part in text.split(". "):
        end = start + len(part) + (1 if not part.endswith(".") else 0)
        out.append(Span(start, min(end, len(text))))
        start = end + 1
    return tuple(out)


def make_hit(doc_id: str, text: str, scores: tuple[float, ...], rank: int = 1, group: str = "") -> Hit:
    spans = sentence_spans(text)
    chunk = Chunk(id="c-" + doc_id, doc_id=doc_id, start=0, end=len(text), text=text, sentences=spans)
    return Hit(chunk=chunk, score=0.9, rank=rank, origin="dense", source=f"{doc_id}.txt", group=group or doc_id,
               sentence_scores=scores)


def weights(abstain_below: float = 0.5, second_ratio: float = 1.01, **w: float) -> selection.Model:
    """A hand-made selector: the named features' weights (on raw values), everything else 0."""
    n = len(selection.FEATURES)
    coef = np.array([w.get(f, 0.0) for f in selection.FEATURES])
    return selection.Model(selection.FEATURES, np.zeros(n), np.ones(n), coef, 0.0, abstain_below, second_ratio, "test")


# Prefers a sentence that holds what the question asks for and its names; refuses below 0.5.
TYPED = weights(type_match=4.0, type_miss=-4.0, coverage_context=2.0, grounded=1.0)


def test_the_stored_selector_fits_the_features_and_says_what_it_was_fitted_on() -> None:
    model = selection.load()
    assert model.features == selection.FEATURES and len(model.coef) == len(selection.FEATURES)
    assert 0 < model.abstain_below < 1 and "development questions" in model.fitted_on
    # A model stored for other features fails naming the script that refits it.
    data = model.to_json() | {"features": ["dense"]}
    with pytest.raises(ValueError, match="fit_selector.py"):
        selection.from_json(data)


def test_features_describe_each_candidate_sentence() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "absichtserklar", "absichtserklarung", "unterzeichn"})
    q = parse("Wer hat die Duisburger Absichtserklärung unterzeichnet?", corpus)
    found = candidates(q, [make_hit("d", DOC, (0.90, 0.80, 0.85))], corpus, AnswerSettings())
    assert [c.text[:12] for c in found] == ["Im Rahmen de", "Diese hat zu", "Unterzeichne"]
    lead, _, signers = found
    assert lead.feature("type_miss") == 1.0 and signers.feature("type_match") == 1.0  # names a person
    assert lead.feature("dense") == 0.90 and lead.feature("dense_gap") == 0.0 and signers.feature("dense_gap") > 0
    # "Unterzeichnet wurde diese Vereinbarung": it leans on the sentences before it, which name the declaration.
    assert signers.feature("coverage_context") > signers.feature("coverage")
    assert found[1].feature("previous_coverage") > 0 and lead.feature("previous_coverage") == 0  # the lead-in's
    assert lead.feature("kind_person") == 1.0


def test_the_most_probable_sentence_is_quoted_and_cited_exactly() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "absichtserklar", "absichtserklarung", "unterzeichn"})
    hit = make_hit("d", DOC, (0.90, 0.80, 0.85))
    result = answer("Wer hat die Duisburger Absichtserklärung unterzeichnet?", [hit], corpus, AnswerSettings(),
                    model=TYPED)
    assert not result.abstained and result.abstain_reason is None
    assert "Sören Link" in result.text and "[1]" in result.text
    cite = result.citations[0]
    assert DOC[cite.start : cite.end] == cite.text and cite.text.startswith("Unterzeichnet wurde")
    assert cite.source == "d.txt" and cite.n == 1 and 0.5 <= cite.score <= 1


def test_refusals_say_why_in_the_question_language() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "einwohn", "einwohner", "inhabit"})
    hit = make_hit("d", DOC, (0.9, 0.8, 0.85))
    # The topic is there (Duisburg: a third of the question's weighted words), the number is not: "not
    # stated", the passages kept as the closest.
    settings = AnswerSettings(topic_coverage=0.3)
    de = answer("Wie viele Einwohner hat Duisburg?", [hit], corpus, settings, model=TYPED)
    assert de.abstained and de.abstain_reason == "not_stated" and de.text == NOT_STATED["de"] and de.citations == ()
    assert de.hits == (hit,) and de.to_dict()["abstain_reason"] == "not_stated"
    en = answer("How many inhabitants does Duisburg have?", [hit], corpus, settings, model=TYPED)
    assert en.abstained and en.text == NOT_STATED["en"]
    # Nothing retrieved holds the question's words: off topic, a plain refusal.
    off = FakeCorpus({"d": DOC}, {"duisburg", "einwohn", "moskau"})
    result = answer("Wie viele Einwohner hat Moskau?", [hit], off, settings, model=TYPED)
    assert result.abstained and result.abstain_reason == "off_topic" and result.text == REFUSALS["de"]


def test_a_setting_overrides_the_fitted_threshold() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "ziel", "absichtserklar", "absichtserklarung"})
    hit = make_hit("d", DOC, (0.9, 0.8, 0.85))
    question = "Was ist das Ziel der Duisburger Absichtserklärung?"
    unsure = weights(abstain_below=0.9, coverage_context=1.0)
    assert answer(question, [hit], corpus, AnswerSettings(), model=unsure).abstained
    assert not answer(question, [hit], corpus, AnswerSettings(abstain_below=0.0), model=unsure).abstained


def test_a_sentence_without_what_the_question_asks_for_is_never_quoted() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "einwohn", "einwohner"})
    hit = make_hit("d", DOC, (0.9, 0.8, 0.85))
    # However likely the selector finds it: a how-many question needs a number.
    result = answer("Wie viele Einwohner hat Duisburg?", [hit], corpus, AnswerSettings(abstain_below=0.0),
                    model=weights(abstain_below=0.0, dense=10.0))
    assert result.abstained and result.citations == ()


def test_a_second_sentence_is_quoted_only_when_nearly_as_likely() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "absichtserklar", "absichtserklarung", "unterzeichn"})
    hit = make_hit("d", DOC, (0.90, 0.80, 0.85))
    question = "Was geschah mit der Duisburger Absichtserklärung?"
    by_dense = weights(abstain_below=0.0, second_ratio=0.9, dense=10.0)
    two = answer(question, [hit], corpus, AnswerSettings(max_sentences=2), model=by_dense)
    assert len(two.citations) == 2 and [c.n for c in two.citations] == [1, 2]
    # Two sentences of one passage are quoted in reading order.
    assert two.citations[0].start < two.citations[1].start
    strict = weights(abstain_below=0.0, second_ratio=1.01, dense=10.0)
    assert len(answer(question, [hit], corpus, AnswerSettings(max_sentences=2), model=strict).citations) == 1


@pytest.mark.parametrize(
    "question, kinds",
    [
        ("Wie viele Ladepunkte will VoltPark in Graz bauen, und bis wann?", ("number", "date")),
        ("Wann und wo startet der Tausch der Wasserzähler?", ("date", None)),
        ("Wer ist Pressesprecherin der Stadt Kassel und wie lautet ihre E-Mail-Adresse?", ("person", "email")),
        ("When does the test run end, and who decides afterwards?", ("date", "person")),
        ("Who is the press contact and under which phone number can he be reached?", ("person", "phone")),
        # One question: "und" between names or things, not between two questions.
        ("Wer hat die Erklärung von Duisburg und Huawei unterzeichnet?", ()),
        ("Which cities and companies signed?", ()),
    ],
)
def test_what_a_question_asks_for_each_of_its_parts(question: str, kinds: tuple[str | None, ...]) -> None:
    assert question_asks(question) == kinds


CONTACT = (
    "Die Stadt Kassel baut das Glasfasernetz aus. "
    "Pressekontakt ist Miriam Ostermann, Pressesprecherin der Stadt. "
    "Telefon: +49 561 787-1234. "
    "E-Mail: presse@stadt-kassel.de"
)


def test_a_question_asking_two_things_quotes_a_sentence_for_each() -> None:
    corpus = FakeCorpus({"d": CONTACT}, {"kassel", "pressesprecherin", "stadt"})
    hit = make_hit("d", CONTACT, (0.5, 0.9, 0.4, 0.3))
    question = "Wer ist Pressesprecherin der Stadt Kassel und wie lautet ihre E-Mail-Adresse?"
    by_dense = weights(abstain_below=0.0, dense=10.0)
    one = answer(question, [hit], corpus, AnswerSettings(min_answer_words=2), model=by_dense)
    assert [c.text for c in one.citations] == ["Pressekontakt ist Miriam Ostermann, Pressesprecherin der Stadt."]
    both = replace(by_dense, ask_ratio=0.0)
    two = answer(question, [hit], corpus, AnswerSettings(min_answer_words=2), model=both)
    # The person, then the line holding the address asked for: not the telephone line, which is more likely.
    assert [c.text for c in two.citations] == ["Pressekontakt ist Miriam Ostermann, Pressesprecherin der Stadt.",
                                               "E-Mail: presse@stadt-kassel.de"]
    # Nothing is added to a question that asks one thing.
    single = answer("Wer ist Pressesprecherin der Stadt Kassel?", [hit], corpus, AnswerSettings(min_answer_words=2),
                    model=both)
    assert len(single.citations) == 1


def test_no_hits_means_abstention() -> None:
    result = answer("Wer hat unterzeichnet?", [], FakeCorpus({}), AnswerSettings(), model=TYPED)
    assert result.abstained and result.abstain_reason == "no_passages"


def test_the_same_fact_from_duplicate_documents_is_cited_once() -> None:
    a = "In Shenzhen unterzeichneten Sören Link und Yan Lida ein Memorandum of Understanding."
    b = "In Shenzhen unterzeichneten Sören Link und Yan Lida gestern ein Memorandum of Understanding."
    corpus = FakeCorpus({"a": a, "b": b}, {"shenzh", "shenzhen", "memorandum"})
    hits = [make_hit("a", a, (0.9,), rank=1, group="g"), make_hit("b", b, (0.9,), rank=2, group="g")]
    result = answer("Wer unterzeichnete in Shenzhen das Memorandum?", hits, corpus, AnswerSettings(max_sentences=2),
                    model=weights(abstain_below=0.0, second_ratio=0.5, dense=1.0))
    assert len(result.citations) == 1


def test_counted_thing_and_quantities() -> None:
    from pipeline.query.answering import quantities

    assert counted_thing("How many smart street lights will Huawei install?") == "smart street lights"
    assert counted_thing("In how many countries is Huawei active?") == "countries"
    assert counted_thing("About how many people attended the conference?") == "people attended"
    assert counted_thing("Wie viele Beschäftigte hat Huawei?") == "Beschäftigte"
    assert counted_thing("Wer hat unterzeichnet?") is None
    text = "Seit 2001 hat Huawei am 9. Juli 180.000 Mitarbeiter und ist in 170 Ländern tätig; 16 Forschungs- und Entwicklungscluster."
    assert quantities(text) == ["Mitarbeiter und", "Ländern tätig", "Forschungs- und Entwicklungscluster"]


def test_a_count_of_something_else_is_not_an_answer() -> None:
    text = "Huawei beschäftigt 79.000 Mitarbeiter in Duisburg."

    class Similar(FakeCorpus):
        def similarities(self, query: str, texts):  # type: ignore[no-untyped-def]
            return [0.9 if ("Mitarbeiter" in t and query == "employees") else 0.7 for t in texts]

    corpus = Similar({"d": text}, {"huawei", "duisburg"})
    hit = make_hit("d", text, (0.9,))
    assert not answer("How many employees does Huawei have in Duisburg?", [hit], corpus, AnswerSettings(),
                      model=TYPED).abstained
    assert answer("How many street lights does Huawei have in Duisburg?", [hit], corpus, AnswerSettings(),
                  model=TYPED).abstained


def test_the_counted_word_itself_next_to_a_number_counts_in_any_sentence() -> None:
    text = ("Die Stadt hat 20 Schulen und 3 Bäder. Im Oktober waren 8.300 Haushalte angeschlossen. "
            "Geplant sind 42.000 Anschlüsse.")

    class Unlike(FakeCorpus):  # the embedder finds nothing alike: only the word itself can count
        def similarities(self, query: str, texts):  # type: ignore[no-untyped-def]
            return [0.1 for _ in texts]

    corpus = Unlike({"d": text}, {"haushalt", "angeschloss"})
    hit = make_hit("d", text, (0.9, 0.5, 0.8))
    found = answer("Wie viele Haushalte waren angeschlossen?", [hit], corpus, AnswerSettings(count_candidates=1),
                   model=TYPED)
    assert [c.text for c in found.citations] == ["Im Oktober waren 8.300 Haushalte angeschlossen."]


def test_cited_passages_come_first() -> None:
    from pipeline.query.answering import cited_first
    from pipeline.types import Citation

    a, b = make_hit("a", DOC, (0.5, 0.5, 0.5), rank=1), make_hit("b", DOC, (0.9, 0.9, 0.9), rank=2)
    cite = Citation(1, "b.txt", "b", b.chunk.id, 0, 10, DOC[:10], 1.0)
    ordered = cited_first([a, b], [cite], lambda cid: None, 5)
    assert [h.chunk.doc_id for h in ordered] == ["b", "a"] and [h.rank for h in ordered] == [1, 2]


@pytest.mark.parametrize("question, lang", [
    ("Кто подписал декларацию?", "ru"), ("谁签署了意向书？", "zh"), ("من وقع على الإعلان؟", "ar"),
    ("Κάτι στα ελληνικά;", "en"),  # a script without a refusal of its own: English
    ("Wer hat die Erklärung (Дуйсбург) unterzeichnet?", "de"),  # the script of most letters decides
])
def test_refusals_in_other_scripts(question: str, lang: str) -> None:
    assert question_language(question) == lang and lang in REFUSALS


def test_a_question_without_a_word_of_the_index_is_refused() -> None:
    corpus = FakeCorpus({"d": DOC}, {"duisburg", "unterzeichn"})
    hit = make_hit("d", DOC, (0.9, 0.8, 0.85))
    always = weights(abstain_below=0.0)
    for question in ("'; DROP TABLE chunks; --", "<script>alert(1)</script>", "the and of what is"):
        result = answer(question, [hit], corpus, AnswerSettings(), model=always)
        assert result.abstained and result.text == REFUSALS["en"] and result.abstain_reason == "no_known_word", question
    assert not answer("Wer hat in Duisburg unterzeichnet?", [hit], corpus, AnswerSettings(), model=always).abstained
    off = AnswerSettings(require_known_word=False)
    assert not answer("'; drop table chunks; --", [hit], corpus, off, model=always).abstained


def test_a_heading_is_not_an_answer() -> None:
    # The heading is the most probable candidate, yet never quoted: the sentence under it is.
    by_dense = weights(abstain_below=0.0, dense=10.0)
    for text in ("Mobilität. Die Stadt Duisburg baut ein Netz für alle Bürger.",
                 "# Mobilität und Netze\nDie Stadt Duisburg baut ein Netz für alle Bürger.",
                 "Freie Parkplätze per App finden\nDie Stadt Duisburg baut ein Netz für alle Bürger."):
        corpus = FakeCorpus({"d": text}, {"duisburg", "mobilitat"})
        cut = text.index("Die Stadt")
        spans = (Span(0, len(text[:cut].rstrip())), Span(cut, len(text)))
        hit = make_hit("d", text, (0.95, 0.5))
        hit = Hit(chunk=Chunk(id="c-d", doc_id="d", start=0, end=len(text), text=text, sentences=spans), score=0.9,
                  rank=1, origin="dense", source="d.txt", group="d", sentence_scores=(0.95, 0.5))
        result = answer("Was baut Duisburg?", [hit], corpus, AnswerSettings(), model=by_dense)
        assert result.citations[0].text.startswith("Die Stadt"), text
    # Only a heading to quote: refused (in the question's script).
    only = "Mobilität"
    hit = Hit(chunk=Chunk(id="c-d", doc_id="d", start=0, end=len(only), text=only, sentences=(Span(0, len(only)),)),
              score=0.9, rank=1, origin="dense", source="d.txt", group="d", sentence_scores=(0.95,))
    result = answer("Сколько жителей в Москве?", [hit], FakeCorpus({"d": only}, {"mobilitat"}), AnswerSettings(),
                    model=by_dense)
    assert result.abstained and result.text == REFUSALS["ru"]


LISTED = ("Masterplan\nFür die Stadt sind folgende Handlungsfelder relevant\n- Bildung\n- Breitband & 5G\n"
          "  - E-Government\nAlle Neuigkeiten finden Sie online.\n")


def test_a_lead_in_is_quoted_with_the_list_it_announces() -> None:
    lead = LISTED.index("Für")
    span = with_list(LISTED, Span(lead, LISTED.index("\n", lead)))
    assert span.start == lead and span.slice(LISTED).endswith("- E-Government")
    assert "Bildung" in span.slice(LISTED) and "Neuigkeiten" not in span.slice(LISTED)


def test_only_a_line_ending_sentence_followed_by_two_items_is_extended() -> None:
    item = LISTED.index("- Bildung")
    assert with_list(LISTED, Span(item, item + len("- Bildung"))) == Span(item, item + len("- Bildung"))
    mid = "Erstens gilt dies. Und zweitens das\n- a\n- b\n"
    assert with_list(mid, Span(0, len("Erstens gilt dies."))) == Span(0, len("Erstens gilt dies."))
    one = "Nur ein Punkt:\n- a\nText danach.\n"
    assert with_list(one, Span(0, len("Nur ein Punkt:"))) == Span(0, len("Nur ein Punkt:"))
    numbered = "Drei Schritte:\n1. planen\n2. bauen\n3) testen\n"
    assert with_list(numbered, Span(0, len("Drei Schritte:"))).slice(numbered).endswith("3) testen")


def test_a_relative_day_answers_when_only_in_a_dated_source() -> None:
    generic = "„Innovative Kooperationsmodelle sind heute die Grundvoraussetzung“, erläutert Sun Jie."
    assert has_type(generic, "date") and not has_type(generic, "date", dated=False)
    assert has_type("Am 9. Juli 2018 wurde die Erklärung unterzeichnet.", "date", dated=False)
    assert not has_type("Yesterday the council met.", "date", dated=False)


def test_when_question_over_an_undated_source_is_not_answered_by_heute() -> None:
    text = ("Duisburg und Huawei unterzeichneten heute ein Memorandum. "
            "Die Vereinbarung gilt für die ganze Stadt Duisburg.")

    class Dated(FakeCorpus):
        date: str | None = None

        def date_of(self, doc_id: str) -> str | None:
            return self.date

    hit = make_hit("d", text, (0.9, 0.8))
    question = "Wann unterzeichneten Duisburg und Huawei das Memorandum?"
    vocabulary = {"duisburg", "huawei", "memorandum", "unterzeichn"}
    undated, dated = Dated({"d": text}, vocabulary), Dated({"d": text}, vocabulary)
    dated.date = "2018-01-15"
    assert answer(question, [hit], undated, AnswerSettings(), model=TYPED).abstained
    assert "heute" in answer(question, [hit], dated, AnswerSettings(), model=TYPED).text
