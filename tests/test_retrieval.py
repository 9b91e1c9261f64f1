"""Retrieval: fusion, German lexical search, duplicate collapsing, following sentences, reranker."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.embedding import HashingEmbedder
from pipeline.indexing import build
from pipeline.query.retrieval import Retriever, rrf
from pipeline.settings import RetrievalSettings
from pipeline.store import EmbedderMismatch, IndexReader

from conftest import SEEDS


def test_rrf() -> None:
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 0.5)], k=60)
    assert max(fused, key=fused.get) == 1
    assert fused[3] == pytest.approx(1 / 63 + 0.5 / 61)


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexReader]:
    """A copy of the seeds indexed once for the module with the ``hashing`` embedder; the tests only read it."""
    root = tmp_path_factory.mktemp("retrieval")
    shutil.copytree(SEEDS, root / "seeds")
    build([root / "seeds"], root / "idx", embedder=HashingEmbedder(64), progress=False)
    opened = IndexReader.open(root / "idx")
    yield opened
    opened.close()


def test_lexical_side_finds_a_rare_name_with_umlaut_variants(reader: IndexReader, hashing: HashingEmbedder) -> None:
    r = Retriever(reader, hashing, RetrievalSettings(dense_weight=0.0, lexical_weight=1.0))
    assert "Grabmaier" in r.search("Grabmaier", 3)[0].chunk.text
    for query in ("Jühe", "Juehe", "JÜHE"):
        hits = r.search(query, 3)
        assert hits and "Thomas Jühe" in hits[0].chunk.text, query


@pytest.mark.parametrize("fusion", ["linear", "rrf"])
def test_both_fusions_rank_the_passage_naming_the_signers_first(reader: IndexReader, hashing: HashingEmbedder, fusion: str) -> None:
    r = Retriever(reader, hashing, RetrievalSettings(fusion=fusion, lexical_weight=1.0))
    hits = r.search("Unterzeichnet Vereinbarung Grabmaier Landers", 5)
    assert "Anton Grabmaier" in hits[0].chunk.text or any("Anton Grabmaier" in reader.document(hits[0].chunk.doc_id).text[s.start:s.end] for s in hits[0].following)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.origin in ("dense", "dense+lexical") for h in hits)


def test_near_duplicate_passages_collapse_into_one(reader: IndexReader, hashing: HashingEmbedder) -> None:
    r = Retriever(reader, hashing, RetrievalSettings(top_k=10))
    hits = r.search("Shenzhen unterzeichneten Sören Link Yan Lida Memorandum of Understanding", 10)
    top = next(h for h in hits if h.duplicates)  # the syndicated copy is attached, not listed again
    other = {Path(s).name[:3] for s, _, _ in top.duplicates}
    assert other and Path(top.source).name[:3] not in other and other <= {"000", "001"}
    listed = {(h.source, h.chunk.start, h.chunk.end) for h in hits}
    assert not listed & set(top.duplicates)


def test_hits_carry_the_sentences_after_their_chunk(reader: IndexReader, hashing: HashingEmbedder) -> None:
    r = Retriever(reader, hashing, RetrievalSettings(follow_sentences=2))
    hit = r.search("Best Practice Beispiele Unterzeichnung Absichtserklärung", 1)[0]
    assert len(hit.sentence_scores) == len(hit.chunk.sentences) + len(hit.following)
    for span in hit.following:
        assert span.start >= hit.chunk.end


def test_query_with_another_embedder_is_refused(reader: IndexReader) -> None:
    with pytest.raises(EmbedderMismatch):
        Retriever(reader, HashingEmbedder(32))


@pytest.mark.slow
def test_cross_encoder_reranker_reorders_by_its_scores(reader: IndexReader, hashing: HashingEmbedder, tmp_path: Path) -> None:
    # No multilingual cross-encoder ships offline; a CrossEncoder on the bundled MiniLM folder
    # (untrained head) still exercises the real code path: its scores decide the order.
    from pipeline.embedding import minilm_path

    r = Retriever(reader, hashing, RetrievalSettings(reranker=minilm_path(), rerank_candidates=5))
    hits = r.search("Wer hat unterzeichnet?", 5)
    assert all(h.origin.endswith("+rerank") for h in hits)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_common_terms_leave_the_lexical_query_of_a_large_index(reader: IndexReader, hashing: HashingEmbedder) -> None:
    # "duisburg" is in most seed chunks, "grabmaier" in a few: with a limit between the two,
    # the lexical side matches only chunks naming Grabmaier.
    df_city, df_name = reader.document_frequency("duisburg"), reader.document_frequency("grabmai")
    assert df_name < df_city
    lexical_only = dict(dense_weight=0.0, lexical_weight=1.0, top_k=20)
    limited = Retriever(reader, hashing, RetrievalSettings(lexical_max_df=df_name, **lexical_only))
    hits = [h for h in limited.search("Duisburg Grabmaier") if h.origin != "dense"]
    assert hits and all("Grabmaier" in h.chunk.text for h in hits)
    everything = Retriever(reader, hashing, RetrievalSettings(lexical_max_df=0, **lexical_only))
    assert any("Grabmaier" not in h.chunk.text for h in everything.search("Duisburg Grabmaier") if h.origin != "dense")


def test_a_contact_block_ranks_below_content_of_equal_score() -> None:
    from pipeline.query.retrieval import Candidate
    from pipeline.types import Chunk

    def cand(row: int, text: str, dense: float) -> Candidate:
        return Candidate(row, Chunk(str(row), "d", 0, len(text), text), dense, (), None)

    contact = cand(1, "Pressekontakt:\nMiriam Ostermann, Pressesprecherin\nTelefon: +49 561 787-1234", 0.86)
    content = cand(2, "Die Stadt Kassel investiert 20 Millionen Euro in das Glasfasernetz.", 0.85)
    retriever = object.__new__(Retriever)
    retriever.settings = RetrievalSettings()
    assert [c.row for c, _, _ in retriever.fuse([contact, content])] == [2, 1]  # 0.03 below: content first
    clearly = cand(3, contact.chunk.text, 0.90)  # a question about the contact: it is found first
    assert [c.row for c, _, _ in retriever.fuse([clearly, content])] == [3, 2]
    retriever.settings = RetrievalSettings(aside_penalty=0.0)
    assert [c.row for c, _, _ in retriever.fuse([contact, content])] == [1, 2]


def test_only_searches_the_documents_its_patterns_match(tmp_path: Path) -> None:
    from conftest import ALWAYS_ANSWER

    from pipeline.embedding import HashingEmbedder
    from pipeline.facade import NoMatchingDocuments, open_index
    from pipeline.indexing import build
    from pipeline.query.retrieval import matches

    docs = tmp_path / "docs"
    (docs / "berichte").mkdir(parents=True)
    (docs / "berichte" / "kassel.md").write_text("Kassel baut ein Glasfasernetz für 40.000 Haushalte.", "utf-8")
    (docs / "moers.txt").write_text("Moers baut ein Glasfasernetz für 12.000 Haushalte.", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    index = open_index(tmp_path / "idx", ALWAYS_ANSWER, embedder=HashingEmbedder(32))
    question = "Wer baut ein Glasfasernetz?"
    everywhere = {h.source.rsplit("/", 1)[-1] for h in index.ask(question).hits}
    assert everywhere == {"kassel.md", "moers.txt"}
    for only, expected in ((["berichte/*"], {"kassel.md"}), (["*.txt"], {"moers.txt"}), (["moers"], {"moers.txt"})):
        answer = index.ask(question, only=only)
        assert {h.source.rsplit("/", 1)[-1] for h in answer.hits} == expected, only
        assert all(c.source.rsplit("/", 1)[-1] in expected for c in answer.citations)
    with pytest.raises(NoMatchingDocuments, match="no indexed document matches \\*.pdf"):
        index.ask(question, only=["*.pdf"])
    index.close()
    assert matches("docs/berichte/kassel.md", ["kassel.md"]) and not matches("docs/moers.txt", ["*.md"])
