"""The chat's two tabs as Gradio components: the conversation (with sources, settings and upload) and the
Documents tab. Built inside the app's Blocks context; ``chat.make_app`` wires their events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .backend import DOCUMENT_COLUMNS, ChatBackend

# Shown as chips under the question box (a click asks one) and as its placeholder.
EXAMPLES = [
    "who signed the Duisburg declaration?",
    "Wer hat die Duisburger Absichtserklärung unterzeichnet?",
    "Welche Städte haben mit ZTE eine Partnerschaft geschlossen?",
    "When was the Gelsenkirchen agreement signed?",
]


@dataclass(frozen=True)
class ChatTab:
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
class DocumentsTab:
    """The Documents tab's components (made inside a Blocks context)."""

    tab: Any
    only: Any
    table: Any
    pick: Any
    remove: Any
    reindex: Any
    status: Any


def chat_tab(backend: ChatBackend) -> ChatTab:
    """The conversation with its question box, the sources beside it, settings and upload below → its components."""
    import gradio as gr

    defaults = backend.settings.retrieval
    with gr.Tab("Chat", id="chat-tab"):
        with gr.Row():
            with gr.Column(scale=3):
                # Messages are HTML made by answer_html/literal_html: no Markdown (it would turn a URL in
                # a passage into a link) and no math (it would render $$x^2$$).
                # No "share" button: it shares to Hugging Face Spaces, which an offline tool cannot reach.
                chat = gr.Chatbot(
                    label="Conversation",
                    height=520,
                    sanitize_html=True,
                    elem_id="chat",
                    render_markdown=False,
                    latex_delimiters=[],
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy", "copy_all"],
                )
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
                    0.0,
                    0.2,
                    value=defaults.lexical_weight,
                    step=0.005,
                    label="Keyword (BM25) weight beside embeddings (0 = embeddings only)",
                    info="How much exact words count beside meaning: raise it for names, numbers and codes that "
                    "must match as written; 0.02 was best on the development questions.",
                )
                show_retrieved = gr.Checkbox(False, label="Show retrieved passages that are not cited")
            with gr.Accordion("Add documents (text, HTML, PDF, Word, PowerPoint, OpenDocument, scans)", open=False):
                files = gr.File(
                    file_count="multiple",
                    file_types=list(backend.settings.sources.extensions),
                    label="Upload",
                    elem_id="upload",
                )
                status = gr.HTML(elem_id="upload-status")
    return ChatTab(chat, box, examples, sources, download, top_k, lexical, show_retrieved, files, status)


def documents_tab(backend: ChatBackend) -> DocumentsTab:
    """Every document the index holds, with remove, re-index and the ``only`` filter → its components."""
    import gradio as gr

    with gr.Tab("Documents", id="documents-tab") as tab:
        gr.Markdown(
            "Every document the index holds. Remove one, read one again after it changed, or "
            "let questions search only some of them."
        )
        only = gr.Textbox(
            label="Questions search only",
            elem_id="only",
            placeholder="all documents",
            info="Patterns, comma-separated: a part of the path (uploads/), a file name "
            "or a shell pattern (reports/*.pdf, *kassel*).",
        )
        table = gr.Dataframe(
            headers=list(DOCUMENT_COLUMNS),
            value=backend.document_rows,
            interactive=False,
            wrap=True,
            elem_id="documents",
        )
        with gr.Row():
            pick = gr.Dropdown(
                choices=[r[0] for r in backend.document_rows()], label="Document", elem_id="pick", scale=3
            )
            remove = gr.Button("Remove from the index", variant="stop", elem_id="remove", scale=1)
            reindex = gr.Button("Re-index", elem_id="reindex", scale=1)
        status = gr.HTML(elem_id="documents-status")
    return DocumentsTab(tab, only, table, pick, remove, reindex, status)
