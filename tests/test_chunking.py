"""Chunking: German-aware sentences and chunks whose offsets are exact, proved on generated text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from pipeline.chunking import chunk_document, segments, sentence_windows, sentences, split_sentences
from pipeline.cleaning import clean
from pipeline.settings import ChunkingSettings, CleaningSettings, SourceSettings
from pipeline.sources import load
from pipeline.types import Span, SourceText

from conftest import SEEDS

CFG = ChunkingSettings()


def split(text: str, lang: str = "de") -> list[str]:
    return [s.slice(text) for s in split_sentences(text, Span(0, len(text)), lang, CFG)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Nach dem Vortrag von Prof. Dr. Ulrich Radtke wurde diskutiert. Danach ging es weiter.", 2),
        ("Unterzeichnet haben Prof.Dr. Ulrich Radtke (UDE) und Marcus O. Wittig (DVV). Statements folgen.", 2),
        ("Erreicht werden sollen diese Ziele u.a. durch Vernetzung. Zweiter Satz.", 2),
        ("Das ist z.B. ein Test. Zweiter Satz.", 2),
        ("Der Rat hat in seiner Sitzung am 7. Mai 2018 den Masterplan beschlossen. Neuer Satz.", 2),
        ("Die Vereinbarung wurde auf der CeBIT (14.-18. März 2016) in Hannover unterzeichnet. Dann mehr.", 2),
        ("„Wir sind überzeugt. Das ist gut“, erläutert Thomas Jühe. Nächster Satz.", 2),
        ('"Innovative Technologien sind der Schlüssel. Wir wollen mehr", sagt Sören Link. Weiter.', 2),
        ("Mr. Smith met Dr. Jones in Washington. They talked.", 2),
    ],
)
def test_german_sentence_boundaries(text: str, expected: int) -> None:
    parts = split(text)
    assert len(parts) == expected, parts
    assert parts[-1] in ("Danach ging es weiter.", "Statements folgen.", "Zweiter Satz.", "Neuer Satz.",
                         "Dann mehr.", "Nächster Satz.", "Weiter.", "They talked.")


def test_unclosed_quote_does_not_swallow_the_paragraph() -> None:
    assert len(split("„Ein offenes Zitat beginnt hier. Der zweite Satz. Der dritte Satz.")) == 3


def test_list_markers_are_not_part_of_the_sentence() -> None:
    assert split("- Breitband & 5G") == ["Breitband & 5G"]
    assert split("## Statements") == ["Statements"]


def test_overlong_sentence_is_cut_at_whitespace() -> None:
    text = "wort " * 1000
    parts = split_sentences(text, Span(0, len(text)), "de", ChunkingSettings(max_sentence_chars=200))
    assert all(p.end - p.start <= 200 for p in parts)
    assert sum(len(p.slice(text).split()) for p in parts) == 1000


def doc_from(text: str, source: str = "gen.txt"):
    src = SourceText(source=source, text=text, sha256="x", encoding="utf-8", format="text")
    return clean(src, CleaningSettings())


def check_invariants(doc, cfg: ChunkingSettings) -> None:
    chunks = chunk_document(doc, cfg)
    text = doc.text
    all_sentences = [s for region in sentences(doc, cfg) for s in region]
    removed = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        start, end = pos, pos + len(body)
        if body.strip() and not any(k.start < end and start < k.end for k in doc.kept):
            removed.append((start, end))
        pos += len(line)
    for c in chunks:
        assert text[c.start : c.end] == c.text  # the offset property
        assert c.text and c.text == c.text.strip()
        assert c.sentences[0].start == c.start and c.sentences[-1].end == c.end
        for a, b in zip(c.sentences, c.sentences[1:]):
            assert a.end <= b.start
        for ra, rb in removed:  # never spans a line cleaning removed
            assert not (c.start < rb and ra < c.end), (c.text, text[ra:rb])
        before = [s for s in all_sentences if s.end <= c.start]
        prev = before[-1].slice(text) if before else ""
        allowed = {"", doc.title, prev, f"{doc.title}\n{prev}"}
        assert c.context in allowed  # title and previous sentence only
    in_chunks = {s for c in chunks for s in c.sentences}
    assert set(all_sentences) == in_chunks  # every sentence lands in a chunk
    covered = set()
    for s in all_sentences:
        covered.update(range(s.start, s.end))
    for k in doc.kept:  # nothing kept is lost, except list/heading markers
        for i in range(k.start, k.end):
            if not text[i].isspace() and i not in covered:
                assert i - k.start < 8 and text[i] in "#-*•>0123456789.)", (text[k.start : k.end], i)


FRAGMENTS = [
    "Die Stadt Duisburg unterzeichnete die Erklärung.", "Prof. Dr. Anton Grabmaier sprach.", "Das gilt u.a. für Schulen.",
    "Am 7. Mai 2018 tagte der Rat.", "Die CeBIT (14.-18. März 2016) war in Hannover.", "„Wir freuen uns. Sehr!“, sagt er.",
    '"Gut gemacht", sagt sie.', "z.B. Bildung", "Wer hat das gesagt?", "Ja!", "Smart City", "Grüße – ß, ä, ö, ü.",
    "Anzeige", "Newsletter", "www.example.de", "(RP)", "- Breitband & 5G", "# Überschrift", "Über 180.000 Mitarbeiter.",
    "ZTE", "“", "„", '"', "e.V.", "Nr. 5", "Fußball-WM 2018.", "日本語のテキスト。", "🙂 Emoji.", "...", "?",
]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\r\n", "\t", " \n ", "\n\n\n"]

texts = st.lists(st.tuples(st.sampled_from(FRAGMENTS) | st.text(min_size=1, max_size=30), st.sampled_from(SEPARATORS)),
                 min_size=1, max_size=40).map(lambda parts: "".join(f + s for f, s in parts))
small_chunks = st.builds(
    ChunkingSettings,
    max_chars=st.integers(80, 700),
    max_sentences=st.integers(1, 6),
    overlap_sentences=st.integers(0, 2),
    max_sentence_chars=st.integers(80, 400),
)


@hsettings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cfg=small_chunks)
@example(  # a sentence running over a line break, as context
    text="Die Stadt Duisburg unterzeichnete die Erklärung. Smart City Smart City\nz.B. Bildung Die Stadt "
    "Duisburg unterzeichnete die Erklärung. ",
    cfg=ChunkingSettings(max_chars=80, max_sentences=1, overlap_sentences=0, max_sentence_chars=80),
)
def test_offsets_hold_on_generated_text(text: str, cfg: ChunkingSettings) -> None:
    check_invariants(doc_from(text), cfg)


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_offsets_hold_for_every_seed_chunk(path) -> None:
    src = load(str(path), SourceSettings())
    doc = clean(src, CleaningSettings())  # type: ignore[arg-type]
    raw = path.read_bytes().decode("utf-8")
    chunks = chunk_document(doc, CFG)
    assert chunks
    for c in chunks:
        assert raw[c.start : c.end] == c.text
    check_invariants(doc, CFG)


def test_signers_sentence_is_one_sentence_with_its_context_in_the_chunk() -> None:
    doc = clean(load(str(next(SEEDS.glob("004_*.txt"))), SourceSettings()), CleaningSettings())  # type: ignore[arg-type]
    sents = [s.slice(doc.text) for region in sentences(doc, CFG) for s in region]
    signers = [s for s in sents if s.startswith("Unterzeichnet wurde diese Vereinbarung")]
    assert len(signers) == 1 and signers[0].endswith("(Fraunhofer-Institut).")
    chunk = next(c for c in chunk_document(doc, CFG) if signers[0] in c.text)
    assert chunk.context.startswith(doc.title)


def test_chunk_ids_are_stable() -> None:
    doc = doc_from("Erster Satz. Zweiter Satz. Dritter Satz.")
    assert [c.id for c in chunk_document(doc, CFG)] == [c.id for c in chunk_document(doc, CFG)]


def check_segments(doc, cfg: ChunkingSettings) -> None:  # type: ignore[no-untyped-def]
    """The one-pass encoder's inputs: segments rebuild their text exactly, each sentence is one segment
    with only whitespace before it, and windows keep sentence order, the size limit and region bounds."""
    chunks = chunk_document(doc, cfg)
    for c in chunks:
        segs, owners = segments(doc.text, c.start, c.end, c.sentences)
        assert "".join(segs) == c.text
        assert sorted(o for o in owners if o is not None) == list(range(len(c.sentences)))
        for seg, owner in zip(segs, owners):
            if owner is not None:
                s = c.sentences[owner].slice(doc.text)
                assert seg.endswith(s) and not seg[: len(seg) - len(s)].strip()
            else:
                assert seg.strip()
    spans = sorted({s for c in chunks for s in c.sentences}, key=lambda s: (s.start, s.end))
    runs = sentence_windows(doc.text, spans, cfg.max_chars)
    assert [s for run in runs for s in run] == spans
    for run in runs:
        assert len(run) == 1 or run[-1].end - run[0].start <= cfg.max_chars
        assert all(not doc.text[a.end : b.start].strip() for a, b in zip(run, run[1:]))


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cfg=small_chunks)
def test_segments_and_windows_hold_on_generated_text(text: str, cfg: ChunkingSettings) -> None:
    check_segments(doc_from(text), cfg)


def test_segments_and_windows_hold_for_the_seeds() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        check_segments(clean(load(str(path), SourceSettings()), CleaningSettings()), CFG)  # type: ignore[arg-type]


def test_text_between_sentences_is_a_segment_of_its_own() -> None:
    text = "Erster Satz. [Anzeige] Zweiter Satz."
    first, second = Span(0, 12), Span(23, 36)
    assert segments(text, 0, len(text), [first, second]) == (["Erster Satz.", " [Anzeige]", " Zweiter Satz."], [0, None, 1])
    # a window never reads across it
    assert sentence_windows(text, [first, second], 600) == [[first], [second]]
    assert sentence_windows("Eins. Zwei. Drei.", [Span(0, 5), Span(6, 11), Span(12, 17)], 11) == [
        [Span(0, 5), Span(6, 11)], [Span(12, 17)]]
