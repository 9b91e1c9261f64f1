"""The Gradio app: its /ask API through gradio_client, and escaping of document text."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import chat_app
from pipeline.embedding import HashingEmbedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.sources import verify_source_span

from conftest import SEEDS, serving, tiny_index


@pytest.mark.slow
def test_ask_endpoint_returns_verifiable_citations(seeds_index: Path) -> None:
    from gradio_client import Client

    with serving(seeds_index) as url:
        data = Client(url, verbose=False).predict("who signed the Duisburg declaration?", api_name="/ask")
    assert not data["abstained"] and "Anton Grabmaier" in data["answer"]
    for c in data["citations"]:
        assert verify_source_span(c["source"], c["start"], c["end"], c["text"])


def test_document_markup_is_shown_as_text(tmp_path: Path) -> None:
    idx = tiny_index(tmp_path, {"evil.txt": "Der Bürgermeister Hans Muster sagte <script>alert('x')</script> etwas. "
                                            "Unterzeichnet wurde die Erklärung von Bürgermeister Hans Muster (Stadt)."})
    index = open_index(idx)
    hit = index.search("script alert Bürgermeister", 1)[0]
    doc = index.reader.document(hit.chunk.doc_id)
    first = hit.chunk.sentences[0]
    from pipeline.types import Answer, Citation

    cite = Citation(1, hit.source, doc.id, hit.chunk.id, first.start, first.end, first.slice(doc.text), 1.0)
    page = chat_app.render_answer(index, Answer("q", f"{cite.text} [1]", (cite,), (hit,), False))
    assert "<script>" not in page
    assert "Der Bürgermeister Hans Muster sagte &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; etwas.</mark>" in page


def test_answer_markdown_links_markers_and_escapes_document_text() -> None:
    from pipeline.types import Answer

    md = chat_app.answer_markdown(Answer("q", "Er sagte <b>*laut*</b> [x](http://evil) [1]", (), (), False))
    assert "[\\[1\\]](#cite-1)" in md
    assert "<b>" not in md and "&lt;b&gt;" in md and "\\*laut\\*" in md and "\\[x\\]\\(http" in md


def test_uploads_are_checked_and_stay_in_their_folder(tmp_path: Path) -> None:
    from pipeline.indexing import add_files

    tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    incoming = tmp_path / "in"
    incoming.mkdir()
    good = incoming / "neu.md"
    good.write_text("# Neu\n\nDie Stadt Moers unterzeichnete eine Partnerschaft.", "utf-8")
    evil = incoming / "..%2F..%2Fevil.txt"
    evil.write_text("Ein Text, der sich nach oben schreiben wollte.", "utf-8")
    exe = incoming / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00")
    report, rejected = add_files([good, evil, exe], tmp_path / "idx", embedder=HashingEmbedder(32))
    assert [r.path for r in rejected] == ["tool.exe"] and "unsupported type" in rejected[0].reason
    stored = sorted(p.name for p in (tmp_path / "idx" / "uploads").iterdir())
    assert stored == ["_2F.._2Fevil.txt", "neu.md"]
    assert all(p.resolve().parent == (tmp_path / "idx" / "uploads").resolve() for p in (tmp_path / "idx" / "uploads").iterdir())
    assert report.documents == 3  # the earlier document is still there
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.slow
def test_uploaded_document_is_cited_without_restart(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(next(SEEDS.glob("002_*.txt")), docs)
    build([docs], tmp_path / "idx", progress=False)
    backend = chat_app.ChatBackend(str(tmp_path / "idx"))
    before = backend.ask("Wer hat für die Stadt Moers die Vereinbarung mit Nokia unterzeichnet?")
    assert before.abstained
    upload = tmp_path / "moers.txt"
    upload.write_text(
        "Moers und Nokia vereinbaren Zusammenarbeit\n\n"
        "Die Stadt Moers und der Konzern Nokia haben am 3. März 2020 eine Vereinbarung über ein Funknetz geschlossen. "
        "Unterzeichnet wurde die Vereinbarung von Bürgermeister Christoph Fleischhauer (Stadt Moers) "
        "und Anna Berg (Nokia).\n", "utf-8")
    status = backend.upload([str(upload)])
    assert "1 new" in status
    after = backend.ask("Wer hat für die Stadt Moers die Vereinbarung mit Nokia unterzeichnet?")
    assert not after.abstained and "Christoph Fleischhauer" in after.text
    cite = after.citations[0]
    assert Path(cite.source).parent.name == "uploads"
    assert verify_source_span(cite.source, cite.start, cite.end, cite.text)


def test_feedback_goes_to_a_jsonl_log_next_to_the_index(tmp_path: Path) -> None:
    import json

    backend = chat_app.ChatBackend(str(tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})))
    backend.feedback({"question": "q", "answer": "a", "helpful": True})
    line = json.loads((tmp_path / "idx" / "feedback.jsonl").read_text("utf-8").splitlines()[0])
    assert line["helpful"] is True and line["question"] == "q" and "time" in line


def test_basic_auth_keeps_strangers_out(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    from gradio_client import Client

    index = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    with serving(index, auth=("anna", "geheim")) as url:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "config", timeout=10)
        assert err.value.code in (401, 403)
        client = Client(url, auth=("anna", "geheim"), verbose=False)
        assert "question" in client.predict("Was baut Duisburg?", api_name="/ask")


def test_cli_refuses_a_malformed_auth_setting(tmp_path: Path) -> None:
    assert chat_app.main(["--index", str(tmp_path / "none"), "--auth", "only-a-user"]) == 2


def test_many_questions_at_once_through_the_api(tmp_path: Path) -> None:
    """10 questions sent at the same moment all come back with the JSON contract (benchmarks/load.py: 50, real model)."""
    import concurrent.futures as cf

    from gradio_client import Client

    index = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz. Unterzeichnet hat Bürgermeister Hans Muster.",
                                  "b.txt": "Gelsenkirchen investiert zwei Millionen Euro in Straßenlaternen."})
    questions = [f"Wer hat in Duisburg unterzeichnet? ({i})" if i % 2 else f"Was baut Gelsenkirchen {i}?" for i in range(10)]
    with serving(index) as url, cf.ThreadPoolExecutor(10) as pool:
        # One client per asker: a single gradio_client shared by many threads can lose an answer (see load.py).
        clients = list(pool.map(lambda _: Client(url, verbose=False), questions, timeout=120))
        results = list(pool.map(lambda c, q: c.predict(q, api_name="/ask"), clients, questions, timeout=120))
    assert [r["question"] for r in results] == questions
    assert all("error" not in r and r["passages"] for r in results)
