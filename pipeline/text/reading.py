"""Reading under a time budget: a file → its cleaned ``Document`` and chunks, or a reason to skip it.

Each file is read, decoded, cleaned and chunked in a worker process, so a file that takes
longer than ``sources.read_timeout_s`` (a pathological input that some parser handles in
super-linear time, a file system that stalls) is skipped with a reason and the build goes
on. A thread cannot do this: a regular expression or a C parser holds the interpreter until
it returns, so only a process can be stopped. The worker is forked, which costs a few
milliseconds and shares the already imported modules. In a process connected to Ray (a Ray
worker reading a build's files, or a build run again in a process with a Ray session) the worker
comes from a ``forkserver`` instead: Ray's threads hold locks a forked child would inherit held.
Where neither exists, files are read in this process without a budget.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.process
import os
import signal
import sys
import time
import weakref
from dataclasses import dataclass, replace
from typing import Any

from ..settings import Settings
from ..types import Chunk, Document, SkippedFile
from . import pdf
from .chunking import chunk_document
from .cleaning import clean
from .sources import load


@dataclass(frozen=True)
class ReadFile:
    """A file read and prepared: its document (source as it is indexed), chunks and how it was decoded."""

    doc: Document
    chunks: tuple[Chunk, ...]
    encoding: str
    format: str


def read_file(path: str, source: str, settings: Settings) -> ReadFile | SkippedFile:
    """A file on disk and the source it is indexed under → its Document and chunks, or why it was skipped."""
    loaded = load(path, settings.sources)
    if isinstance(loaded, SkippedFile):
        return replace(loaded, path=source)
    loaded = replace(loaded, source=source)
    doc = clean(loaded, settings.cleaning)
    return ReadFile(doc, tuple(chunk_document(doc, settings.chunking)), loaded.encoding, loaded.format)


def _read_or_reason(path: str, source: str, settings: Settings) -> ReadFile | SkippedFile:
    # In the worker: an unexpected error in one file is that file's skip reason, not the build's end.
    try:
        return read_file(path, source, settings)
    except Exception as err:  # noqa: BLE001 — any parser may raise anything on a hostile file
        return SkippedFile(source, f"could not be read ({type(err).__name__}: {str(err)[:200]})")


def _die_with_parent(parent: int) -> None:
    """Worker start: let go of the build's lock and end when the build's process ends, even by SIGKILL.

    A forked worker shares the build's open files, the index's ``.lock`` among them: an
    ``flock`` lasts while any copy of its descriptor is open, so a worker holding one would
    keep the index locked after its build was killed. The worker closes its copies (the
    build's lock is untouched: the build's own descriptor still holds it) and asks Linux to
    end it with its parent (PR_SET_PDEATHSIG).
    """
    fds = "/proc/self/fd"
    if os.path.isdir(fds):
        for name in os.listdir(fds):
            try:
                if os.path.basename(os.readlink(os.path.join(fds, name))) == ".lock":
                    os.close(int(name))
            except (OSError, ValueError):
                continue
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:  # the parent died before prctl took effect (0: started by a forkserver)
        os._exit(1)


def _start_worker(parent: int, pages: Any) -> None:
    """Worker start: end with the build (``_die_with_parent``) and report each PDF page read into ``pages``."""
    _die_with_parent(parent)

    def on_page(done: int, total: int) -> None:
        pages[0], pages[1] = done, total

    pdf.on_page = on_page


_WARM = False


def _warm_up(settings: Settings) -> None:
    """Load, in this process, what reading loads lazily (language model, sentence splitter, parsers).

    Forked workers inherit it; otherwise each new worker — one per build — would load it again
    (0.2 s a file on the seeds, measured).
    """
    global _WARM
    if _WARM:
        return
    import tempfile

    import charset_normalizer  # noqa: F401 — imported for the workers to inherit
    import trafilatura  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in (
            ("de.txt", "Die Stadt baut ein Netz. Es wird 2025 fertig."),
            ("en.md", "# Title\n\nThe city builds a network. It will be done in 2025."),
        ):
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            read_file(path, name, settings)
    _WARM = True


class BudgetedReader:
    """Files → ``ReadFile`` or ``SkippedFile``, each given at most ``settings.sources.read_timeout_s`` seconds.

    One worker process, started at the first file and kept for the next ones; replaced after a file ran out of
    time or its reading killed the worker. Use as a context manager (the worker is stopped at the end).

    The worker is a plain process on a pipe, not a ``multiprocessing.Pool``: a pool's clean-up at exit takes a lock
    its worker holds while it waits for a task, so a process whose pool worker was killed first (Ray ends an actor's
    children before the actor) hung at exit for ever. Nothing here waits on the worker without a timeout, and it is
    stopped by SIGKILL (it holds nothing worth a graceful end), also at exit if ``close`` was not called.
    """

    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        self.settings = settings
        self.budget = settings.sources.read_timeout_s
        self.show_progress = show_progress
        self._worker: _Worker | None = None
        self._ctx: Any = _context()

    def read(self, path: str, source: str) -> ReadFile | SkippedFile:
        """A file and the source it is indexed under → what it holds, or why it was skipped (never raises)."""
        if self._ctx is None:
            return _read_or_reason(path, source, self.settings)
        # Twice at most: a worker killed from outside (between files, or on this one: the OOM killer, Ray ending an
        # actor's children) is replaced and the file read again; a file that kills a fresh worker too is skipped.
        for _ in range(2):
            if self._worker is None:
                self._worker = _Worker(self._ctx, self.settings)
            worker = self._worker
            worker.pages[0] = worker.pages[1] = 0
            try:
                worker.conn.send((path, source))
            except OSError:  # dead already
                self._stop()
                continue
            got = self._wait(worker, source)
            if got is not None:
                return got
        return SkippedFile(
            source, "its reader's process died while reading it, twice; skipped so the build could go on"
        )

    def _wait(self, worker: _Worker, source: str) -> ReadFile | SkippedFile | None:
        """The worker's result (None: it died), waited for while it makes progress: the budget holds for a whole
        file, or for each page of a PDF (a 500-page scan takes minutes and is fine; a page that never ends is not).
        A PDF that takes more than a second shows a bar of its pages with an ETA."""
        started = time.monotonic()
        deadline, done, bar = started + self.budget, 0, None
        try:
            while True:
                now = time.monotonic()
                if now >= deadline:
                    self._stop()
                    return SkippedFile(
                        source,
                        f"took longer than {self.budget:g} s to read, clean and chunk (a PDF: "
                        "one of its pages); skipped so the build could go on (raise "
                        "sources.read_timeout_s to give it more time)",
                    )
                if worker.conn.poll(min(0.25, deadline - now)):  # a result, or the end of a worker that died
                    break
                if worker.pages[0] > done:
                    done, deadline = worker.pages[0], time.monotonic() + self.budget
                if bar is None and self.show_progress and worker.pages[1] > 1 and time.monotonic() - started > 1:
                    from tqdm import tqdm

                    bar = tqdm(
                        total=worker.pages[1],
                        desc=f"Reading {os.path.basename(source)}",
                        unit="page",
                        file=sys.stderr,
                        dynamic_ncols=True,
                        leave=False,
                    )
                if bar is not None:
                    bar.update(done - bar.n)
            try:
                got: ReadFile | SkippedFile = worker.conn.recv()
                return got
            except (EOFError, OSError):  # the worker died on this file (a crash in a C parser, killed from outside)
                self._stop()
                return None
        finally:
            if bar is not None:
                bar.close()

    def _stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    def close(self) -> None:
        """Stop the worker (a later ``read`` starts a new one)."""
        self._stop()

    def __enter__(self) -> BudgetedReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Worker:
    """A reader's worker process: files as (path, source) in on a pipe → ``ReadFile`` or ``SkippedFile`` out."""

    def __init__(self, ctx: Any, settings: Settings) -> None:
        forked = ctx.get_start_method() == "fork"
        if forked:
            _warm_up(settings)  # inherited by the forked worker; a forkserver's worker warms up itself
        self.pages: Any = ctx.Array("i", 2, lock=False)  # [pages read, pages in all] of the PDF being read
        self.conn, theirs = ctx.Pipe()
        # A forkserver's worker is the forkserver's child: it ends with it, and the forkserver with this process.
        parent = os.getpid() if forked else 0
        # daemon: multiprocessing's own exit clean-up ends it rather than waiting for it to finish.
        self.process = ctx.Process(target=_serve, args=(theirs, self.conn, parent, self.pages, settings), daemon=True)
        self.process.start()
        theirs.close()  # the worker's end lives in the worker only: when it dies, ``recv`` here sees the end
        # At exit, also when nobody called close (a Ray actor ended by Ray): killed, never waited for unbounded.
        self._finalizer = weakref.finalize(self, _kill, self.process, self.conn)

    def stop(self) -> None:
        """Kill the worker and reap it (never waits more than a few seconds, even on a worker already gone)."""
        self._finalizer()


def _kill(process: multiprocessing.process.BaseProcess, conn: Any) -> None:
    conn.close()
    with contextlib.suppress(OSError, ValueError, AssertionError):  # already gone, or never started
        process.kill()
        process.join(5)  # bounded: a forkserver already killed leaves a pipe that reports the end, not a hang


def _serve(conn: Any, ours: Any, parent: int, pages: Any, settings: Settings) -> None:
    """The worker's loop: (path, source) from ``conn`` → what reading makes of it, sent back; ends when the pipe
    is closed (its reader is gone)."""
    ours.close()  # a forked worker's copy of the reader's end: without closing it, the worker never sees the end
    _start_worker(parent, pages)
    while True:
        try:
            path, source = conn.recv()
        except (EOFError, OSError):
            return
        result = _read_or_reason(path, source, settings)
        try:
            conn.send(result)
        except (EOFError, OSError):
            return
        except Exception as err:  # noqa: BLE001 — a result that does not pickle is that file's skip reason
            conn.send(SkippedFile(source, f"could not be read ({type(err).__name__}: {str(err)[:200]})"))


def _context() -> Any:
    """→ the multiprocessing context a reader's worker is started with: ``fork``; ``forkserver`` when this process
    is connected to Ray; None (read in this process, no time limit) when neither exists."""
    methods = multiprocessing.get_all_start_methods()
    if not _on_ray():
        return multiprocessing.get_context("fork") if "fork" in methods else None
    if "forkserver" not in methods:
        return None
    ctx = multiprocessing.get_context("forkserver")
    # Not the default ['__main__']: a Ray worker's main module is Ray's own. The server imports the reader once and
    # forks each worker from it.
    ctx.set_forkserver_preload(["pipeline.text.reading"])
    return ctx


def _on_ray() -> bool:
    """True when this process is connected to Ray (a Ray worker, or a build on Ray run again in the same process).
    Its gRPC threads hold locks a forked child inherits held: a build in a test process connected to a Ray cluster
    hung reading its first file. Workers then come from a forkserver, a fresh process without those threads."""
    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())
