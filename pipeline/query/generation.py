"""LLM answering (optional): a question + its hits → a generated Answer whose citations were checked.

Any LangChain chat model works; ``chat_model`` makes one from settings for an
OpenAI-compatible server or Ollama. The model sees the top passages numbered and fenced
(``prompts``); what it writes goes through ``verification``. When the model errs, hangs
past ``timeout_s`` or is not installed, the extractive answer is returned with a note,
so a question always gets an answer that can be checked.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from ..settings import LLMSettings
from ..types import Answer, Hit
from . import prompts, verification
from .question import Corpus

TokenCallback = Callable[[str], None]


class LLMUnavailable(RuntimeError):
    """The configured model cannot be used here; the message says what to install or set."""


def chat_model(settings: LLMSettings) -> Any | None:
    """LLM settings → a LangChain chat model (None when ``provider`` is 'none')."""
    if settings.provider == "none":
        return None
    if not settings.model:
        raise LLMUnavailable(f"llm.provider is {settings.provider!r} but llm.model is empty; set BELEGT_LLM__MODEL")
    try:
        if settings.provider == "openai":
            from langchain_openai import ChatOpenAI

            # Local servers take any key; hosted ones read theirs from the environment.
            return ChatOpenAI(
                model=settings.model,
                base_url=settings.base_url or None,
                api_key=os.environ.get(settings.api_key_env) or "not-needed",
                timeout=settings.timeout_s,
                max_retries=0,
                temperature=settings.temperature,
                max_completion_tokens=settings.max_tokens,
            )
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=settings.model,
            base_url=settings.base_url or None,
            temperature=settings.temperature,
            num_predict=settings.max_tokens,
            client_kwargs={"timeout": settings.timeout_s},
        )
    except ImportError as err:
        raise LLMUnavailable(f"LLM answers need the langchain extra: pip install 'belegt[langchain]' ({err})") from err


def _text_of(chunk: Any) -> str:
    content = getattr(chunk, "content", chunk)
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def stream(
    model: Any, messages: Sequence[tuple[str, str]], deadline_s: float, on_token: TokenCallback | None = None
) -> str:
    """A chat model and messages → the whole reply, streamed to ``on_token``; TimeoutError past the deadline.

    The model runs in a worker thread so a server that stops sending cannot hold the
    caller past the deadline (the client's own timeout then ends the worker).
    """
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            for chunk in model.stream(list(messages)):
                events.put(("token", _text_of(chunk)))
            events.put(("done", None))
        except BaseException as err:  # handed to the caller, which decides
            events.put(("error", err))

    threading.Thread(target=work, name="belegt-llm", daemon=True).start()
    end = time.monotonic() + deadline_s
    parts: list[str] = []
    while True:
        try:
            kind, value = events.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"the model gave no complete answer within {deadline_s:g} s") from None
        if kind == "token":
            parts.append(value)
            if on_token and value:
                on_token(value)
        elif kind == "done":
            return "".join(parts)
        else:
            raise value


def generate(
    question: str,
    lang: str,
    hits: Sequence[Hit],
    corpus: Corpus,
    model: Any,
    settings: LLMSettings,
    fallback: Answer,
    on_token: TokenCallback | None = None,
) -> Answer:
    """A question, its hits and a chat model → the generated, verified Answer (or ``fallback`` with a note)."""
    passages = list(hits[: settings.passages])
    if not passages:
        return fallback
    shown = [
        prompts.PromptPassage(n, h.source, corpus.text_of(h.chunk.doc_id)[h.chunk.start : h.chunk.end])
        for n, h in enumerate(passages, start=1)
    ]
    t0 = time.perf_counter()
    try:
        reply = stream(
            model, prompts.messages(question, shown, lang, settings.max_sentences), settings.timeout_s, on_token
        )
    except Exception as err:  # any model failure: the reader still gets a checked answer
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        return replace(
            fallback, notes=(*fallback.notes, f"the language model failed ({reason}); this is the extractive answer")
        )
    t1 = time.perf_counter()
    checked = verification.verify(
        reply, passages, corpus, lang, settings.min_support, settings.similarity_floor, settings.similarity_full
    )
    t2 = time.perf_counter()
    return Answer(
        question=question,
        text=checked.text,
        citations=checked.citations,
        hits=tuple(hits),
        abstained=checked.refused,
        abstain_reason="llm_refused" if checked.refused else None,
        mode="llm",
        sentences=checked.checks,
        notes=checked.notes,
        timings_ms={
            **fallback.timings_ms,
            "generate": round((t1 - t0) * 1000, 2),
            "verify": round((t2 - t1) * 1000, 2),
        },
    )
