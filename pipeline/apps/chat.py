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
import html
import json
import logging
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..facade import Index, NoMatchingDocuments, QuestionError, open_index
from ..indexing import add_files
from ..query.generation import LLMUnavailable
from ..query.prompts import ABSTAIN_REASONS
from ..settings import Settings, SettingsError
from ..store import IndexBusy, IndexProblem
from ..types import Answer, Hit
from . import pages
from .args import add_llm_arguments
from .args import settings_from_args as cli_settings

if TYPE_CHECKING:
    import gradio as gr

EXAMPLES = [
    "who signed the Duisburg declaration?",
    "Wer hat die Duisburger Absichtserklärung unterzeichnet?",
    "Welche Städte haben mit ZTE eine Partnerschaft geschlossen?",
    "When was the Gelsenkirchen agreement signed?",
]
log = logging.getLogger("belegt.chat")
# Gradio answers one event of a kind at a time unless told otherwise. See benchmarks/load.py
# for what more parallel questions buy on this machine.
CONCURRENCY = 4
# Absolute paths in a message (POSIX, or a Windows drive): shown by their last part only.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\~-])(?:[A-Za-z]:)?(?:[/\\][^\s/\\;,()'\"]+)+[/\\]?")


def message_text(content: Any) -> str:
    """A chat message's content (a string, or Gradio 6's list of {"type": "text", "text"} blocks) → its text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(message_text(part) for part in content)
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def literal_html(text: str) -> str:
    """Document or user text → HTML that shows exactly that text (no markup, no links, no math).

    The chat renders messages as HTML, not Markdown, and with math off; ``$`` is encoded
    as well so that ``$$x^2$$`` stays text even where a renderer looks for math delimiters.
    """
    return html.escape(text, quote=True).replace("$", "&#36;")


def plain_text(markup: str) -> str:
    """HTML made by this app (``literal_html`` plus its own tags) → the plain text (for logs and follow-up search).

    Every ``<`` of document text was escaped, so each remaining tag is one of ours.
    """
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def without_paths(text: str) -> str:
    """A message for the person uploading → the same message with absolute server paths cut to their last part."""
    return _ABSOLUTE_PATH.sub(lambda m: Path(m.group().rstrip("/\\")).name or m.group(), text)


def _linked(text: str, turn: int = 1) -> str:
    """Answer text → HTML: text literal, each [n] a link to its passage among this answer's (``turn``) sources."""
    out = []
    for part in re.split(r"(\[\d+\])", text):
        m = re.fullmatch(r"\[(\d+)\]", part)
        out.append(f'<a href="#cite-{turn}-{m.group(1)}">[{m.group(1)}]</a>' if m else literal_html(part))
    return "".join(out)


def answer_html(answer: Answer, turn: int = 1) -> str:
    """An Answer (the ``turn``-th of the conversation) → the chat message (HTML): [n] linked to this answer's
    passages; generated sentences the sources do not support are marked."""
    if not answer.sentences:
        text = _linked(answer.text, turn)
    else:
        text = " ".join(_linked(c.text, turn) if c.supported else f"⚠️ {_linked(c.text, turn)} <em>(not supported by "
                        f"the cited passages)</em>" for c in answer.sentences)
    # The chat shows line breaks as they are (Gradio's white-space: pre-line when Markdown is off).
    notes = "".join(f"\n\n<small>ℹ️ {literal_html(n)}</small>" for n in answer.notes)
    return text + notes


def _passage_html(index: Index, hit: Hit, marks: Sequence[tuple[int, int, int]], anchor: str) -> str:
    """A passage → HTML with the cited spans highlighted; its duplicates in other documents below it."""
    esc = literal_html  # titles and file names are document text too
    doc = index.reader.document(hit.chunk.doc_id)
    start = min([hit.chunk.start, *(a for _, a, _ in marks)])
    end = max([hit.chunk.end, *(b for _, _, b in marks)])
    body, pos = [], start
    for n, a, b in sorted(marks, key=lambda m: m[1]):
        body.append(esc(doc.text[pos:a]) + f"<mark title='[{n}]'>{esc(doc.text[a:b])}</mark>")
        pos = b
    body.append(esc(doc.text[pos:end]))
    meta = " · ".join(esc(x) for x in (doc.title, doc.date or "") if x)
    where = _where_html(index, hit, marks)
    label = " ".join(f"[{n}]" for n, _, _ in marks)
    dups = "".join(f"<li>also reported in <code>{esc(s)}</code>, characters {a}–{b}</li>" for s, a, b in hit.duplicates)
    return (
        f"<div class='passage' id='{anchor}'><b>{esc(label)}</b> <code>{esc(hit.source)}</code> "
        f"characters {start}–{end}{where}<br><small>{meta}</small>"
        f"<p style='white-space: pre-wrap'>{''.join(body)}</p>" + (f"<ul>{dups}</ul>" if dups else "") + "</div>"
    )


def _where_html(index: Index, hit: Hit, marks: Sequence[tuple[int, int, int]]) -> str:
    """Where the passage is in its file: page (with the cited lines drawn highlighted on it and a link
    that opens the PDF at that page), paragraph or slide; '' for plain text."""
    a, b = (min(m[1] for m in marks), max(m[2] for m in marks)) if marks else (hit.chunk.start, hit.chunk.end)
    where = index.reader.locate(hit.chunk.doc_id, a, b)
    if where.paragraph is not None:
        return f", paragraph {where.paragraph}"
    if where.slide is not None:
        return f", slide {where.slide}"
    if where.page is None:
        return ""
    path = index.reader.manifest.paths.get(hit.source)
    link = (f", <a class='open-page' href='/gradio_api/file={quote(path)}#page={where.page}' target='_blank' "
            f"rel='noopener'>page {where.page}</a>") if path and path.lower().endswith(".pdf") else f", page {where.page}"
    image = pages.page_image(path, where.page, where.boxes) if path and marks and path.lower().endswith(".pdf") else None
    shown = (f"<br><img class='page' alt='page {where.page}, the cited lines highlighted' src='{image}' "
             "style='max-width: 100%; border: 1px solid #ccc'>") if image else ""
    return link + shown


def render_sources(index: Index, answer: Answer, show_retrieved: bool = False, turn: int = 1) -> str:
    """An Answer (the ``turn``-th of the conversation) → its sources: cited passages first (highlighted), the
    rest behind a toggle; a refusal says why, and a "not stated" one shows the closest passages open."""
    parts = []
    if answer.abstained:
        why = ABSTAIN_REASONS.get(answer.abstain_reason or "", "No passage supports an answer.")
        parts.append(f"<p class='abstain-reason'><i>{literal_html(why)}</i></p>")
    # "Not stated": the passages are on the question's topic; they are what the user can read next, shown open.
    closest = answer.abstained and answer.abstain_reason == "not_stated"
    cited_ids = []
    for hit in answer.hits:
        marks = [(c.n, c.start, c.end) for c in answer.citations if c.chunk_id == hit.chunk.id]
        if marks:
            cited_ids.append(hit.chunk.id)
            parts.append(_passage_html(index, hit, marks, f"cite-{turn}-{marks[0][0]}"))
    rest = [h for h in answer.hits if h.chunk.id not in cited_ids]
    if (show_retrieved or closest) and rest:
        inner = "".join(_passage_html(index, h, [], f"passage-{turn}-{h.rank}") for h in rest)
        summary = f"the {len(rest)} closest passages" if closest else f"{len(rest)} more retrieved, not cited"
        parts.append(f"<details{' open' if closest else ''}><summary>{summary}</summary>{inner}</details>")
    return "\n".join(parts)


def render_answer(index: Index, answer: Answer) -> str:
    """An Answer → HTML of the answer text and its cited passages (used by tests and the sources panel)."""
    return f"<div class='answer'><p>{literal_html(answer.text)}</p></div>\n" + render_sources(index, answer)


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

DOCUMENT_COLUMNS = ("source", "title", "date", "language", "format", "chunks", "indexed")


def turn_record(turn: int, question: str, answer: Answer, sources_html: str) -> dict[str, Any]:
    """One answered question → what the conversation keeps of it (plain JSON, stored in the browser): the
    question, the answer's text, its citations and its sources panel."""
    return {
        "turn": turn, "question": question, "answer": answer.text, "abstained": answer.abstained,
        "citations": [{"n": c.n, "source": c.source, "start": c.start, "end": c.end, "text": c.text,
                       **{k: v for k, v in (("page", c.page), ("paragraph", c.paragraph), ("slide", c.slide))
                          if v is not None}} for c in answer.citations],
        "html": sources_html,
    }


def sources_panel(turns: Sequence[dict[str, Any]]) -> str:
    """The conversation's answers → the sources panel: each answer's passages under its question, newest
    first, so that [n] in any answer opens the passage of that answer."""
    sections = []
    for t in reversed(turns):
        question = t["question"] if len(t["question"]) <= 120 else t["question"][:119] + " …"
        sections.append(f"<section class='answer-sources' id='answer-{t['turn']}'><h4>Answer {t['turn']}: "
                        f"{literal_html(question)}</h4>{t['html']}</section>")
    return "\n".join(sections)


def conversation_markdown(turns: Sequence[dict[str, Any]]) -> str:
    """The conversation's answers → Markdown: each question, its answer and its citations with file,
    characters (and page, paragraph or slide) and the quoted text."""
    lines = ["# belegt: conversation", ""]
    for t in turns:
        lines += [f"## {t['question']}", "", t["answer"], ""]
        for c in t["citations"]:
            where = "".join(f", {k} {c[k]}" for k in ("page", "paragraph", "slide") if k in c)
            quoted = " ".join(c["text"].replace("\u00ad", "").split())
            lines.append(f"- [{c['n']}] `{c['source']}`, characters {c['start']}–{c['end']}{where}: “{quoted}”")
        lines.append("")
    return "\n".join(lines)


def _size(n_bytes: int) -> str:
    """A file size in bytes → how a person reads it ("6.0 kB", "12.3 MB")."""
    return f"{n_bytes / 1048576:.1f} MB" if n_bytes >= 1048576 else f"{n_bytes / 1024:.1f} kB"


class ChatBackend:
    """The app's state: the open index (reopened after uploads) and where feedback goes."""

    def __init__(self, index_dir: str, settings: Settings | None = None) -> None:
        self.index_dir = index_dir
        self.settings = settings or Settings()
        self.index = open_index(index_dir, self.settings)
        self._lock = threading.Lock()

    def ask(self, question: str, history: Sequence[str] = (), k: int | None = None,
            lexical_weight: float | None = None, on_token: Callable[[str], None] | None = None,
            only: Sequence[str] = ()) -> Answer:
        """A question → an Answer; QuestionError for one that cannot be asked (its message is shown).
        ``only``: search only the documents whose source matches one of these patterns."""
        retrieval = None
        if lexical_weight is not None:
            retrieval = self.settings.retrieval.model_copy(update={"lexical_weight": float(lexical_weight)})
        return self.index.ask(question, k, history=list(history), retrieval=retrieval, on_token=on_token,
                              only=only)

    def reply(self, question: str, history: Sequence[str] = (), k: int | None = None,
              lexical_weight: float | None = None, on_token: Callable[[str], None] | None = None,
              only: Sequence[str] = ()) -> Answer | str:
        """A question → an Answer, or the message to show instead: why the question was refused, or
        that it failed (the traceback goes to the server log, never to the person asking)."""
        try:
            return self.ask(question, history, k, lexical_weight, on_token, only)
        except (QuestionError, NoMatchingDocuments) as err:
            return f"Not asked: {err}."
        except IndexProblem as err:
            return f"The index cannot answer: {err}"
        except Exception as err:  # noqa: BLE001 — one broken question must not take the chat down
            log.exception("question failed: %.200r", question)
            return f"Sorry, this question could not be answered ({type(err).__name__}); the server log has the details."

    def document_rows(self) -> list[list[Any]]:
        """The index's documents → rows of the Documents table (source, title, date, language, format,
        chunks, when indexed)."""
        self.index.refresh()  # a build from the command line since is shown too
        return [[d["source"], d["title"], d["date"], d["lang"], d["format"], d["chunks"], d["indexed"]]
                for d in self.index.reader.document_list()]

    def remove(self, source: str) -> str:
        """A source as indexed → dropped from the index (and kept out of later builds) → a status line."""
        if not source:
            return "Choose a document first."
        with self._lock:
            try:
                report = self.index.remove([source])
            except (KeyError, IndexProblem, OSError) as err:
                return f"Not removed: {err}"
        return f"Removed {Path(source).name}: {report.documents} documents are indexed now."

    def reindex(self, source: str) -> str:
        """A source as indexed → its file read again (a changed file is indexed anew) → a status line."""
        if not source:
            return "Choose a document first."
        path = self.index.reader.manifest.paths.get(source, source)
        with self._lock:
            try:
                report = self.index.add([path])
            except (IndexProblem, OSError, ValueError) as err:
                return f"Not re-indexed: {err}"
        if report.skipped:
            return f"Not re-indexed: {Path(source).name} — {report.skipped[0].reason}"
        state = "changed, indexed anew" if report.changed or report.added else "unchanged, nothing to do"
        return f"{Path(source).name}: {state}."

    def served_folders(self) -> list[str]:
        """The folders and files the index was built from, and its uploads folder: what a citation links to."""
        try:
            roots = list(self.index.reader.manifest.roots)
        except IndexProblem:  # nothing built yet: only uploads will be there
            roots = []
        return [*roots, str(Path(self.index_dir, "uploads").resolve())]

    @property
    def max_upload_bytes(self) -> int:
        """The settings → the largest file an upload may have, in bytes (``sources.max_file_mb``)."""
        return int(self.settings.sources.max_file_mb * 1024 * 1024)

    def upload(self, paths: Sequence[str]) -> str:
        """Uploaded files → status lines (plain text, file names only, never a server path); the
        accepted files are copied into the index, which is rebuilt incrementally and reopened."""
        limit_mb = self.settings.sources.max_file_mb
        accepted: list[str] = []
        lines: list[str] = []
        for path in paths:
            name = Path(path).name
            try:
                size = os.stat(path).st_size
            except OSError as err:
                lines.append(f"Not added: {name} — cannot read: {err.strerror or type(err).__name__}")
                continue
            # Checked here too, not only by Gradio: uploads can come from a client that ignores its limit.
            if size > self.max_upload_bytes:
                lines.append(f"Not added: {name} — too large ({_size(size)}; the limit is {limit_mb:g} MB)")
            else:
                accepted.append(path)
        if accepted:
            with self._lock:
                try:
                    # progress=True: the embedding bar (tqdm) shows in the app through gr.Progress(track_tqdm=True)
                    report, rejected = add_files(accepted, self.index_dir, self.settings, progress=True)
                except IndexBusy as err:
                    return without_paths(f"Not added: {err}")
                except Exception as err:  # noqa: BLE001 — a broken upload must not take the chat down
                    log.exception("upload failed: %s", [Path(p).name for p in accepted])
                    return f"Not added: the upload failed ({type(err).__name__}); the server log has the details."
                self.index.refresh()  # the new generation serves the next question; the old one is let go
            lines.insert(0, f"Indexed: {len(report.added)} new, {len(report.changed)} changed; "
                            f"{report.documents} documents, {report.chunks} passages.")
            # Only this upload's files: what the build skipped elsewhere in the index is not news here.
            lines += [f"Not added: {Path(s.path).name} — {s.reason}" for s in rejected]
        return without_paths("\n".join(lines))

    def feedback(self, record: dict[str, Any]) -> None:
        with self._lock, open(Path(self.index_dir) / "feedback.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **record}, ensure_ascii=False) + "\n")


def upload_paths(files: Any) -> list[str]:
    """What Gradio hands the upload event (FileData dicts, as preprocessing is off; or plain paths) → file paths."""
    if not files:
        return []
    if isinstance(files, (str, os.PathLike)):
        return [str(files)]
    if isinstance(files, dict):
        return [str(files["path"])] if files.get("path") else []
    if isinstance(files, (list, tuple)):
        return [path for f in files for path in upload_paths(f)]
    path = getattr(files, "path", None) or getattr(files, "name", None)
    return [str(path)] if path else []


def discard_uploads(paths: Sequence[str], upload_dir: str | os.PathLike[str]) -> None:
    """Gradio's temporary copies of uploaded files → deleted, with the folders Gradio made for them
    once empty. Only what lies inside ``upload_dir`` is touched, never a caller's own files."""
    root = Path(os.path.realpath(upload_dir))
    for given in paths:
        # The folders resolved, the file itself not: a link is removed, not what it points to.
        path = Path(os.path.realpath(os.path.dirname(os.path.abspath(given)))) / os.path.basename(given)
        if root not in path.parents:
            continue
        try:
            path.unlink(missing_ok=True)
        except OSError as err:  # not fatal: the folder is removed at exit anyway
            log.warning("could not delete the uploaded copy %s: %s", path.name, err.strerror or err)
            continue
        folder = path.parent
        while folder != root:
            try:
                folder.rmdir()
            except OSError:  # not empty: another upload with the same content is in it
                break
            folder = folder.parent


def status_html(status: str) -> str:
    """Status lines (plain text) → HTML that shows them literally, one line each."""
    return "<br>".join(literal_html(line) for line in status.splitlines())


def upload_turn(backend: "ChatBackend", files: Any, upload_dir: str | os.PathLike[str]) -> str:
    """What the upload event received → the status (HTML, file names only); Gradio's temporary
    copies of the files are deleted afterwards, whether they were added or rejected."""
    paths = upload_paths(files)
    if not paths:
        return ""
    try:
        return status_html(backend.upload(paths))
    finally:
        discard_uploads(paths, upload_dir)


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


def _reveal(markup: str) -> list[str]:
    """Message HTML → growing prefixes of it, cut at spaces outside tags (so no tag is cut in half)."""
    # Document text has no raw < or >, so a space is inside a tag exactly when a > comes before the next <.
    words = re.split(r" (?![^<]*>)", markup)
    step = max(1, len(words) // 8)
    return [" ".join(words[:i]) for i in range(step, len(words) + step, step)]


def chat_turn(backend: "ChatBackend", message: str, history: list[dict[str, Any]], top_k: int,
              lexical_weight: float, show_retrieved: bool, turns: Sequence[dict[str, Any]] = (),
              only: Sequence[str] = ()) -> Iterator[tuple[list[dict[str, Any]], Any, str, list[dict[str, Any]]]]:
    """One chat turn → successive (conversation, sources panel, cleared textbox, answered turns) states as the
    answer arrives. ``turns`` are the conversation's earlier answers (``turn_record``); this one is added."""
    import gradio as gr

    turns = list(turns)
    message = (message or "").strip()
    if not message:
        yield history, gr.skip(), "", turns
        return
    # Earlier questions as the user typed them: the chat shows them escaped, the search wants them plain.
    earlier = [plain_text(message_text(m["content"])) for m in history if m.get("role") == "user"]
    limit = backend.settings.answer.max_question_chars
    shown = message if len(message) <= limit else message[:300] + f" … ({len(message):,} characters)"
    history = [*history, {"role": "user", "content": literal_html(shown)}]
    yield history, gr.skip(), "", turns
    turn = max((t["turn"] for t in turns), default=0) + 1
    if backend.index.llm is not None:
        # Generated answers stream token by token; the checked answer replaces the draft.
        tokens: queue.Queue[str | None] = queue.Queue()
        result: list[Answer | str] = []

        def run() -> None:
            try:
                result.append(backend.reply(message, earlier, int(top_k), lexical_weight, on_token=tokens.put,
                                            only=only))
            finally:
                tokens.put(None)

        threading.Thread(target=run, daemon=True).start()
        draft = ""
        while (token := tokens.get()) is not None:
            draft += token
            yield [*history, {"role": "assistant", "content": literal_html(draft) + " …"}], gr.skip(), "", turns
        answer: Answer | str = result[0] if result else "Sorry, this question could not be answered."
        if isinstance(answer, str):  # refused or failed: the reason is the reply
            yield [*history, {"role": "assistant", "content": literal_html(answer)}], gr.skip(), "", turns
            return
        turns.append(turn_record(turn, shown, answer, render_sources(backend.index, answer, show_retrieved, turn)))
        yield [*history, {"role": "assistant", "content": answer_html(answer, turn)}], sources_panel(turns), "", turns
        return
    answer = backend.reply(message, earlier, int(top_k), lexical_weight, only=only)
    if isinstance(answer, str):  # refused or failed: the reason is the reply
        yield [*history, {"role": "assistant", "content": literal_html(answer)}], gr.skip(), "", turns
        return
    turns.append(turn_record(turn, shown, answer, render_sources(backend.index, answer, show_retrieved, turn)))
    panel = sources_panel(turns)
    for shown_part in _reveal(answer_html(answer, turn)):  # the answer appears progressively
        yield [*history, {"role": "assistant", "content": shown_part}], panel, "", turns
        time.sleep(0.02)


@dataclass(frozen=True)
class _ChatTab:
    """The Chat tab's components (made inside a Blocks context)."""

    chat: Any
    box: Any
    examples: Any
    sources: Any
    download: Any
    top_k: Any
    lexical: Any
    show_retrieved: Any
    files: Any
    status: Any


@dataclass(frozen=True)
class _DocumentsTab:
    """The Documents tab's components (made inside a Blocks context)."""

    tab: Any
    only: Any
    table: Any
    pick: Any
    remove: Any
    reindex: Any
    status: Any


def _chat_tab(backend: ChatBackend) -> _ChatTab:
    """The conversation with its question box, the sources beside it, settings and upload below → its components."""
    import gradio as gr

    defaults = backend.settings.retrieval
    with gr.Tab("Chat", id="chat-tab"):
        with gr.Row():
            with gr.Column(scale=3):
                # Messages are HTML made by answer_html/literal_html: no Markdown (it would turn a URL in
                # a passage into a link) and no math (it would render $$x^2$$).
                # No "share" button: it shares to Hugging Face Spaces, which an offline tool cannot reach.
                chat = gr.Chatbot(label="Conversation", height=520, sanitize_html=True, elem_id="chat",
                                  render_markdown=False, latex_delimiters=[], feedback_options=("Like", "Dislike"),
                                  buttons=["copy", "copy_all"])
                box = gr.Textbox(label="Question", placeholder=EXAMPLES[0], submit_btn=True, elem_id="question")
                examples = gr.Examples(EXAMPLES, inputs=box)
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(elem_id="sources")
                download = gr.DownloadButton("Export conversation (Markdown)", elem_id="export", size="sm")
        # Below the conversation and its sources: on a phone, where the columns stack, the sources come
        # right after the conversation and these after them.
        with gr.Row():
            with gr.Accordion("Settings", open=False):
                top_k = gr.Slider(1, 20, value=defaults.top_k, step=1, label="Passages retrieved (top-k)")
                lexical = gr.Slider(
                    0.0, 0.2, value=defaults.lexical_weight, step=0.005,
                    label="Keyword (BM25) weight beside embeddings (0 = embeddings only)",
                    info="How much exact words count beside meaning: raise it for names, numbers and codes that "
                         "must match as written; 0.02 was best on the development questions.")
                show_retrieved = gr.Checkbox(False, label="Show retrieved passages that are not cited")
            with gr.Accordion("Add documents (text, HTML, PDF, Word, PowerPoint, OpenDocument, scans)", open=False):
                files = gr.File(file_count="multiple", file_types=list(backend.settings.sources.extensions),
                                label="Upload", elem_id="upload")
                status = gr.HTML(elem_id="upload-status")
    return _ChatTab(chat, box, examples, sources, download, top_k, lexical, show_retrieved, files, status)


def _documents_tab(backend: ChatBackend) -> _DocumentsTab:
    """Every document the index holds, with remove, re-index and the ``only`` filter → its components."""
    import gradio as gr

    with gr.Tab("Documents", id="documents-tab") as tab:
        gr.Markdown("Every document the index holds. Remove one, read one again after it changed, or "
                    "let questions search only some of them.")
        only = gr.Textbox(label="Questions search only", elem_id="only", placeholder="all documents",
                          info="Patterns, comma-separated: a part of the path (uploads/), a file name "
                               "or a shell pattern (reports/*.pdf, *kassel*).")
        table = gr.Dataframe(headers=list(DOCUMENT_COLUMNS), value=backend.document_rows, interactive=False,
                             wrap=True, elem_id="documents")
        with gr.Row():
            pick = gr.Dropdown(choices=[r[0] for r in backend.document_rows()], label="Document",
                               elem_id="pick", scale=3)
            remove = gr.Button("Remove from the index", variant="stop", elem_id="remove", scale=1)
            reindex = gr.Button("Re-index", elem_id="reindex", scale=1)
        status = gr.HTML(elem_id="documents-status")
    return _DocumentsTab(tab, only, table, pick, remove, reindex, status)


class _Handlers:
    """What the app's events call, over one backend; the exported conversations live in ``export_dir``."""

    def __init__(self, backend: ChatBackend, export_dir: str) -> None:
        self.backend, self.export_dir = backend, export_dir

    def respond(self, message: str, history: list[dict[str, Any]], top_k: int, lexical_weight: float,
                show_retrieved: bool, saved: dict[str, Any] | None, only: str
                ) -> Iterator[tuple[list[dict[str, Any]], Any, str, dict[str, Any]]]:
        """A question and the conversation so far → the conversation growing as the answer is made."""
        turns = (saved or {}).get("turns", [])
        patterns = [p.strip() for p in re.split(r"[,\n]", only or "") if p.strip()]
        for history_now, panel, box_value, turns_now in chat_turn(self.backend, message, history, top_k,
                                                                  lexical_weight, show_retrieved, turns, patterns):
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
        self.backend.feedback({"question": plain_text(question),
                               "answer": plain_text(message_text(history[i].get("content"))), "helpful": helpful})

    def ask(self, question: str) -> dict[str, Any]:
        """A question → the JSON contract of `ask --json` (answer, citations with exact offsets, passages),
        or {"error": message} for a question that cannot be asked or that failed."""
        answer = self.backend.reply(question)
        return {"error": answer} if isinstance(answer, str) else answer.to_dict()


def make_app(index_dir: str, settings: Settings | None = None,
             concurrency: int = CONCURRENCY) -> "gr.Blocks":
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
            c = _chat_tab(backend)
            d = _documents_tab(backend)
        # The conversation and every answer's sources, kept in the browser: a reload brings them back.
        saved = gr.BrowserState({"chat": [], "turns": []}, storage_key="belegt-conversation")
        # The export button holds the conversation as a file, renewed after each answer (a download button
        # downloads what it holds when clicked).
        asked = [c.box, c.chat, c.top_k, c.lexical, c.show_retrieved, saved, d.only]
        answered = [c.chat, c.sources, c.box, saved]
        c.box.submit(on.respond, asked, answered, api_visibility="private", concurrency_limit=concurrency,
                     concurrency_id="questions").then(on.export, saved, c.download, api_visibility="private")
        # An example, clicked, is asked (not only put into the box).
        c.examples.load_input_event.then(on.respond, asked, answered, api_visibility="private",
                                         concurrency_limit=concurrency, concurrency_id="questions"
                                         ).then(on.export, saved, c.download, api_visibility="private")
        app.load(on.restore, saved, [c.chat, c.sources], api_visibility="private").then(
            on.export, saved, c.download, api_visibility="private")
        c.chat.clear(lambda: ("", {"chat": [], "turns": []}, None), None, [c.sources, saved, c.download],
                     api_visibility="private")
        c.chat.like(on_like, c.chat, None, api_visibility="private")
        # preprocess=False: the handler gets every uploaded file, also one of a type the component
        # does not take (Gradio would refuse it before the handler and leave its copy behind), and
        # Gradio makes no further temporary file per upload.
        c.files.upload(on_upload, c.files, [c.status, c.files], api_visibility="private", preprocess=False).then(
            on.documents_now, None, [d.table, d.pick], api_visibility="private")
        d.tab.select(on.documents_now, None, [d.table, d.pick], api_visibility="private")
        d.remove.click(lambda source: (status_html(backend.remove(source)), *on.documents_now()), d.pick,
                       [d.status, d.table, d.pick], api_visibility="private")
        d.reindex.click(lambda source: (status_html(backend.reindex(source)), *on.documents_now()), d.pick,
                        [d.status, d.table, d.pick], api_visibility="private")
        # gradio's __all__ leaves out api (gradio.events.api), so mypy takes it for a private name.
        gr.api(on.ask, api_name="ask",  # type: ignore[attr-defined]
               concurrency_limit=concurrency, concurrency_id="questions")
    # Gradio takes its upload limit only in launch(), so every launch of this app gets ours
    # unless the caller passes one; larger uploads are refused with HTTP 413 before any handler.
    # The indexed folders are served too, so a PDF citation's link opens the file at its page.
    # The ignore: mypy refuses any assignment to a method; this one is on purpose.
    app.launch = functools.partial(app.launch, max_file_size=backend.max_upload_bytes,  # type: ignore[method-assign]
                                   allowed_paths=backend.served_folders(), head=COPY_AS_TEXT)
    return app

def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="belegt chat")
    p.add_argument("--index", default="index")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--concurrency", type=int, default=CONCURRENCY,
                   help=f"questions answered at a time, chat and API together (default {CONCURRENCY}); more wait in a queue")
    p.add_argument("--auth", default=os.environ.get("BELEGT_AUTH"),
                   help="USER:PASSWORD for basic sign-in (or set BELEGT_AUTH)")
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
