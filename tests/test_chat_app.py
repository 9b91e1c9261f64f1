"""The Gradio app: its /ask API through gradio_client, document text shown literally, and uploads."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from pipeline.apps import chat as chat_app
from pipeline.embedding import HashingEmbedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.store import IndexReader
from pipeline.text.sources import verify_source_span

from conftest import ROOT, SEEDS, free_port, serving, tiny_index


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


def test_answer_html_links_markers_and_shows_document_text_as_it_is() -> None:
    from pipeline.types import Answer

    page = chat_app.answer_html(Answer("q", "Er sagte <b>*laut*</b> [x](http://evil) [1]", (), (), False))
    assert re.findall(r"<a\b[^>]*>", page) == ['<a href="#cite-1-1">']  # our marker link, no other
    assert "<b>" not in page and "&lt;b&gt;*laut*&lt;/b&gt; [x](http://evil) " in page


LITERAL = ("Mehr unter http://2130706433:7861/admin?x=1 und www.example.org oder post@example.org, "
           "Formel $$x^2$$ und $y$, **fett**, _kursiv_, # Titel, <script>alert('x')</script> & <b>b</b> [x](http://e) Ende.")


def test_document_text_in_the_chat_is_literal(tmp_path: Path) -> None:
    """A passage (and the answer quoting it) shows as the text it is: no link, no math, no Markdown, no HTML."""
    import gradio as gr

    from pipeline.types import Answer, Citation

    index_dir = tiny_index(tmp_path, {"literal.txt": f"Die Stadt Duisburg baut ein Netz. {LITERAL}"})
    index = open_index(index_dir)
    hit = index.search("Formel fett Titel Ende", 1)[0]
    doc = index.reader.document(hit.chunk.doc_id)
    start = doc.text.index("Mehr unter")
    cite = Citation(1, hit.source, doc.id, hit.chunk.id, start, start + len(LITERAL), LITERAL, 1.0)
    answer = Answer("q", f"{LITERAL} [1]", (cite,), (hit,), False)
    chat, sources = chat_app.answer_html(answer), chat_app.render_sources(index, answer)
    for page in (chat, sources):
        assert "<script" not in page and "<b>b" not in page and "<strong" not in page and "<em" not in page
        assert all(a in ('<a href="#cite-1-1">',) for a in re.findall(r"<a\b[^>]*>", page))  # no URL became a link
        assert "$$" not in page and "x^2" in page  # no math delimiter left for KaTeX to find
        assert LITERAL in chat_app.plain_text(page)  # and the text reads exactly as the document has it
    # The chat takes its messages as HTML, not Markdown, and renders no math.
    app = chat_app.make_app(str(index_dir))
    (chatbot,) = [b for b in app.blocks.values() if isinstance(b, gr.Chatbot)]
    assert chatbot.render_markdown is False and chatbot.latex_delimiters == [] and chatbot.sanitize_html is True
    # The keyword weight says what it does and which value was measured best.
    (bm25,) = [b for b in app.blocks.values() if isinstance(b, gr.Slider) and "BM25" in (b.label or "")]
    assert bm25.info and "0.02" in bm25.info
    # The question as typed is shown literally too, and searched for as typed.
    states = list(chat_app.chat_turn(chat_app.ChatBackend(str(index_dir)), LITERAL, [], 3, 0.02, False))
    shown = states[0][0][-1]["content"]
    assert "$$" not in shown and "<script" not in shown and chat_app.plain_text(shown) == LITERAL


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


def test_upload_status_names_files_never_server_paths(tmp_path: Path) -> None:
    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    incoming = tmp_path / "in"
    incoming.mkdir()
    (incoming / "neu.md").write_text("# Neu\n\nDie Stadt Moers unterzeichnete eine Partnerschaft.", "utf-8")
    (incoming / "tool.exe").write_bytes(b"MZ\x00\x00")
    # A file of the index's own folder that the rebuild skips is not this upload's news: not listed.
    (tmp_path / "docs" / "leer.txt").write_text("", "utf-8")
    backend = chat_app.ChatBackend(str(index_dir))
    status = backend.upload([str(incoming / n) for n in ("neu.md", "tool.exe")])
    assert not re.search(r"(^|\s)[/\\]\w", status) and str(tmp_path) not in status, status
    assert "1 new" in status
    assert "leer.txt" not in status and "Not added: tool.exe — unsupported type" in status


def test_a_too_large_upload_is_refused_with_a_reason_before_indexing(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.settings import Settings

    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    big, small = tmp_path / "gross.txt", tmp_path / "klein.txt"
    big.write_text("Die Stadt Moers baut ein Netz. " * 200, "utf-8")  # 6 kB
    small.write_text("Die Stadt Moers unterzeichnete eine Partnerschaft.", "utf-8")
    given: list[list[str]] = []
    from pipeline.apps import backend as chat_backend  # where the backend looks add_files up

    real_add_files = chat_backend.add_files

    def add_files(paths, *args, **kwargs):  # type: ignore[no-untyped-def]
        given.append([Path(p).name for p in paths])
        return real_add_files(paths, *args, **kwargs)

    monkeypatch.setattr(chat_backend, "add_files", add_files)
    backend = chat_app.ChatBackend(str(index_dir), Settings(sources={"max_file_mb": 0.004}))  # 4 kB
    status = backend.upload([str(big), str(small)])
    assert given == [["klein.txt"]]  # the large file never reached the indexer
    assert "Not added: gross.txt — too large (6.1 kB; the limit is 0.004 MB)" in status and "1 new" in status
    assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == ["klein.txt"]


@contextlib.contextmanager
def _launched(app: Any) -> Iterator[str]:
    """A made app on a free port of 127.0.0.1 → its URL, closed on leaving (launched as ``serving`` does)."""
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def _upload(url: str, *paths: Path) -> Any:
    """Files → Gradio's /upload, as the page sends them → the response."""
    import httpx

    files = [("files", (p.name, p.read_bytes())) for p in paths]
    return httpx.post(url + "gradio_api/upload", files=files, timeout=30)


def _run_event(url: str, fn_index: int, trigger_id: int, data: list[Any]) -> dict[str, Any]:
    """One event through Gradio's queue, as the page runs it (private events have no API name) → its outputs."""
    import httpx

    session = f"test-{time.monotonic_ns()}"
    joined = httpx.post(url + "gradio_api/queue/join", timeout=30, json={
        "data": data, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": session, "event_data": None})
    joined.raise_for_status()
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=60) as events:
        for line in events.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    assert message.get("success"), message
                    return message["output"]
    raise AssertionError("the event did not complete")


@pytest.mark.slow  # a real Gradio server
def test_upload_through_gradio_leaves_no_temp_files_and_refuses_large_files(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue "nothing a user gave is ever lost", uploads: Gradio enforces the size limit, the handler
    gets every file (a rejected type too), says what happened by file name, and deletes Gradio's copies."""
    import gradio as gr

    from pipeline.settings import Settings

    gradio_tmp = tmp_path / "gradio-tmp"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio_tmp))  # read when the app is made and launched
    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    incoming = tmp_path / "in"
    incoming.mkdir()
    good, exe, big = incoming / "neu.md", incoming / "tool.exe", incoming / "gross.txt"
    good.write_text("# Neu\n\nDie Stadt Moers unterzeichnete eine Partnerschaft.", "utf-8")
    exe.write_bytes(b"MZ\x00\x00")
    big.write_text("Die Stadt Moers baut ein Netz. " * 400, "utf-8")  # 12 kB
    app = chat_app.make_app(str(index_dir), Settings(sources={"max_file_mb": 0.01}))  # 10 kB
    (upload_fn,) = [i for i, fn in app.fns.items() if fn.name == "on_upload"]
    (files,) = [b for b in app.blocks.values() if isinstance(b, gr.File)]
    with _launched(app) as url:
        refused = _upload(url, big)
        assert refused.status_code == 413 and "maximum allowed size" in refused.text
        stored = _upload(url, good, exe)
        stored.raise_for_status()
        copies = [Path(p) for p in stored.json()]
        assert all(p.is_file() and gradio_tmp in p.parents for p in copies)
        payload = [{"path": str(p), "orig_name": p.name, "size": p.stat().st_size, "meta": {"_type": "gradio.FileData"}}
                   for p in copies]
        status, cleared = _run_event(url, upload_fn, files._id, [payload])["data"]
    assert "Indexed: 1 new" in status and "tool.exe — unsupported type" in status and cleared is None
    assert str(tmp_path) not in status
    assert not any(p.exists() for p in copies)  # Gradio's copies are gone, the rejected one too
    assert not [p for p in gradio_tmp.rglob("*") if p.name in ("neu.md", "tool.exe", "gross.txt")]
    assert sorted(p.name for p in (index_dir / "uploads").iterdir()) == ["neu.md"]


def test_discard_uploads_touches_only_gradios_folder(tmp_path: Path) -> None:
    cache, mine = tmp_path / "cache", tmp_path / "mine.txt"
    (cache / "abc").mkdir(parents=True)
    (cache / "abc" / "x.txt").write_text("x", "utf-8")
    (cache / "def").mkdir()
    (cache / "def" / "y.txt").write_text("y", "utf-8")
    (cache / "def" / "other.txt").write_text("o", "utf-8")  # another upload of the same folder, still pending
    mine.write_text("mine", "utf-8")
    chat_app.discard_uploads([str(cache / "abc" / "x.txt"), str(cache / "def" / "y.txt"), str(mine),
                              str(cache / "abc" / ".." / ".." / "mine.txt")], cache)
    assert mine.exists() and cache.is_dir() and not (cache / "abc").exists()
    assert sorted(p.name for p in cache.rglob("*")) == ["def", "other.txt"]


@pytest.mark.slow  # the chat started as a process of its own
def test_the_app_keeps_gradio_files_in_a_folder_it_owns_and_removes_it_at_exit(tmp_path: Path) -> None:
    """Started as users start it (no GRADIO_TEMP_DIR set): uploads land in a fresh folder, gone after SIGTERM."""
    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in _plain_env(tmp_path).items() if k != "GRADIO_TEMP_DIR"}
    env.update(TMPDIR=str(tmp), BELEGT_SOURCES__MAX_FILE_MB="0.01")
    port = free_port()
    with _running([str(ROOT / "chat_app.py"), "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)],
                  env, port) as url:
        (own,) = tmp.glob("belegt-gradio-*")
        note = tmp_path / "notiz.txt"
        note.write_text("Eine Notiz.", "utf-8")
        (copy,) = _upload(url, note).json()
        assert own in Path(copy).parents  # Gradio uses the app's folder
        big = tmp_path / "gross.txt"
        big.write_text("x" * 20_000, "utf-8")
        assert _upload(url, big).status_code == 413  # the limit from settings, set by main() at launch
    assert not own.exists()


def test_feedback_goes_to_a_jsonl_log_next_to_the_index(tmp_path: Path) -> None:
    import json

    backend = chat_app.ChatBackend(str(tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})))
    backend.feedback({"question": "q", "answer": "a", "helpful": True})
    line = json.loads((tmp_path / "idx" / "feedback.jsonl").read_text("utf-8").splitlines()[0])
    assert line["helpful"] is True and line["question"] == "q" and "time" in line


@pytest.mark.slow  # a real Gradio server
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


@pytest.mark.slow  # a real Gradio server
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


@pytest.mark.slow  # a real Gradio server serves the PDF
def test_a_pdf_citation_shows_its_page_highlighted_and_links_to_it(tmp_path: Path) -> None:
    import base64
    import io

    import httpx
    from conftest import ALWAYS_ANSWER
    from files import two_column_pdf
    from PIL import Image

    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir()
    two_column_pdf(docs / "bericht.pdf", pages=2)
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    backend = chat_app.ChatBackend(str(tmp_path / "idx"), ALWAYS_ANSWER)
    answer = backend.ask("Wer unterzeichnete die Erklärung im Juli 2018?")
    assert answer.citations and answer.citations[0].page in (1, 2)
    html = chat_app.render_sources(backend.index, answer)
    page = answer.citations[0].page
    assert f"#page={page}'" in html and f">page {page}</a>" in html
    src = re.search(r"<img class='page'[^>]*src='data:image/png;base64,([^']+)'", html)
    assert src, html
    image = Image.open(io.BytesIO(base64.b64decode(src.group(1)))).convert("RGB")
    # A band of the page, not the whole page, with the highlight's yellow in it.
    assert image.width == 640 and image.height < 640 * 297 / 210 / 2
    assert any(r > 200 and g > 180 and b < 150 for _, (r, g, b) in image.getcolors(1 << 24) or [])
    # The link opens the file: the server serves the indexed folder.
    link = re.search(r"href='(/gradio_api/file=[^'#]+)#page=", html).group(1)  # type: ignore[union-attr]
    app = chat_app.make_app(str(tmp_path / "idx"), ALWAYS_ANSWER)
    with _launched(app) as url:
        got = httpx.get(url.rstrip("/") + link, timeout=30)
    assert got.status_code == 200 and got.content.startswith(b"%PDF")


@contextlib.contextmanager
def _running(args: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """``python ARGS`` started from the repository, serving on ``port`` → its URL once it answers; stopped
    with SIGTERM (as a user's Ctrl-C or a service manager stops it) on leaving."""
    import urllib.request

    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                urllib.request.urlopen(url + "config", timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "the chat did not start"
                time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _plain_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment without the caller's belegt settings, as a fresh shell has it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BELEGT_")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", BELEGT_CONFIG=str(tmp_path / "no-such-config.toml"))
    return env


@pytest.mark.slow  # `python -m pipeline serve` as a process of its own
def test_serve_a_folder_indexes_it_first_then_answers_from_it(tmp_path: Path) -> None:
    """`python -m pipeline serve FOLDER` (what `make run DOCS=FOLDER` runs in two steps): new files of the
    folder are indexed before the chat starts, and a file of a type it does not read does not stop it."""
    from gradio_client import Client

    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    (tmp_path / "docs" / "neu.md").write_text("# Moers\n\nDie Stadt Moers eröffnet eine Bibliothek.", "utf-8")
    (tmp_path / "docs" / "daten.xyz").write_text("x", "utf-8")
    port = free_port()
    with _running(["-m", "pipeline", "serve", str(tmp_path / "docs"), "--index", str(index_dir), "--port",
                   str(port)], _plain_env(tmp_path), port) as url:
        sources = {Path(s).name for s in IndexReader.open(index_dir).sources()}
        assert sources == {"a.txt", "neu.md"}
        answer = Client(url, verbose=False).predict("Was eröffnet Moers?", api_name="/ask")
        assert "passages" in answer and any(p["source"].endswith("neu.md") for p in answer["passages"])


def test_each_answer_keeps_its_own_sources_and_the_conversation_exports_with_its_citations(tmp_path: Path) -> None:
    from conftest import ALWAYS_ANSWER

    index_dir = tiny_index(tmp_path, {
        "a.txt": "Die Stadt Duisburg baut ein Glasfasernetz. Unterzeichnet hat Bürgermeister Sören Link.",
        "b.txt": "Die Stadt Moers eröffnet eine Bibliothek. Sie hat sonntags geöffnet.",
    })
    backend = chat_app.ChatBackend(str(index_dir), ALWAYS_ANSWER)
    *_, (history, panel, _, turns) = chat_app.chat_turn(backend, "Wer unterzeichnete in Duisburg?", [], 3, 0.02, False)
    *_, (history, panel, _, turns) = chat_app.chat_turn(backend, "Was eröffnet Moers?", history, 3, 0.02, False,
                                                        turns)
    assert [t["turn"] for t in turns] == [1, 2]
    first, second = history[1]["content"], history[3]["content"]
    assert 'href="#cite-1-1"' in first and 'href="#cite-2-1"' in second and "cite-2-" not in first
    # Both answers' passages stay in the panel, newest first; each [n] finds its own.
    assert panel.index("id='answer-2'") < panel.index("id='answer-1'")
    assert panel.index("id='cite-2-1'") < panel.index("id='answer-1'") < panel.index("id='cite-1-1'")
    markdown = chat_app.conversation_markdown(turns)
    assert markdown.startswith("# belegt: conversation") and "## Was eröffnet Moers?" in markdown
    for t in turns:
        for c in t["citations"]:
            assert f"[{c['n']}] `{c['source']}`, characters {c['start']}–{c['end']}: “{c['text']}”" in markdown


@pytest.mark.slow  # build and serve processes
def test_an_upload_survives_a_rebuild_and_a_restart_of_the_server(tmp_path: Path) -> None:
    """Issue "nothing lost": a file uploaded in the chat is a document of the index like any other — a plain
    rebuild (what `make run` does before starting) keeps it, and the restarted server answers from it."""
    from gradio_client import Client

    index_dir = tiny_index(tmp_path, {"a.txt": "Die Stadt Duisburg baut ein Netz."})
    note = tmp_path / "in" / "vertrag.md"
    note.parent.mkdir()
    note.write_text("# Vertrag\n\nDen Vertrag unterzeichnete Landrätin Erika Beispiel.", "utf-8")
    assert "1 new" in chat_app.ChatBackend(str(index_dir)).upload([str(note)])
    env = _plain_env(tmp_path)
    rebuilt = subprocess.run([sys.executable, "-m", "pipeline", "build", "--index", str(index_dir), "--quiet"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rebuilt.returncode == 0 and "0 removed" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr
    port = free_port()
    with _running(["-m", "pipeline", "serve", "--index", str(index_dir), "--port", str(port)], env, port) as url:
        answer = Client(url, verbose=False).predict("Wer unterzeichnete den Vertrag? Landrätin", api_name="/ask")
        assert any(p["source"].endswith("uploads/vertrag.md") for p in answer["passages"]), answer


def test_documents_are_listed_removed_reindexed_and_questions_can_search_only_some(tmp_path: Path) -> None:
    from conftest import ALWAYS_ANSWER

    index_dir = tiny_index(tmp_path, {
        "kassel.txt": "Kassel baut ein Glasfasernetz für 40.000 Haushalte.",
        "moers.md": "# Moers\n\nMoers baut ein Glasfasernetz für 12.000 Haushalte.",
    })
    backend = chat_app.ChatBackend(str(index_dir), ALWAYS_ANSWER)
    rows = backend.document_rows()
    assert [Path(r[0]).name for r in rows] == ["kassel.txt", "moers.md"]
    by_name = {Path(r[0]).name: dict(zip(chat_app.DOCUMENT_COLUMNS, r)) for r in rows}
    assert by_name["moers.md"]["title"] == "Moers" and by_name["moers.md"]["format"] == "markdown"
    assert by_name["kassel.txt"]["chunks"] >= 1 and by_name["kassel.txt"]["language"] == "de"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", by_name["kassel.txt"]["indexed"])
    # Questions that search only some documents.
    *_, (_, panel, _, _) = chat_app.chat_turn(backend, "Wer baut ein Glasfasernetz?", [], 5, 0.02, False, (),
                                              ["*.md"])
    assert "moers.md" in panel and "kassel.txt" not in panel
    *_, (history, _, _, _) = chat_app.chat_turn(backend, "Wer baut ein Glasfasernetz?", [], 5, 0.02, False, (),
                                                ["*.pdf"])
    assert "no indexed document matches *.pdf" in history[-1]["content"]
    # Re-index: unchanged is nothing to do; a changed file is read again.
    kassel = by_name["kassel.txt"]["source"]
    assert backend.reindex(kassel) == "kassel.txt: unchanged, nothing to do."
    Path(kassel).write_text("Kassel baut ein Glasfasernetz für 47.500 Haushalte.", "utf-8")
    assert backend.reindex(kassel) == "kassel.txt: changed, indexed anew."
    # Remove: its passages are gone; the file itself is untouched.
    assert backend.remove(kassel).startswith("Removed kassel.txt: 1 documents")
    assert [Path(r[0]).name for r in backend.document_rows()] == ["moers.md"]
    answer = backend.ask("Wer baut ein Glasfasernetz für 47.500 Haushalte?")
    assert all("kassel" not in h.source for h in answer.hits) and Path(kassel).exists()
