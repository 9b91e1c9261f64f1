"""Load: 50 questions at once to the running chat's ``/ask`` API, through ``gradio_client``.

    .venv/bin/python benchmarks/load.py [--index DIR] [--concurrency 1 4]

Starts ``chat_app.py`` (a separate process, as users run it) on 127.0.0.1 on a free port over
the seeds index — built with the default embedder into a temporary folder unless ``--index``
is given — waits until it answers, asks one question to warm it up, then sends 50 questions
from ``benchmarks/qa_seeds.jsonl`` at the same moment from 50 client threads. Bounded in count
and in time: whatever has not come back after ``TIMEOUT_S`` counts as an error. The server is
shut down in every case. One round per server concurrency limit (``--concurrency`` of the
chat: questions answered at a time; the rest wait in Gradio's queue).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import QA, ROOT, SEEDS, table  # noqa: E402

from pipeline.evaluation import load_qa  # noqa: E402

N = 50
TIMEOUT_S = 300.0
START_TIMEOUT_S = 180.0
LIMITS = (1, 4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def chat_server(index: Path, concurrency: int, log: Path) -> Iterator[str]:
    """The chat app in its own process on 127.0.0.1 → its URL; terminated (then killed) on leaving."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "chat_app.py"), "--index", str(index), "--host", "127.0.0.1",
             "--port", str(port), "--concurrency", str(concurrency)],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the chat exited with {proc.returncode}: {log.read_text()[-2000:]}")
                try:
                    urllib.request.urlopen(url + "config", timeout=5)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the chat did not answer within {START_TIMEOUT_S:.0f} s")
                    time.sleep(0.5)
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


def fire(url: str, questions: list[str], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """All questions sent at once → successes, errors (with reasons), latencies and wall time."""
    from gradio_client import Client

    # One client (one session) per asker, as 50 colleagues would have. One client shared by 50
    # threads loses answers now and then in gradio_client 2.7.2: its single event stream for
    # all of a session's questions can be closed by the server while a new one is submitted
    # (CancelledError, 1–3 of 50 in our runs).
    start = cf.ThreadPoolExecutor(len(questions))
    clients = list(start.map(lambda _: Client(url, verbose=False), questions, timeout=timeout))
    warm = clients[0].predict("who signed the Duisburg declaration?", api_name="/ask")  # loads the model
    assert "answer" in warm, warm

    def one(client: Any, question: str) -> float:
        t0 = time.perf_counter()
        data = client.predict(question, api_name="/ask")
        if not isinstance(data, dict) or "answer" not in data or "error" in data:
            raise RuntimeError(f"not the JSON contract: {str(data)[:200]}")
        return (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    futures = [start.submit(one, c, q) for c, q in zip(clients, questions)]
    done, pending = cf.wait(futures, timeout=timeout)
    wall = time.perf_counter() - t0
    latencies, errors = [], []
    for f in futures:
        if f in pending:
            errors.append(f"no answer within {timeout:.0f} s")
        elif f.exception() is not None:
            errors.append(f"{type(f.exception()).__name__}: {f.exception()}")
        else:
            latencies.append(f.result())
    start.shutdown(wait=False, cancel_futures=True)
    return {"latencies": latencies, "errors": errors, "wall": wall}


def build_seeds(folder: Path) -> Path:
    from pipeline.indexing import build

    build([str(SEEDS)], folder / "idx", progress=False)
    return folder / "idx"


def run(index: Path | None = None, limits: tuple[int, ...] = LIMITS) -> tuple[list[dict], str]:
    questions = [i.question for i in load_qa(QA)][:N]
    rows = []
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        index = index or build_seeds(Path(tmp))
        for limit in limits:
            with chat_server(index, limit, Path(tmp) / f"chat-{limit}.log") as url:
                got = fire(url, questions)
            lat = got["latencies"]
            errors += got["errors"]
            rows.append({
                "server concurrency": limit, "questions": len(questions), "succeeded": len(lat),
                "errors": len(got["errors"]), "wall_s": got["wall"], "questions_per_s": len(lat) / got["wall"],
                "p50_ms": float(np.percentile(lat, 50)) if lat else None,
                "p95_ms": float(np.percentile(lat, 95)) if lat else None,
                "max_ms": float(np.max(lat)) if lat else None,
            })
    md = table(rows, ["server concurrency", "questions", "succeeded", "errors", "wall_s", "questions_per_s",
                      "p50_ms", "p95_ms", "max_ms"])
    if errors:
        md += "\n\nErrors:\n" + "\n".join(f"- {e}" for e in sorted(set(errors)))
    return rows, md


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, help="an index to serve (default: the seeds, built into a temporary folder)")
    p.add_argument("--concurrency", type=int, nargs="+", default=list(LIMITS))
    args = p.parse_args()
    rows, md = run(args.index, tuple(args.concurrency))
    print(md)
    sys.exit(0 if all(r["errors"] == 0 for r in rows) else 1)
