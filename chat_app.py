"""The Gradio app: a thin shell over the library (every decision lives in ``pipeline``).

    python chat_app.py [--index DIR] [--host 127.0.0.1] [--port 7860]

One question box; the answer with its [n] markers; beside it each cited sentence
highlighted inside its passage, with file, title, date and character offsets. The named
API endpoint ``/ask`` returns the JSON contract of ``ask --json``. Document text is
always escaped: a passage holding ``<script>`` shows as text.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
from typing import Any, Sequence

from pipeline.facade import Index, open_index
from pipeline.store import IndexError_
from pipeline.types import Answer

EXAMPLES = [
    "who signed the Duisburg declaration?",
    "Wer hat die Duisburger Absichtserklärung unterzeichnet?",
    "Welche Städte haben mit ZTE eine Partnerschaft geschlossen?",
    "When was the Gelsenkirchen agreement signed?",
]
MAX_QUESTION_CHARS = 2000


def render_answer(index: Index, answer: Answer) -> str:
    """An Answer → HTML: the answer text, then each citation highlighted inside its passage."""
    esc = html.escape
    parts = [f"<div class='answer'><p>{esc(answer.text)}</p></div>"]
    for c in answer.citations:
        doc = index.reader.document(c.doc_id)
        passage = next((h.chunk for h in answer.hits if h.chunk.id == c.chunk_id), None)
        start, end = (passage.start, passage.end) if passage else (c.start, c.end)
        start, end = min(start, c.start), max(end, c.end)
        text = doc.text
        body = (esc(text[start : c.start]) + f"<mark>{esc(text[c.start : c.end])}</mark>" + esc(text[c.end : end]))
        meta = " · ".join(esc(x) for x in (doc.title, doc.date or "") if x)
        parts.append(
            f"<div class='citation' id='cite-{c.n}'><b>[{c.n}]</b> <code>{esc(c.source)}</code> "
            f"characters {c.start}–{c.end}<br><small>{meta}</small><p>{body}</p></div>"
        )
    return "\n".join(parts)


def make_app(index_dir: str):  # type: ignore[no-untyped-def]
    """An index directory → the Gradio Blocks app."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool
    import gradio as gr

    index = open_index(index_dir)

    def ask(question: str) -> dict[str, Any]:
        question = (question or "").strip()[:MAX_QUESTION_CHARS]
        if not question:
            return {"error": "empty question"}
        return index.ask(question).to_dict()

    def show(question: str) -> tuple[str, dict[str, Any]]:
        question = (question or "").strip()[:MAX_QUESTION_CHARS]
        if not question:
            return "<p>Ask a question about the indexed documents.</p>", {}
        answer = index.ask(question)
        return render_answer(index, answer), answer.to_dict()

    with gr.Blocks(title="belegt") as app:
        gr.Markdown("# belegt\nAnswers from your documents, each sentence cited to the character.")
        question = gr.Textbox(label="Question", placeholder=EXAMPLES[0])
        gr.Examples(EXAMPLES, inputs=question)
        view = gr.HTML()
        with gr.Accordion("JSON", open=False):
            data = gr.JSON()
        question.submit(show, question, [view, data], api_visibility="private")
        api_in = gr.Textbox(visible=False)
        api_out = gr.JSON(visible=False)
        api_in.submit(ask, api_in, api_out, api_name="ask")
    return app


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="belegt chat")
    p.add_argument("--index", default="index")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    args = p.parse_args(argv)
    try:
        app = make_app(args.index)
    except IndexError_ as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app.launch(server_name=args.host, server_port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
