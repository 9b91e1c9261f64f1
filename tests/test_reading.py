"""The budgeted reader (pipeline/text/reading.py): one worker kept across files, replaced when it dies, and a
process using it always exits, whatever happened to its worker (a Ray actor whose reader hung at exit did not)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.settings import Settings
from pipeline.text import reading
from pipeline.text.reading import BudgetedReader, ReadFile


def _files(folder: Path, n: int) -> list[Path]:
    folder.mkdir(exist_ok=True)
    out = []
    for k in range(n):
        path = folder / f"f{k}.txt"
        path.write_text(f"Die Stadt Beispielstadt {k} baut ein neues Rathaus. Es wird {2020 + k} fertig.", "utf-8")
        out.append(path)
    return out


def _worker_pid(reader: BudgetedReader) -> int:
    assert reader._worker is not None
    pid = reader._worker.process.pid
    assert pid is not None
    return pid


def test_one_worker_reads_every_file_and_a_killed_one_is_replaced(tmp_path: Path) -> None:
    files = _files(tmp_path / "docs", 3)
    with BudgetedReader(Settings()) as reader:
        first = reader.read(str(files[0]), "f0.txt")
        pid = _worker_pid(reader)
        second = reader.read(str(files[1]), "f1.txt")
        assert _worker_pid(reader) == pid  # kept: a new worker per file or batch costs its start-up each time
        os.kill(pid, signal.SIGKILL)  # from outside, between files (the OOM killer, Ray ending an actor's children)
        third = reader.read(str(files[2]), "f2.txt")
        assert _worker_pid(reader) != pid
    assert all(isinstance(r, ReadFile) and r.chunks for r in (first, second, third))
    assert reader._worker is None


def test_a_file_that_kills_its_worker_is_skipped_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path / "docs", 2)
    real = reading.read_file

    def crash(path: str, source: str, settings: Settings):  # type: ignore[no-untyped-def]
        if path.endswith("f0.txt"):
            os._exit(70)  # a parser's segfault, in small
        return real(path, source, settings)

    monkeypatch.setattr(reading, "read_file", crash)  # the worker is forked, so it runs this too
    with BudgetedReader(Settings(sources={"read_timeout_s": 600})) as reader:
        died = reader.read(str(files[0]), "f0.txt")
        ok = reader.read(str(files[1]), "f1.txt")
    assert not isinstance(died, ReadFile) and "process died while reading it, twice" in died.reason  # not after 600 s
    assert isinstance(ok, ReadFile)


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_process_whose_reader_lost_its_worker_still_exits(tmp_path: Path, method: str) -> None:
    """The reader's worker killed first, the process then ends without closing its reader: it must exit. With a
    multiprocessing.Pool it hung for ever (the pool's exit clean-up takes a lock the killed worker held); a Ray
    reading actor did that when Ray ended it. 'forkserver' is how workers start in a process connected to Ray."""
    (path,) = _files(tmp_path / "docs", 1)
    code = f"""
import multiprocessing, os, signal, sys
from pipeline.settings import Settings
from pipeline.text import reading
ctx = multiprocessing.get_context({method!r})
if {method!r} == "forkserver":
    ctx.set_forkserver_preload(["pipeline.text.reading"])
reading._context = lambda: ctx
reader = reading.BudgetedReader(Settings())
assert isinstance(reader.read({str(path)!r}, "f0.txt"), reading.ReadFile)
os.kill(reader._worker.process.pid, signal.SIGKILL)
print("killed", flush=True)
sys.exit(0)  # no close: what a Ray actor ended by Ray does
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0 and "killed" in done.stdout, done.stderr
