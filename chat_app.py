"""The Gradio app: a thin shell over the library (every decision lives in ``pipeline``).

    python chat_app.py [--index DIR] [--host 127.0.0.1] [--port 7860]
"""

from __future__ import annotations

import argparse
import html
import sys
from typing import Sequence

from pipeline.retrieval import Retriever
from pipeline.store import IndexError_, IndexReader


def render_hits(retriever: Retriever, question: str, k: int = 5) -> str:
    """A question → HTML of the best passages (escaped: document text is never markup)."""
    if not question.strip():
        return "<p>Ask a question about the indexed documents.</p>"
    parts = []
    for hit in retriever.search(question, k):
        c = hit.chunk
        parts.append(
            f"<div class='passage'><b>[{hit.rank}]</b> <code>{html.escape(hit.source)}</code> "
            f"chars {c.start}–{c.end} · score {hit.score:.3f}<br>{html.escape(c.text)}</div>"
        )
    return "\n".join(parts) or "<p>No passages found.</p>"


def make_app(index_dir: str):  # type: ignore[no-untyped-def]
    """An index directory → the Gradio Blocks app."""
    import gradio as gr

    retriever = Retriever(IndexReader.open(index_dir))
    with gr.Blocks(title="belegt") as app:
        gr.Markdown("# belegt\nQuestions about your documents, answered with the passages that back them.")
        question = gr.Textbox(label="Question", placeholder="who signed the Duisburg declaration?")
        out = gr.HTML()
        question.submit(lambda q: render_hits(retriever, q), question, out, api_name="search")
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
