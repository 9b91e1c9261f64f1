"""The Gradio app: its /ask API through gradio_client, and escaping of document text."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import chat_app
from pipeline.embedding import HashingEmbedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.sources import verify_source_span


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ask_endpoint_returns_verifiable_citations(seeds_index: Path) -> None:
    from gradio_client import Client

    app = chat_app.make_app(str(seeds_index))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        data = client.predict("who signed the Duisburg declaration?", api_name="/ask")
        assert not data["abstained"] and "Anton Grabmaier" in data["answer"]
        for c in data["citations"]:
            assert verify_source_span(c["source"], c["start"], c["end"], c["text"])
    finally:
        app.close()


def test_document_markup_is_shown_as_text(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "evil.txt").write_text(
        "Der Bürgermeister Hans Muster sagte <script>alert('x')</script> etwas. "
        "Unterzeichnet wurde die Erklärung von Bürgermeister Hans Muster (Stadt).", "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    index = open_index(tmp_path / "idx", embedder=HashingEmbedder(32))
    hit = index.search("script alert Bürgermeister", 1)[0]
    doc = index.reader.document(hit.chunk.doc_id)
    first = hit.chunk.sentences[0]
    from pipeline.types import Answer, Citation

    cite = Citation(1, hit.source, doc.id, hit.chunk.id, first.start, first.end, first.slice(doc.text), 1.0)
    page = chat_app.render_answer(index, Answer("q", f"{cite.text} [1]", (cite,), (hit,), False))
    assert "<script>" not in page
    assert "<mark>Der Bürgermeister Hans Muster sagte &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; etwas.</mark>" in page
