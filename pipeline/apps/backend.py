"""The chat's backend: one index answering questions (and rebuilding under the chat), the Documents tab's
actions, uploads checked and indexed, and one chat turn as the conversation grows.

No Gradio here beyond its upload folder's path: the app (``chat.py``) wires these to its events.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..facade import NoMatchingDocuments, QuestionError, open_index
from ..indexing import add_files
from ..settings import Settings
from ..store import IndexBusy, IndexProblem
from ..types import Answer
from .render import (
    answer_html,
    literal_html,
    message_text,
    plain_text,
    render_sources,
    revealed,
    sources_panel,
    status_html,
    turn_record,
    without_paths,
)

log = logging.getLogger("belegt.chat")


DOCUMENT_COLUMNS = ("source", "title", "date", "language", "format", "chunks", "indexed")


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

    def ask(
        self,
        question: str,
        history: Sequence[str] = (),
        k: int | None = None,
        lexical_weight: float | None = None,
        on_token: Callable[[str], None] | None = None,
        only: Sequence[str] = (),
    ) -> Answer:
        """A question → an Answer; QuestionError for one that cannot be asked (its message is shown).
        ``only``: search only the documents whose source matches one of these patterns."""
        retrieval = None
        if lexical_weight is not None:
            retrieval = self.settings.retrieval.model_copy(update={"lexical_weight": float(lexical_weight)})
        return self.index.ask(question, k, history=list(history), retrieval=retrieval, on_token=on_token, only=only)

    def reply(
        self,
        question: str,
        history: Sequence[str] = (),
        k: int | None = None,
        lexical_weight: float | None = None,
        on_token: Callable[[str], None] | None = None,
        only: Sequence[str] = (),
    ) -> Answer | str:
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
        return [
            [d["source"], d["title"], d["date"], d["lang"], d["format"], d["chunks"], d["indexed"]]
            for d in self.index.reader.document_list()
        ]

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
            lines.insert(
                0,
                f"Indexed: {len(report.added)} new, {len(report.changed)} changed; "
                f"{report.documents} documents, {report.chunks} passages.",
            )
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


def upload_turn(backend: ChatBackend, files: Any, upload_dir: str | os.PathLike[str]) -> str:
    """What the upload event received → the status (HTML, file names only); Gradio's temporary
    copies of the files are deleted afterwards, whether they were added or rejected."""
    paths = upload_paths(files)
    if not paths:
        return ""
    try:
        return status_html(backend.upload(paths))
    finally:
        discard_uploads(paths, upload_dir)


def chat_turn(
    backend: ChatBackend,
    message: str,
    history: list[dict[str, Any]],
    top_k: int,
    lexical_weight: float,
    show_retrieved: bool,
    turns: Sequence[dict[str, Any]] = (),
    only: Sequence[str] = (),
) -> Iterator[tuple[list[dict[str, Any]], Any, str, list[dict[str, Any]]]]:
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
                result.append(
                    backend.reply(message, earlier, int(top_k), lexical_weight, on_token=tokens.put, only=only)
                )
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
    for shown_part in revealed(answer_html(answer, turn)):  # the answer appears progressively
        yield [*history, {"role": "assistant", "content": shown_part}], panel, "", turns
        time.sleep(0.02)
