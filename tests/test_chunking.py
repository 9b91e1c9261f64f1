"""Chunking: German-aware sentences and chunks whose offsets are exact, proved on generated text."""

from __future__ import annotations

import base64
import random
import re

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from pipeline.text.chunking import chunk_document, encoder_passes, segments, sentences, split_sentences
from pipeline.text.cleaning import clean
from pipeline.settings import ChunkingSettings, CleaningSettings, SourceSettings
from pipeline.text.sources import load
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
        if body.strip() and not any(k.start < end and start < k.end for k in (*doc.kept, *doc.aside)):
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
        # Content and contact blocks (kept aside) never share a chunk.
        content = any(k.start < s.end and s.start < k.end for s in c.sentences for k in doc.kept)
        contact = any(k.start < s.end and s.start < k.end for s in c.sentences for k in doc.aside)
        assert not (content and contact), c.text
        # The previous sentence is the one before in reading order of its own kind (content, then contacts).
        at = all_sentences.index(c.sentences[0])
        prev = all_sentences[at - 1].slice(text) if at else ""
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
    "ZTE", "Pressekontakt:", "Telefon: 0203 283-1", "E-Mail: presse@example.de", "“", "„", '"', "e.V.", "Nr. 5", "Fußball-WM 2018.", "日本語のテキスト。", "🙂 Emoji.", "...", "?",
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


def test_soft_hyphens_do_not_count_toward_a_chunks_size() -> None:
    # A PDF's line-end hyphens are soft hyphens in the text: nobody reads them, so the hyphenated text
    # is cut into the chunks (and encoder passes) its plain text is cut into.
    plain = " ".join(f"Der Glasfaseranschluss Nummer {i} wird im Stadtteil gebaut." for i in range(12))
    soft = plain.replace("Glasfaser", "Glas\u00adfaser").replace("Stadtteil", "Stadt\u00adteil")
    cfg = ChunkingSettings(max_chars=240, max_sentences=8, overlap_sentences=1)
    words = [[c.text.replace("\u00ad", "") for c in chunk_document(doc_from(t), cfg)] for t in (plain, soft)]
    assert words[0] == words[1] and len(words[0]) > 2
    spans = [[s for region in sentences(doc_from(t), cfg) for s in region] for t in (plain, soft)]
    runs = [[len(run) for run in encoder_passes(t, ss, 240)] for t, ss in zip((plain, soft), spans)]
    assert runs[0] == runs[1]


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
    runs = encoder_passes(doc.text, spans, cfg.max_chars)
    assert [s for run in runs for s in run] == spans
    for run in runs:
        assert len(run) == 1 or len(doc.text[run[0].start : run[-1].end].replace("\u00ad", "")) <= cfg.max_chars
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
    assert encoder_passes(text, [first, second], 600) == [[first], [second]]
    assert encoder_passes("Eins. Zwei. Drei.", [Span(0, 5), Span(6, 11), Span(12, 17)], 11) == [
        [Span(0, 5), Span(6, 11)], [Span(12, 17)]]


# --- Input size: no input hangs a build (chunking is linear in the text) -------------------------------

MB = 1_000_000


def run_on_line_without_whitespace(n: int, seed: int = 0) -> str:
    """n → one line of n characters with no whitespace (dots included: they are where abbreviations are looked for)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:-_/+=„“\"()"
    return "".join(random.Random(seed).choices(alphabet, k=n))


def run_on_line_of_words(n: int, seed: int = 0) -> str:
    """n → one line of about n characters of words and quotations, with no sentence end anywhere."""
    words = (
        '„der Ausbau“ des "Glasfasernetzes" in „Kassel“ wird von "NordNetz" und „der Stadt“ gemeinsam '
        '„geplant“ und "gebaut" sagt die „Sprecherin“ (Stadtwerke)'
    ).split()
    rnd = random.Random(seed)
    return " ".join(rnd.choices(words, k=n // 6))[:n].rstrip()


def check_large(doc, cfg: ChunkingSettings) -> list:  # type: ignore[no-untyped-def]
    """The invariants of ``check_invariants`` that stay linear on megabytes: exact spans, bounded sizes,
    sentences in order, and every non-whitespace kept character inside some sentence. → the chunks."""
    chunks = chunk_document(doc, cfg)
    text = doc.text
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.text == c.text.strip()
        assert c.end - c.start <= max(cfg.max_chars, cfg.max_sentence_chars)
        assert len(c.sentences) <= cfg.max_sentences
        assert len(c.sentences) == 1 or c.end - c.start <= cfg.max_chars
        assert c.sentences[0].start == c.start and c.sentences[-1].end == c.end
        assert all(s.end - s.start <= cfg.max_sentence_chars for s in c.sentences)
    spans = sorted({s for c in chunks for s in c.sentences}, key=lambda s: (s.start, s.end))
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert spans == [s for region in sentences(doc, cfg) for s in region]  # every sentence lands in a chunk
    # Coverage: outside the sentences, the kept spans hold only whitespace (and a heading or list marker).
    i, covered_to = 0, 0  # a sentence may run on over a line break into the next kept span
    for k in doc.kept:
        pos = max(k.start, covered_to)
        while i < len(spans) and spans[i].start < k.end:
            gap = text[pos : spans[i].start].strip()
            assert not gap or (pos == k.start and re.fullmatch(r"#{1,6}|[-*•>]|\d{1,3}[.)]", gap)), gap[:80]
            pos = covered_to = max(pos, spans[i].end)
            i += 1
        assert not text[pos : k.end].strip(), text[pos : k.end][:80]
    return chunks


@pytest.mark.slow  # megabytes of input: seconds each
def test_five_megabyte_line_without_whitespace_is_chunked_exactly() -> None:
    # Before: each sentence-boundary repair searched r"(\S+)\.$" over the whole merged text before it
    # (quadratic per search, and the text grew at every boundary); 100 KB took 16 s, 5 MB did not finish.
    text = run_on_line_without_whitespace(5 * MB)
    doc = doc_from(text)
    assert doc.kept == (Span(0, len(text)),)
    chunks = check_large(doc, CFG)
    assert len(chunks) >= len(text) // CFG.max_sentence_chars


@pytest.mark.slow  # megabytes of input: seconds each
def test_five_megabyte_line_of_words_is_chunked_exactly() -> None:
    # Before: at each break (one per 5,000 characters) the repairs copied the rest of the line and
    # tested the break against every quotation in the line: quadratic (0.25 s at 400 KB, 24 s at 5 MB).
    text = run_on_line_of_words(5 * MB)
    chunks = check_large(doc_from(text), CFG)
    assert sum(len(c.text.split()) for c in chunks) >= len(text.split())  # overlap repeats words, none lost


run_on_units = st.lists(
    st.sampled_from(list("abcXYZ09.,:;-/=+()„“\"»«!?…ß") + [" ", " ", "\n", "z.B.", "Prof.", "7. Mai"]),
    min_size=1,
    max_size=20,
).map("".join)


@pytest.mark.slow  # inputs of 20,000 to 130,000 characters: seconds
@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(lead=st.integers(0, 40_000), unit=run_on_units, size=st.integers(20_500, 30_000), cfg=small_chunks)
@example(lead=100_000, unit="Z.b", size=30_000, cfg=CFG)  # before: over two minutes for this one
def test_offsets_hold_on_long_run_on_text(lead: int, unit: str, size: int, cfg: ChunkingSettings) -> None:
    r"""A long token (a URL, a blob: ``lead`` characters without whitespace) running into ``size`` characters
    of repeated ``unit`` → exact spans, bounded sizes and full coverage, past the 20,000 characters pysbd
    reads at once.

    Before, the break after the token searched r"(\S+)\.$" over all of it: quadratic in its length.
    """
    text = "x" * lead + (unit * (size // len(unit) + 1))[:size]
    check_large(doc_from(text), cfg)


def test_long_one_line_paragraph_gets_the_sentences_of_its_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A paragraph past pysbd's limit (here ~67 KB on one line) → the same sentences as each part alone;
    pysbd is handed pieces of bounded size. Before, such a paragraph was cut every 1,200 characters."""
    import pipeline.text.chunking as chunking

    raw = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8")
    part = " ".join(raw.split())
    assert part.endswith(".“")  # each part ends a sentence
    k = 11
    text = " ".join([part] * k)
    seen: list[int] = []
    real = chunking._segmenter

    class Recording:
        def __init__(self, lang: str) -> None:
            self.inner = real(lang)

        def processor(self, segment: str):  # type: ignore[no-untyped-def]
            seen.append(len(segment))
            return self.inner.processor(segment)

    one = split_sentences(part, Span(0, len(part)), "de", CFG)
    monkeypatch.setattr(chunking, "_segmenter", Recording)
    many = split_sentences(text, Span(0, len(text)), "de", CFG)
    step = len(part) + 1
    assert many == [Span(s.start + i * step, s.end + i * step) for i in range(k) for s in one]
    assert seen and max(seen) <= 20_000


def test_markdown_with_a_500_kb_data_uri_image_chunks_only_its_prose() -> None:
    # Before: the base64 line was kept and chunked (23 s for a 500 KB image) into hundreds of chunks.
    blob = base64.b64encode(random.Random(0).randbytes(375_000)).decode()
    text = (
        "# Glasfaser für Kassel\n\n"
        "Die Stadt und NordNetz bauen das Netz gemeinsam aus. Der Ausbau beginnt im Mai.\n\n"
        f"![Karte des Ausbaugebiets](data:image/png;base64,{blob})\n\n"
        "Bis 2027 sollen alle Haushalte angeschlossen sein.\n"
    )
    src = SourceText(source="gen.md", text=text, sha256="x", encoding="utf-8", format="markdown")
    doc = clean(src, CleaningSettings())
    chunks = check_large(doc, CFG)
    assert chunks and not any("base64" in c.text or "data:" in c.text for c in chunks)
    said = " ".join(c.text for c in chunks)
    assert "Der Ausbau beginnt im Mai." in said and "Bis 2027 sollen alle Haushalte angeschlossen sein." in said
