"""What the chat shows, as HTML and Markdown: answers with their citation marks, the passages they cite
(highlighted, with the page of a PDF), the sources panel of a conversation, its Markdown export.

Pure functions of an ``Answer`` (and the ``Index`` the passages come from): no Gradio here, so they
are tested without a server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..facade import Index
from ..query.prompts import ABSTAIN_REASONS
from ..types import Answer, Hit
from . import pages

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
        text = " ".join(
            _linked(c.text, turn)
            if c.supported
            else f"⚠️ {_linked(c.text, turn)} <em>(not supported by the cited passages)</em>"
            for c in answer.sentences
        )
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
    link = (
        (
            f", <a class='open-page' href='/gradio_api/file={quote(path)}#page={where.page}' target='_blank' "
            f"rel='noopener'>page {where.page}</a>"
        )
        if path and path.lower().endswith(".pdf")
        else f", page {where.page}"
    )
    image = (
        pages.page_image(path, where.page, where.boxes) if path and marks and path.lower().endswith(".pdf") else None
    )
    shown = (
        (
            f"<br><img class='page' alt='page {where.page}, the cited lines highlighted' src='{image}' "
            "style='max-width: 100%; border: 1px solid #ccc'>"
        )
        if image
        else ""
    )
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


def turn_record(turn: int, question: str, answer: Answer, sources_html: str) -> dict[str, Any]:
    """One answered question → what the conversation keeps of it (plain JSON, stored in the browser): the
    question, the answer's text, its citations and its sources panel."""
    return {
        "turn": turn,
        "question": question,
        "answer": answer.text,
        "abstained": answer.abstained,
        "citations": [
            {
                "n": c.n,
                "source": c.source,
                "start": c.start,
                "end": c.end,
                "text": c.text,
                **{
                    k: v for k, v in (("page", c.page), ("paragraph", c.paragraph), ("slide", c.slide)) if v is not None
                },
            }
            for c in answer.citations
        ],
        "html": sources_html,
    }


def sources_panel(turns: Sequence[dict[str, Any]]) -> str:
    """The conversation's answers → the sources panel: each answer's passages under its question, newest
    first, so that [n] in any answer opens the passage of that answer."""
    sections = []
    for t in reversed(turns):
        question = t["question"] if len(t["question"]) <= 120 else t["question"][:119] + " …"
        sections.append(
            f"<section class='answer-sources' id='answer-{t['turn']}'><h4>Answer {t['turn']}: "
            f"{literal_html(question)}</h4>{t['html']}</section>"
        )
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


def status_html(status: str) -> str:
    """Status lines (plain text) → HTML that shows them literally, one line each."""
    return "<br>".join(literal_html(line) for line in status.splitlines())


def revealed(markup: str) -> list[str]:
    """Message HTML → growing prefixes of it, cut at spaces outside tags (so no tag is cut in half)."""
    # Document text has no raw < or >, so a space is inside a tag exactly when a > comes before the next <.
    words = re.split(r" (?![^<]*>)", markup)
    step = max(1, len(words) // 8)
    return [" ".join(words[:i]) for i in range(step, len(words) + step, step)]
