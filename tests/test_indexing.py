"""Indexing: builds, incremental rebuilds, deletions, near-duplicate groups, the summary."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.embedding import HashingEmbedder, pool
from pipeline.indexing import BuildReport, build
from pipeline.settings import Settings
from pipeline.store import IndexReader

from conftest import SEEDS, copy_index


Built = tuple[Path, Path, BuildReport]


@pytest.fixture(scope="module")
def seeds_built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """A copy of the seeds and its first build (``hashing`` embedder), once for the module → (seeds, index,
    report). Nothing writes to the seeds copy; tests that build again work on a copy of the index (``copy_index``)."""
    root = tmp_path_factory.mktemp("indexing")
    shutil.copytree(SEEDS, root / "seeds")
    report = build([root / "seeds"], root / "idx", embedder=HashingEmbedder(64), progress=False)
    return root / "seeds", root / "idx", report


def test_seeds_build_with_one_duplicate_group(seeds_built: Built) -> None:
    _, _, report = seeds_built
    assert report.documents == 5 and report.chunks > 20
    assert report.chunks_embedded == report.chunks and report.embedded >= report.chunks
    assert [tuple(Path(p).name[:3] for p in g) for g in report.duplicate_groups] == [("000", "001")]
    assert report.skipped == ()
    summary = report.summary()
    assert "Documents: 5" in summary and "Near-duplicate groups: 1" in summary and "Files skipped: 0" in summary


def test_second_build_embeds_nothing_and_says_so(seeds_built: Built, tmp_path: Path, hashing: HashingEmbedder) -> None:
    seeds, built, _ = seeds_built
    index = copy_index(built, tmp_path / "idx")
    gen = IndexReader.open(index).dir
    hashing.calls.clear()
    report = build([seeds], index, embedder=hashing, progress=False)
    assert report.up_to_date and report.embedded == 0 and hashing.calls == []
    assert "up to date" in report.summary() and "nothing embedded" in report.summary()
    assert IndexReader.open(index).dir == gen  # nothing was rewritten


def test_one_changed_file_reembeds_only_its_new_chunks(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    target = next(seeds_copy.glob("002_*.txt"))
    target.write_text(target.read_text("utf-8") + "\n\nEin ganz neuer Absatz mit einem Satz über Glasfaser.\n", "utf-8")
    hashing.calls.clear()
    report = build([seeds_copy], index, embedder=hashing, progress=False)
    assert report.changed == (str(target),) and report.added == () and report.removed == ()
    assert report.unchanged == 4
    # only chunks whose text is new are embedded: the appended paragraph's chunk(s)
    assert report.chunks_embedded == 1 and report.embedded == 1 and sum(hashing.calls) == 1
    reader = IndexReader.open(index)
    assert any("Glasfaser." in c.text for c in reader.chunks())


def test_pooled_chunk_vectors_embed_each_sentence_once(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    settings = Settings(embedder={"vectors": "pooled"})
    report = build([seeds_copy], tmp_path / "idx", settings=settings, embedder=hashing, progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    n_sentences = len(reader.sentence_vectors)
    # only sentences go through the encoder (identical sentences once); every chunk still gets a vector
    assert report.chunks_embedded == report.chunks and report.embedded <= n_sentences == sum(hashing.calls)
    rows = reader.sentence_rows_of({c.doc_id for c in reader.chunks()})
    for row, chunk in enumerate(reader.chunks()):
        parts = np.stack([reader.sentence_vectors[rows[(chunk.doc_id, s.start, s.end)]] for s in chunk.sentences])
        assert np.allclose(reader.vectors[row], pool(parts), atol=1e-6)
    # one changed file: only its new sentence goes through the encoder
    target = next(seeds_copy.glob("002_*.txt"))
    target.write_text(target.read_text("utf-8") + "\n\nEin ganz neuer Absatz mit einem Satz über Glasfaser.\n", "utf-8")
    hashing.calls.clear()
    again = build([seeds_copy], tmp_path / "idx", settings=settings, embedder=hashing, progress=False)
    assert again.embedded == 1 and sum(hashing.calls) == 1 and again.chunks_embedded == 1


def test_switching_chunk_vectors_never_reuses_a_pooled_vector_as_encoded(
    seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder
) -> None:
    build([seeds_copy], tmp_path / "idx", settings=Settings(embedder={"vectors": "pooled"}), embedder=hashing,
          progress=False)
    report = build([seeds_copy], tmp_path / "idx", embedder=hashing, progress=False)
    assert report.full_rebuild_reason == "index settings changed"
    reader = IndexReader.open(tmp_path / "idx")
    chunks = reader.chunks()
    assert np.allclose(reader.vectors, hashing.embed([c.text for c in chunks], "passage"), atol=1e-6)


def test_build_drives_a_progress_bar_with_an_eta(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    build([seeds_copy], tmp_path / "idx", embedder=hashing, progress=True)
    err = capsys.readouterr().err
    final = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("Embedding")][-1]
    # tqdm's last line: 100 %, characters done of the total, elapsed<remaining, rate
    assert "100%" in final and "char" in final and re.search(r"\[\d\d:\d\d<\d\d:\d\d", final)


def test_deleted_files_are_removed_from_the_index(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    gone = next(seeds_copy.glob("003_*.txt"))
    gone.unlink()
    report = build([seeds_copy], index, embedder=hashing, progress=False)
    assert report.removed == (str(gone),) and report.documents == 4 and report.embedded == 0
    reader = IndexReader.open(index)
    assert all("ZTE" not in c.text for c in reader.chunks())
    assert reader.faiss_index.ntotal == len(reader.chunks())


def test_changing_the_embedder_rebuilds_everything(seeds_built: Built, tmp_path: Path) -> None:
    seeds, built, _ = seeds_built  # built with HashingEmbedder(64)
    index = copy_index(built, tmp_path / "idx")
    other = HashingEmbedder(32)
    report = build([seeds], index, embedder=other, progress=False)
    assert "embedder changed from hashing/64 to hashing/32" in report.full_rebuild_reason
    assert report.chunks_embedded == report.chunks > 0
    assert IndexReader.open(index).manifest.embedder.dim == 32


def test_changing_chunk_settings_rebuilds(seeds_built: Built, tmp_path: Path, hashing: HashingEmbedder) -> None:
    seeds, built, _ = seeds_built
    index = copy_index(built, tmp_path / "idx")
    report = build([seeds], index, settings=Settings(chunking={"max_sentences": 2}), embedder=hashing, progress=False)
    assert report.full_rebuild_reason == "index settings changed" and not report.up_to_date


def test_an_index_from_older_readers_reads_every_file_again_and_reuses_its_vectors(
    seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.settings as settings_module

    index = tmp_path / "idx"
    monkeypatch.setattr(settings_module, "READERS_VERSION", "an older release")
    build([seeds_copy], index, embedder=hashing, progress=False)
    monkeypatch.undo()
    # Unchanged files, newer readers: all read again (they may now read differently), nothing embedded again
    # where the text came out the same.
    hashing.calls.clear()
    report = build([seeds_copy], index, embedder=hashing, progress=False)
    assert report.full_rebuild_reason.startswith("belegt's document readers changed")
    assert not report.up_to_date and report.embedded == 0 and sum(hashing.calls) == 0
    assert IndexReader.open(index).manifest.settings["readers"] == Settings().index_shape()["readers"]
    # And the build after that finds nothing to do.
    assert build([seeds_copy], index, embedder=hashing, progress=False).up_to_date


def test_bad_files_are_listed_and_the_rest_is_indexed(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    (seeds_copy / "empty.txt").write_bytes(b"")
    (seeds_copy / "picture.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (seeds_copy / "latin.txt").write_bytes("Die Brücke über die Ruhr wird im Frühjahr gebaut. ".encode("latin-1") * 3)
    report = build([seeds_copy], tmp_path / "idx", embedder=hashing, progress=False)
    assert report.documents == 6
    assert {Path(s.path).name for s in report.skipped} == {"empty.txt", "picture.txt"}
    assert any(Path(p).name == "latin.txt" for p in report.encodings)
    summary = report.summary()
    assert "empty.txt: empty file" in summary and "picture.txt: binary" in summary and "not UTF-8" in summary
    # the re-encoded file's text is stored in the index, and offsets hold against it
    reader = IndexReader.open(tmp_path / "idx")
    doc = next(d for d in reader.documents() if d.source.endswith("latin.txt"))
    stored = Path(doc.meta["text_path"]).read_bytes().decode("utf-8")
    assert stored == doc.text and "Brücke über die Ruhr" in stored


def test_a_messy_folder_is_indexed_and_every_skip_has_a_reason(tmp_path: Path, hashing: HashingEmbedder) -> None:
    import random

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("Die Stadt Duisburg baut ein Netz. Das ist gut.", "utf-8")
    (docs / "empty.txt").write_bytes(b"")
    (docs / "blank.txt").write_text("  \n\t \n", "utf-8")
    (docs / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    rng = random.Random(1)
    (docs / "garbage.txt").write_bytes(bytes(rng.randrange(128, 256) for _ in range(5000)))
    (docs / "latin1.txt").write_bytes("Über die Brücke gehen täglich Bürger.".encode("latin-1"))
    (docs / "cp1252.txt").write_bytes("„Smart City“ kostet 5 € – sagt der Bürgermeister.".encode("cp1252"))
    (docs / "big.txt").write_bytes(b"Ein Satz. " * 5_300_000)  # 53 MB
    # One 500 kB line: 25 times what pysbd reads at once (test_chunking checks 5 MB lines, chunking alone).
    (docs / "longline.txt").write_text("wort " * 100_000, "utf-8")
    nested = "<div>" * 20_000 + "<p>Tief verschachtelter Text über Duisburg.</p>" + "</div>" * 20_000
    (docs / "nested.html").write_text(f"<html><body>{nested}</body></html>", "utf-8")
    (docs / "mit leerzeichen und ümlaut.md").write_text("# Titel\n\nEin Text mit Umlaut ä.", "utf-8")
    (docs / "new\nline.txt").write_text("Ein Name mit Zeilenumbruch.", "utf-8")
    (docs / "folder.txt").mkdir()  # a directory that looks like a file
    (docs / "folder.txt" / "inner.txt").write_text("Innen.", "utf-8")
    (docs / "sub").mkdir()
    (docs / "sub" / "up").symlink_to(docs)  # a folder loop: docs/sub/up/sub/up/…
    (docs / "a.txt").symlink_to(docs / "b.txt")  # a file loop: a.txt → b.txt → a.txt
    (docs / "b.txt").symlink_to(docs / "a.txt")
    # Unreadable: reading fails with an OS error even as root (EIO); chmod 000 works only for other users.
    (docs / "io-error.txt").symlink_to("/proc/self/mem")
    (docs / "no-permission.txt").write_text("Geheim.", "utf-8")
    (docs / "no-permission.txt").chmod(0)
    report = build([docs, docs / "folder.txt", tmp_path / "missing.txt"], tmp_path / "idx", embedder=hashing,
                   progress=False)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    root = os.geteuid() == 0  # root reads a chmod-000 file
    assert reasons.keys() == {"empty.txt", "blank.txt", "image.txt", "garbage.txt", "big.txt", "missing.txt",
                              "up", "a.txt", "b.txt", "io-error.txt", *(() if root else ("no-permission.txt",))}
    assert "too large" in reasons["big.txt"] and "undecodable" in reasons["garbage.txt"]
    assert "binary" in reasons["image.txt"] and "no such file" in reasons["missing.txt"]
    assert "not followed" in reasons["up"] and reasons["a.txt"] == reasons["b.txt"] == "symbolic link loop"
    assert reasons["io-error.txt"].startswith("cannot read")
    if not root:
        assert "Permission denied" in reasons["no-permission.txt"]
    indexed = {Path(s).name for s in IndexReader.open(tmp_path / "idx").sources()}
    assert indexed == {"ok.txt", "latin1.txt", "cp1252.txt", "longline.txt", "nested.html",
                       "mit leerzeichen und ümlaut.md", "new\nline.txt", "inner.txt",
                       *(("no-permission.txt",) if root else ())}
    assert {Path(p).name: e for p, e in report.encodings.items()} == {"latin1.txt": "cp1252", "cp1252.txt": "cp1252"}
    reader = IndexReader.open(tmp_path / "idx")
    nested_doc = next(d for d in reader.documents() if d.source.endswith("nested.html"))
    assert "Tief verschachtelter Text" in nested_doc.text
    assert all(len(line) < 300 for line in report.summary().splitlines())  # one line per skipped file


def test_add_remove_and_texts_keep_the_rest(seeds_copy: Path, tmp_path: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    """add_documents, remove_documents and add_texts change only what they name, and later builds respect it."""
    from pipeline.indexing import TextInput, add_documents, add_texts, remove_documents

    files = sorted(str(p) for p in seeds_copy.iterdir())
    index = tmp_path / "index"
    build(files[:2], index, Settings(), hashing, progress=False)
    report = add_documents([files[4]], index, Settings(), hashing)
    assert report.added == (files[4],) and report.unchanged == 2 and report.documents == 3
    report = add_texts([TextInput("memo", "Ein Vermerk. Zwei Sätze.", {"k": 1})], index, Settings(), hashing)
    assert report.added == ("text:memo",) and report.unchanged == 3
    report = add_texts([TextInput("memo", "Ein neuer Vermerk.", {"k": 2})], index, Settings(), hashing)
    # One text: the new chunk is its only sentence, and identical inputs are embedded once.
    assert report.changed == ("text:memo",) and report.embedded == 1
    report = remove_documents([files[0]], index, Settings(), hashing)
    assert report.removed == (files[0],) and report.documents == 3
    # The removed file stays out of later builds of the same roots, and the text stays in.
    report = build([*files[:2], files[4]], index, Settings(), hashing, progress=False)
    assert report.up_to_date
    reader = IndexReader.open(index)
    assert sorted(reader.sources()) == sorted([files[1], files[4], "text:memo"])
    memo = reader.document_by_source("text:memo")
    assert memo is not None and memo.text == "Ein neuer Vermerk." and memo.meta["metadata"] == {"k": 2}
    reader.close()
    with pytest.raises(KeyError, match="nope.txt"):
        remove_documents(["nope.txt"], index, Settings(), hashing)
    # Given again explicitly, it comes back.
    assert add_documents([files[0]], index, Settings(), hashing).added == (files[0],)


class SegmentHashing(HashingEmbedder):
    """The model-free embedder with the one-pass interface: a segment's tokens are its words, each
    word's state its hashed vector, and every text adds three tokens of its own (<s>, prefix, </s>)."""

    embeds_segments = True

    def __init__(self) -> None:
        super().__init__(64)
        self.passes: list[str] = []  # every text given to embed_segments, joined

    def embed_segments(self, texts, kind):  # type: ignore[no-untyped-def]
        from pipeline.embedding import SegmentStates

        flat = [s for t in texts for s in t]
        self.passes.extend("".join(t) for t in texts)
        part_tokens = np.array([len(s.split()) for s in flat], np.int32)
        part_sums = np.zeros((len(flat), self.dim), np.float32)
        for j, seg in enumerate(flat):
            for word in seg.split():
                part_sums[j] += HashingEmbedder.embed(self, [word], kind)[0]
        starts = tuple(int(x) for x in np.cumsum([0, *(len(t) for t in texts)]))
        special = HashingEmbedder.embed(self, ["<s>passage:</s>"], kind)[0] * 3
        text_sums = np.stack([part_sums[a:b].sum(axis=0) + special for a, b in zip(starts, starts[1:])])
        text_tokens = np.array([part_tokens[a:b].sum() + 3 for a, b in zip(starts, starts[1:])], np.int32)
        return SegmentStates(text_sums, text_tokens, part_sums, part_tokens, starts)


def test_late_vectors_encode_each_window_once(seeds_copy: Path, tmp_path: Path) -> None:
    model = SegmentHashing()
    report = build([seeds_copy], tmp_path / "idx", embedder=model, progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    assert reader.manifest.embedder.vectors == "late"
    # the passes cover the corpus once: every sentence is read in exactly one window
    sentences = {s.slice(d.text) for d in reader.documents() for c in reader.chunks() if c.doc_id == d.id
                 for s in c.sentences}
    assert report.embedded == len(model.passes) < report.chunks
    assert sum(len(p) for p in model.passes) < sum(len(c.text) for c in reader.chunks())
    for s in sentences:
        assert sum(p.count(s) for p in model.passes) >= 1
    # a sentence's vector is its own words' states (sharpened by its window), a chunk's those of its sentences
    doc = reader.documents()[0]
    chunk = next(c for c in reader.chunks() if c.doc_id == doc.id and len(c.sentences) > 1)
    rows = reader.sentence_rows_of({doc.id})
    own = model.embed([chunk.sentences[0].slice(doc.text)], "passage")[0]
    vec = reader.sentence_vectors_at([rows[(doc.id, chunk.sentences[0].start, chunk.sentences[0].end)]])[0]
    other = model.embed([chunk.sentences[1].slice(doc.text)], "passage")[0]
    assert float(vec @ own) > float(vec @ other)


def test_late_rebuild_after_an_edit_reencodes_only_that_window(seeds_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    model = SegmentHashing()
    build([seeds_copy], index, embedder=model, progress=False)
    before = IndexReader.open(index)
    old_vectors = {c.text: v for c, v in zip(before.chunks(), np.asarray(before.vectors))}
    target = next(seeds_copy.glob("002_*.txt"))
    text = target.read_text("utf-8")
    target.write_text(text + "\n\nEin ganz neuer Absatz mit einem Satz über Glasfaser.\n", "utf-8")
    model.passes.clear()
    report = build([seeds_copy], index, embedder=model, progress=False)
    assert model.passes == ["Ein ganz neuer Absatz mit einem Satz über Glasfaser."]
    assert report.embedded == 1 and report.chunks_embedded == 1
    after = IndexReader.open(index)
    kept = [c.text for c in after.chunks() if c.text in old_vectors]
    assert len(kept) == report.chunks - 1  # every other chunk, of the edited file too, keeps its vector
    new_vectors = {c.text: v for c, v in zip(after.chunks(), np.asarray(after.vectors))}
    assert all(np.array_equal(old_vectors[i], new_vectors[i]) for i in kept)
    # nothing changed: nothing is encoded
    model.passes.clear()
    assert build([seeds_copy], index, embedder=model, progress=False).up_to_date and model.passes == []


def test_switching_vectors_rebuilds_with_the_new_kind(seeds_copy: Path, tmp_path: Path) -> None:
    index = tmp_path / "idx"
    model = SegmentHashing()
    build([seeds_copy], index, embedder=model, progress=False)
    model.passes.clear()
    report = build([seeds_copy], index, settings=Settings(embedder={"vectors": "encode"}), embedder=model,
                   progress=False)
    reader = IndexReader.open(index)
    assert reader.manifest.embedder.vectors == "encode" and model.passes == []
    assert report.chunks_embedded == report.chunks
    for c, v in zip(reader.chunks()[:5], np.asarray(reader.vectors)[:5]):
        assert np.allclose(v, model.embed([c.text], "passage")[0], atol=1e-6)


def test_an_embedder_without_one_pass_segments_encodes(seeds_built: Built) -> None:
    assert IndexReader.open(seeds_built[1]).manifest.embedder.vectors == "encode"  # built with hashing
