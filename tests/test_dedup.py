"""Near-duplicates: syndicated copies are grouped, different stories are not."""

from __future__ import annotations

from pipeline.text.cleaning import clean
from pipeline.text.dedup import containment, group, shingles, signature
from pipeline.settings import CleaningSettings, DedupSettings, SourceSettings
from pipeline.text.sources import load

from conftest import SEEDS


def test_seed_000_and_001_form_the_only_group() -> None:
    cfg = DedupSettings()
    texts, sigs = {}, {}
    for path in sorted(SEEDS.glob("*.txt")):
        doc = clean(load(str(path), SourceSettings()), CleaningSettings())  # type: ignore[arg-type]
        key = path.name[:3]
        texts[key] = "\n".join(s.slice(doc.text) for s in doc.kept)
        sigs[key] = signature(texts[key], cfg)
    assert group(texts, sigs, cfg) == [("000", "001")]


def test_unrelated_texts_are_not_grouped() -> None:
    cfg = DedupSettings()
    a = "Die Stadt baut eine neue Brücke über den Rhein, die im Sommer eröffnet werden soll."
    b = "Der Zoo bekommt zwei neue Elefanten aus Indien, die im Winter ankommen werden."
    assert group({"a": a, "b": b}, {"a": signature(a, cfg), "b": signature(b, cfg)}, cfg) == []


def test_a_copy_inside_a_longer_text_is_grouped() -> None:
    cfg = DedupSettings()
    core = " ".join(f"Satz {i} über die Partnerschaft der Stadt mit dem Konzern Nummer {i}." for i in range(40))
    longer = "Eine lange Einleitung mit ganz anderen Worten und Themen. " * 20 + core
    texts = {"short": core, "long": longer}
    assert containment(shingles(core, 3), shingles(longer, 3)) > 0.9
    assert group(texts, {k: signature(v, cfg) for k, v in texts.items()}, cfg) == [("long", "short")]
