"""The Gradio chat: a thin shell over the library (every decision lives in ``pipeline``).

    python chat_app.py [--index DIR] [--host 127.0.0.1] [--port 7860] [--auth USER:PASSWORD]

Left: the conversation; answers appear progressively, their [n] markers link to the
passages. Right: the passages the answer cites, the cited sentence highlighted inside
its passage, with file, title, date and offsets; the same report in a syndicated copy is
listed under it, not as a second source. Retrieved-but-uncited passages stay behind a
setting. Uploads are checked (type, and size both in Gradio and here), stored under
``DIR/uploads`` and indexed incrementally; Gradio's temporary copies are deleted once
handled, and the app keeps them in a temporary folder of its own, removed at exit.
Likes and dislikes go to ``DIR/feedback.jsonl``. The named endpoint ``/ask`` returns the
JSON contract of ``ask --json``. Document text is shown literally everywhere: HTML-escaped,
never read as Markdown, never turned into links or math.
"""

import argparse
import atexit
import functools
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..query.generation import LLMUnavailable
from ..settings import Settings, SettingsError
from ..store import IndexProblem
from .args import add_llm_arguments
from .args import settings_from_args as cli_settings
from .backend import DOCUMENT_COLUMNS, ChatBackend, chat_turn, discard_uploads, upload_paths, upload_turn
from .render import (
    answer_html,
    conversation_markdown,
    literal_html,
    message_text,
    plain_text,
    render_answer,
    render_sources,
    revealed,
    sources_panel,
    status_html,
    turn_record,
    without_paths,
)
from .tabs import EXAMPLES, ChatTab, DocumentsTab, chat_tab, documents_tab

if TYPE_CHECKING:
    import gradio as gr

# The backend and the rendering live in backend.py and render.py; their names stay importable from here.
__all__ = [
    "ChatBackend",
    "DOCUMENT_COLUMNS",
    "answer_html",
    "chat_turn",
    "conversation_markdown",
    "discard_uploads",
    "literal_html",
    "message_text",
    "plain_text",
    "render_answer",
    "render_sources",
    "revealed",
    "sources_panel",
    "status_html",
    "turn_record",
    "upload_paths",
    "upload_turn",
    "without_paths",
    "CONCURRENCY",
    "EXAMPLES",
    "main",
    "make_app",
]

log = logging.getLogger("belegt.chat")
# Gradio answers one event of a kind at a time unless told otherwise. See benchmarks/load.py
# for what more parallel questions buy on this machine.
CONCURRENCY = 4


# Gradio's copy buttons copy a message's content, which here is HTML (escaped text and the [n] links):
# what reaches the clipboard is turned back into the text as it reads. DOMParser builds an inert
# document (no script runs, no image loads), and only strings holding this app's markup are touched.
COPY_AS_TEXT = """<script>
(() => {
  const clip = navigator.clipboard;
  if (!clip || !clip.writeText || clip.__belegt) return;
  const write = clip.writeText.bind(clip);
  const ours = /<a href="#cite-|<small>|<em>|&(amp|lt|gt|quot|#39|#36);/;
  clip.writeText = (text) => write(typeof text === "string" && ours.test(text)
    ? new DOMParser().parseFromString(text, "text/html").body.textContent : text);
  clip.__belegt = true;
})();
</script>"""


def use_own_temp_dir() -> str | None:
    """App start → a fresh folder for Gradio's temporary files (``GRADIO_TEMP_DIR``), removed at exit;
    None when the user set ``GRADIO_TEMP_DIR`` (that folder is theirs, and stays).

    Gradio never empties its temporary folder; one the app owns cannot pile up across runs.
    Call it before Gradio is imported: some of its modules read the variable at import.
    """
    if os.environ.get("GRADIO_TEMP_DIR"):
        return None
    folder = tempfile.mkdtemp(prefix="belegt-gradio-")
    os.environ["GRADIO_TEMP_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM → a normal exit, so that exit handlers (removing the temporary folder) run."""
    raise SystemExit(128 + signum)


class _Handlers:
    """What the app's events call, over one backend; the exported conversations live in ``export_dir``."""

    def __init__(self, backend: ChatBackend, export_dir: str) -> None:
        self.backend, self.export_dir = backend, export_dir

    def respond(
        self,
        message: str,
        history: list[dict[str, Any]],
        top_k: int,
        lexical_weight: float,
        show_retrieved: bool,
        saved: dict[str, Any] | None,
        only: str,
    ) -> Iterator[tuple[list[dict[str, Any]], Any, str, dict[str, Any]]]:
        """A question and the conversation so far → the conversation growing as the answer is made."""
        turns = (saved or {}).get("turns", [])
        patterns = [p.strip() for p in re.split(r"[,\n]", only or "") if p.strip()]
        for history_now, panel, box_value, turns_now in chat_turn(
            self.backend, message, history, top_k, lexical_weight, show_retrieved, turns, patterns
        ):
            yield history_now, panel, box_value, {"chat": history_now, "turns": turns_now}

    def documents_now(self) -> tuple[list[list[Any]], Any]:
        """The Documents table and the document picker, as the index holds them now."""
        import gradio as gr

        rows = self.backend.document_rows()
        return rows, gr.Dropdown(choices=[r[0] for r in rows], value=None)

    @staticmethod
    def restore(saved: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str]:
        """Page load → the conversation and its sources as the browser kept them (nothing on a first visit)."""
        saved = saved if isinstance(saved, dict) else {}
        return list(saved.get("chat") or []), sources_panel(saved.get("turns") or [])

    def export(self, saved: dict[str, Any] | None) -> str | None:
        """The conversation → a Markdown file with every answer's citations, for the download button."""
        turns = (saved or {}).get("turns") or []
        if not turns:
            return None
        path = Path(tempfile.mkdtemp(dir=self.export_dir)) / "belegt-conversation.md"
        path.write_text(conversation_markdown(turns), "utf-8")
        return str(path)

    def like(self, history: list[dict[str, Any]], data: Any) -> None:
        """A like or dislike (gr.LikeData) → one line of feedback: the question, the answer, helpful or not."""
        i = data.index if isinstance(data.index, int) else data.index[0]
        question = next((message_text(m["content"]) for m in reversed(history[:i]) if m.get("role") == "user"), "")
        helpful = data.liked if isinstance(data.liked, bool) else str(data.liked).lower() in ("like", "true")
        self.backend.feedback(
            {
                "question": plain_text(question),
                "answer": plain_text(message_text(history[i].get("content"))),
                "helpful": helpful,
            }
        )

    def ask(self, question: str) -> dict[str, Any]:
        """A question → the JSON contract of `ask --json` (answer, citations with exact offsets, passages),
        or {"error": message} for a question that cannot be asked or that failed."""
        answer = self.backend.reply(question)
        return {"error": answer} if isinstance(answer, str) else answer.to_dict()


def make_app(index_dir: str, settings: Settings | None = None, concurrency: int = CONCURRENCY) -> "gr.Blocks":
    """An index directory → the Gradio Blocks app; ``concurrency`` questions (chat and API together)
    are answered at a time, the rest wait in Gradio's queue."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool
    import gradio as gr
    from gradio import utils as gr_utils

    backend = ChatBackend(index_dir, settings)
    export_dir = tempfile.mkdtemp(prefix="belegt-export-")  # the exported conversations, removed at exit
    atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
    on = _Handlers(backend, export_dir)

    # Gradio finds a progress tracker by this default value (its documented idiom), hence the call in a default.
    def on_upload(files: Any, progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[str, None]:  # noqa: B008
        # The File component is emptied afterwards: its copies are deleted, the status names what was done.
        return upload_turn(backend, files, gr_utils.get_upload_folder()), None

    # Gradio passes the like event's data to a parameter annotated gr.LikeData, read where gradio is imported.
    def on_like(history: list[dict[str, Any]], data: gr.LikeData) -> None:
        on.like(history, data)

    app: gr.Blocks  # gradio's Blocks.__enter__ has no return type
    with gr.Blocks(title="belegt") as app:
        gr.Markdown("# belegt\nAnswers from your documents, each sentence cited to the character.")
        with gr.Tabs():
            c = chat_tab(backend)
            d = documents_tab(backend)
        # The conversation and every answer's sources, kept in the browser: a reload brings them back.
        saved = gr.BrowserState({"chat": [], "turns": []}, storage_key="belegt-conversation")
        _question_events(app, c, saved, d.only, on, on_like, concurrency)
        _document_events(c, d, on, on_upload)
        # gradio's __all__ leaves out api (gradio.events.api), so mypy takes it for a private name.
        gr.api(  # type: ignore[attr-defined]
            on.ask,
            api_name="ask",
            concurrency_limit=concurrency,
            concurrency_id="questions",
        )
    # Gradio takes its upload limit only in launch(), so every launch of this app gets ours
    # unless the caller passes one; larger uploads are refused with HTTP 413 before any handler.
    # The indexed folders are served too, so a PDF citation's link opens the file at its page.
    # The ignore: mypy refuses any assignment to a method; this one is on purpose.
    app.launch = functools.partial(  # type: ignore[method-assign]
        app.launch,
        max_file_size=backend.max_upload_bytes,
        allowed_paths=backend.served_folders(),
        head=COPY_AS_TEXT,
    )
    return app


def _question_events(
    app: Any, c: ChatTab, saved: Any, only: Any, on: _Handlers, on_like: Any, concurrency: int
) -> None:
    """A question asked (typed or an example clicked) → answered, the conversation saved and exported; a page
    load restores it, clearing forgets it, a like is written down."""
    # The export button holds the conversation as a file, renewed after each answer (a download button
    # downloads what it holds when clicked).
    asked = [c.box, c.chat, c.top_k, c.lexical, c.show_retrieved, saved, only]
    answered = [c.chat, c.sources, c.box, saved]
    # A question typed, or an example clicked (asked, not only put into the box): answered the same way.
    for asking in (c.box.submit, c.examples.load_input_event.then):
        asking(
            on.respond,
            asked,
            answered,
            api_visibility="private",
            concurrency_limit=concurrency,
            concurrency_id="questions",
        ).then(on.export, saved, c.download, api_visibility="private")
    app.load(on.restore, saved, [c.chat, c.sources], api_visibility="private").then(
        on.export, saved, c.download, api_visibility="private"
    )
    c.chat.clear(
        lambda: ("", {"chat": [], "turns": []}, None),
        None,
        [c.sources, saved, c.download],
        api_visibility="private",
    )
    c.chat.like(on_like, c.chat, None, api_visibility="private")


def _document_events(c: ChatTab, d: DocumentsTab, on: _Handlers, on_upload: Any) -> None:
    """Uploads indexed, and the Documents tab's table, picker, remove and re-index kept current."""
    backend = on.backend
    # preprocess=False: the handler gets every uploaded file, also one of a type the component
    # does not take (Gradio would refuse it before the handler and leave its copy behind), and
    # Gradio makes no further temporary file per upload.
    c.files.upload(on_upload, c.files, [c.status, c.files], api_visibility="private", preprocess=False).then(
        on.documents_now, None, [d.table, d.pick], api_visibility="private"
    )
    d.tab.select(on.documents_now, None, [d.table, d.pick], api_visibility="private")
    d.remove.click(
        lambda source: (status_html(backend.remove(source)), *on.documents_now()),
        d.pick,
        [d.status, d.table, d.pick],
        api_visibility="private",
    )
    d.reindex.click(
        lambda source: (status_html(backend.reindex(source)), *on.documents_now()),
        d.pick,
        [d.status, d.table, d.pick],
        api_visibility="private",
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="belegt chat")
    p.add_argument("--index", default="index")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--concurrency",
        type=int,
        default=CONCURRENCY,
        help=f"questions answered at a time, chat and API together (default {CONCURRENCY}); more wait in a queue",
    )
    p.add_argument(
        "--auth", default=os.environ.get("BELEGT_AUTH"), help="USER:PASSWORD for basic sign-in (or set BELEGT_AUTH)"
    )
    add_llm_arguments(p)
    args = p.parse_args(argv)
    auth = None
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            print("error: --auth takes USER:PASSWORD", file=sys.stderr)
            return 2
        auth = (user, password)
    use_own_temp_dir()  # before make_app imports Gradio
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        app = make_app(args.index, cli_settings(args), concurrency=max(1, args.concurrency))
    except (IndexProblem, LLMUnavailable, SettingsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app.launch(server_name=args.host, server_port=args.port, auth=auth)
    return 0


if __name__ == "__main__":
    sys.exit(main())
