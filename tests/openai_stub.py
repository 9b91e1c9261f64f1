"""A scripted OpenAI-compatible (and Ollama) server on 127.0.0.1 for tests: real HTTP, real client, no model.

Each request to ``POST /v1/chat/completions`` (or Ollama's ``POST /api/chat``) takes the next script:
``{"content": "..."}`` answers (streamed as server-sent events when the client asks for a
stream), ``{"hang": seconds}`` sends nothing for that long, ``{"status": 500}`` fails.
Every request body is kept in ``requests`` so tests can read what the model was told.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator


class StubServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must not keep the test process alive

    def __init__(self, scripts: list[dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts = list(scripts)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    @property
    def root_url(self) -> str:
        """Where an Ollama client points."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def next_script(self) -> dict[str, Any]:
        with self.lock:
            return self.scripts.pop(0) if self.scripts else {"status": 500}


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        self.server.requests.append(body)
        script = self.server.next_script()
        if "hang" in script:
            time.sleep(script["hang"])
            return
        if script.get("status", 200) != 200:
            self._send(script["status"], {"error": {"message": "scripted failure", "type": "server_error"}})
            return
        content = script["content"]
        if self.path.startswith("/api/chat"):  # Ollama's API: newline-delimited JSON
            self._ollama(content, body)
            return
        if body.get("stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            words = content.split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                self._event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": piece},
                                          "finish_reason": None}]})
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            return
        self._send(200, {"id": "stub", "object": "chat.completion", "created": 0, "model": body.get("model", "stub"),
                         "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                      "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def _ollama(self, content: str, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        base = {"model": body.get("model", "stub"), "created_at": "2026-01-01T00:00:00Z"}
        pieces = content.split(" ") if body.get("stream", True) else [content]
        for i, word in enumerate(pieces):
            piece = word if i == 0 else " " + word
            line = {**base, "message": {"role": "assistant", "content": piece}, "done": False}
            self.wfile.write(json.dumps(line).encode() + b"\n")
            self.wfile.flush()
        end = {**base, "message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop",
               "eval_count": len(pieces), "prompt_eval_count": 1}
        self.wfile.write(json.dumps(end).encode() + b"\n")
        self.wfile.flush()

    def _event(self, obj: dict[str, Any]) -> None:
        obj = {"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": "stub", **obj}
        self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
        self.wfile.flush()

    def _send(self, status: int, obj: dict[str, Any]) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def stub_server(scripts: list[dict[str, Any]]) -> Iterator[StubServer]:
    """Scripts → a running stub server (its ``base_url`` for the client), shut down afterwards."""
    server = StubServer(scripts)
    # Shutting down waits for the serving loop to look up: every 50 ms, not every 0.5 s (the default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
