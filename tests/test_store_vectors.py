"""Vector index: exact below a size threshold, IVF/HNSW-SQ8 above; parameters recorded and applied."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from pipeline.store import vectors
from pipeline.embedding import HashingEmbedder
from pipeline.indexing import build
from pipeline.settings import Settings, VectorIndexSettings
from pipeline.store import IndexReader

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import corpus_gen  # noqa: E402


def _clustered(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Normalised vectors around 20 centres: a small stand-in for embeddings, which cluster by topic."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, dim))
    x = centres[rng.integers(0, 20, n)] + 0.6 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_choice_by_size() -> None:
    assert vectors.choose(49_999, VectorIndexSettings())["type"] == "IndexFlatIP"
    assert vectors.choose(50_000, VectorIndexSettings())["factory"] == "HNSW32,SQ8"  # the default above
    s = VectorIndexSettings(exact_below=1000, kind="ivf")
    assert vectors.choose(999, s)["type"] == "IndexFlatIP"
    ivf = vectors.choose(1000, s)
    assert ivf["type"] == "IndexIVFScalarQuantizer" and ivf["factory"].endswith(",SQ8")
    assert 1 <= ivf["params"]["nlist"] <= 1000 // 39 and ivf["params"]["nprobe"] <= ivf["params"]["nlist"]
    hnsw = vectors.choose(5000, s.model_copy(update={"kind": "hnsw", "hnsw_m": 16, "hnsw_ef_search": 40}))
    assert hnsw["factory"] == "HNSW16,SQ8" and hnsw["params"]["efSearch"] == 40
    # nlist grows with the collection (4·√n, a power of two)
    assert vectors.choose(1_000_000, VectorIndexSettings(kind="ivf"))["params"]["nlist"] == 4096


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_recall_and_reopen(tmp_path: Path, kind: str) -> None:
    x = _clustered(3000, 32)
    np.save(tmp_path / "v.npy", x)
    s = VectorIndexSettings(exact_below=100, kind=kind, ivf_nprobe=8, hnsw_ef_search=64, train_sample=1000)
    entry = vectors.build(tmp_path / "v.npy", tmp_path / "v.faiss", s)
    assert entry["n"] == 3000 and entry["dim"] == 32 and entry["type"] != "IndexFlatIP"
    index = vectors.open_faiss(tmp_path / "v.faiss", entry)
    if kind == "ivf":
        assert faiss.extract_index_ivf(index).nprobe == 8
    else:
        assert faiss.downcast_index(index).hnsw.efSearch == 64
    queries = _clustered(100, 32, seed=1)
    _, exact = (lambda f: (f.add(x), f.search(queries, 10))[1])(faiss.IndexFlatIP(32))
    _, approx = index.search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.8, recall
    # Opened without parameters (an old manifest), the index keeps FAISS's defaults.
    plain = vectors.open_faiss(tmp_path / "v.faiss", None)
    if kind == "ivf":
        assert faiss.extract_index_ivf(plain).nprobe == 1


def test_blocks_read_the_whole_file(tmp_path: Path) -> None:
    x = _clustered(1000, 8)
    np.save(tmp_path / "v.npy", x)
    blocks = list(vectors.npy_blocks(tmp_path / "v.npy", rows=300))
    assert [len(b) for b in blocks] == [300, 300, 300, 100]
    assert np.array_equal(np.concatenate(blocks), x)
    sample = vectors._training_sample(tmp_path / "v.npy", 1000, 100)
    assert np.array_equal(sample, x[::10])


def test_build_records_and_applies_parameters(seeds_copy: Path, tmp_path: Path) -> None:
    settings = Settings(vector_index={"exact_below": 50, "kind": "ivf", "ivf_nlist": 2, "ivf_nprobe": 2,
                                      "train_sample": 1000})
    build([seeds_copy], tmp_path / "idx", settings=settings, embedder=HashingEmbedder(64), progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    entry = reader.manifest.faiss
    n = reader.manifest.chunks
    assert n >= 50
    assert entry == {"type": "IndexIVFScalarQuantizer", "factory": "IVF2,SQ8", "params": {"nlist": 2, "nprobe": 2},
                     "n": n, "dim": 64}
    index = reader.faiss_index
    assert faiss.extract_index_ivf(index).nprobe == 2 and index.ntotal == n
    # Every list searched: the approximate index finds each chunk's own vector first.
    _, rows = index.search(np.ascontiguousarray(reader.vectors[:20]), 1)
    assert list(rows[:, 0]) == list(range(20))


def test_small_index_is_flat_and_old_manifest_opens_flat(seeds_copy: Path, tmp_path: Path) -> None:
    build([seeds_copy], tmp_path / "idx", embedder=HashingEmbedder(64), progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    assert reader.manifest.faiss is not None
    assert reader.manifest.faiss["type"] == "IndexFlatIP" and reader.manifest.faiss["params"] == {}
    assert isinstance(reader.faiss_index, faiss.IndexFlatIP)
    # An index written before the size choice has only {"type", "n"}: it opens as it is, flat.
    path = reader.dir / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest["faiss"] = {"type": "IndexFlatIP", "n": manifest["faiss"]["n"]}
    path.write_text(json.dumps(manifest), "utf-8")
    old = IndexReader.open(tmp_path / "idx")
    assert isinstance(old.faiss_index, faiss.IndexFlatIP) and old.faiss_index.ntotal == manifest["faiss"]["n"]
    del manifest["faiss"]
    path.write_text(json.dumps(manifest), "utf-8")
    assert IndexReader.open(tmp_path / "idx").faiss_index.ntotal == manifest["counts"]["chunks"]


def test_generator_is_deterministic_and_offsets_exact(tmp_path: Path) -> None:
    assert corpus_gen.article_text(corpus_gen.article(7)) == corpus_gen.article_text(corpus_gen.article(7))
    assert corpus_gen.article_text(corpus_gen.article(7)) != corpus_gen.article_text(corpus_gen.article(8))
    assert corpus_gen.article_text(corpus_gen.article(7, seed=1)) != corpus_gen.article_text(corpus_gen.article(7))
    first = [(d.id, [c.text for c in cs]) for d, cs in corpus_gen.stream_documents(500)]
    again = [(d.id, [c.text for c in cs]) for d, cs in corpus_gen.stream_documents(500)]
    assert first == again and sum(len(cs) for _, cs in first) == 500
    for doc, chunks in corpus_gen.stream_documents(200):
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert len(c.text) <= 600 and 1 <= len(c.sentences) <= 4
            assert all(c.start <= s.start < s.end <= c.end for s in c.sentences)
    paths = corpus_gen.write_files(tmp_path / "a", 5)
    again_paths = corpus_gen.write_files(tmp_path / "b", 5)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again_paths]
    # Nothing is copied from the seeds: no seed sentence occurs in generated text.
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    seed_sentences = {s.strip() for f in seeds.glob("*.txt") for s in f.read_text("utf-8").split(". ") if len(s) > 40}
    generated = " ".join(corpus_gen.article_text(corpus_gen.article(i)) for i in range(200))
    assert not any(s in generated for s in seed_sentences)
