"""Crash safety: a build killed at any moment, readers during a rebuild, two builds at once.

Real ``python -m pipeline build`` processes with the model-free embedder (``--embedder
hashing:64``) on a corpus that takes a few seconds to build, so that kills land in every
phase: start-up, reading and chunking, embedding, writing the new generation, the swap.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.embedding import make_embedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.settings import Settings
from pipeline.store import CURRENT, IndexReader, build_lock, current_dir

from conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow  # real build processes; together well under a minute and a half

SPEC = "hashing:64"
QUESTIONS = [
    "Wer hat die Duisburger Absichtserklärung unterzeichnet?",
    "Wer ist Bürgermeister der Stadt Raunheim?",
    "Wie viele Einwohner hat die Gemeinde Quellbach?",  # only the new corpus says: old and new answers differ
    "Bericht 7 Stadtrat Netz",
]
NEW_FACT = ("Quellbach wächst\n\nDie Gemeinde Quellbach hat nach Angaben des Bürgermeisters Jan Beispiel "
            "inzwischen 12.345 Einwohner. Im Jahr 2019 waren es noch 11.000 Einwohner.\n")


def write_corpus(folder: Path, n: int, seed: int) -> None:
    """n reports of seeded random sentences from the seeds' vocabulary, and the seeds themselves."""
    folder.mkdir(parents=True, exist_ok=True)
    words = sorted(set(re.findall(r"[A-Za-zÄÖÜäöüß]{4,}", " ".join(p.read_text("utf-8") for p in SEEDS.glob("*.txt")))))
    rng = random.Random(seed)
    for i in range(n):
        paras = [" ".join(" ".join(rng.choice(words) for _ in range(rng.randint(8, 18))).capitalize() + "."
                          for _ in range(5)) for _ in range(6)]
        (folder / f"bericht{i:03d}.txt").write_text(f"Bericht {i}\n\n" + "\n\n".join(paras) + "\n", "utf-8")
    for p in SEEDS.glob("*.txt"):
        shutil.copy(p, folder)


def change_corpus(folder: Path) -> None:
    """The corpus as the next build sees it: half the reports rewritten, two removed, the new fact added."""
    write_corpus(folder / "_new", 12, seed=2)
    for i, p in enumerate(sorted((folder / "_new").glob("bericht*.txt"))):
        if i % 2 == 0:
            shutil.move(p, folder / p.name)
    shutil.rmtree(folder / "_new")
    for name in ("bericht001.txt", "bericht003.txt"):
        (folder / name).unlink()
    (folder / "quellbach.txt").write_text(NEW_FACT, "utf-8")


def settings() -> Settings:
    # Keywords weigh as much as the model-free embedder's cosines, so that the new document is found.
    return Settings(embedder={"model": SPEC}, retrieval={"lexical_weight": 1.0})


def answers(index_dir: Path) -> list[tuple[str, tuple]]:
    """What the index answers to the fixed questions: answer text, citations (source, span, text, score), passages."""
    index = open_index(index_dir, settings())
    try:
        return [said(a) for a in map(index.ask, QUESTIONS)]
    finally:
        index.close()


def said(answer) -> tuple:  # type: ignore[no-untyped-def]
    return answer.text, answer.citations, tuple((h.source, h.chunk.start, h.chunk.end, h.score) for h in answer.hits)


def cli_build(docs: Path, index: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "build", str(docs), "--index", str(index), "--embedder", SPEC, "--quiet",
         *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(index.parent), "PYTHONPATH": str(ROOT)},
    )


def leftovers(index: Path) -> list[str]:
    """Generations and links in an index folder other than the live generation and its link."""
    live = current_dir(index)
    return sorted(p.name for p in index.iterdir()
                  if p.name not in (CURRENT, ".lock") and not (live is not None and p.resolve() == live))


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The old corpus built (v1), the changed corpus, and what each index answers."""
    root = tmp_path_factory.mktemp("crash")
    old_docs, new_docs = root / "old", root / "new"
    write_corpus(old_docs, 12, seed=1)
    shutil.copytree(old_docs, new_docs)
    change_corpus(new_docs)
    t0 = time.perf_counter()
    first = cli_build(old_docs, root / "v1")
    assert first.wait(timeout=120) == 0, first.stderr.read() if first.stderr else ""
    build_seconds = time.perf_counter() - t0
    # The reference: the changed corpus built in one go, in this process.
    build([str(new_docs)], root / "v2", settings=settings(), embedder=make_embedder(SPEC), progress=False)
    old, new = answers(root / "v1"), answers(root / "v2")
    assert any("quellbach.txt" in h[0] for h in new[2][2])  # "old" and "new" can be told apart
    return {"root": root, "old_docs": old_docs, "new_docs": new_docs, "v1": root / "v1", "old": old, "new": new,
            "seconds": build_seconds}


def fresh_copy(corpora: dict[str, object], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the old index, and of the changed corpus under the path the reference used."""
    index = tmp_path / "idx"
    shutil.copytree(corpora["v1"], index, symlinks=True)  # type: ignore[arg-type]
    return index, corpora["new_docs"]  # type: ignore[return-value]


def test_killed_builds_leave_the_previous_index_answering(corpora: dict[str, object], tmp_path: Path) -> None:
    index, docs = fresh_copy(corpora, tmp_path)
    backup = tmp_path / "backup"
    shutil.copytree(index, backup, symlinks=True)
    rng = random.Random(20261122)
    span = float(corpora["seconds"]) * 1.1  # type: ignore[arg-type]
    seen: dict[str, int] = {"nothing written yet": 0, "partial generation left": 0, "new index already live": 0}
    for kill in range(15):
        proc = cli_build(docs, index)
        if kill % 3 == 2:
            # Every third kill waits until the new generation is being written, then strikes at a
            # random moment of writing or committing it (a short phase that pure chance rarely hits).
            deadline = time.monotonic() + span
            while not any(index.glob("gen-*.tmp")) and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
        else:
            time.sleep(rng.uniform(0.0, span))
        finished = proc.poll() is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        # The lock died with the process: the next build can take it at once.
        with build_lock(index):
            pass
        left = leftovers(index)
        assert len(left) <= 2, (kill, left)  # one killed build's leftovers at most: they do not pile up
        got = answers(index)
        if got == corpora["new"]:
            # Killed after the swap (or it finished): the new index, complete. Start over from the old one.
            assert finished or not any(p.endswith(".tmp") for p in left), left
            seen["new index already live"] += 1
            shutil.rmtree(index)
            shutil.copytree(backup, index, symlinks=True)
            continue
        assert got == corpora["old"], (kill, left)  # the previous index, answering exactly as before
        seen["partial generation left" if left else "nothing written yet"] += 1
    # The kills spread over the build: some before it wrote anything, some in the middle of writing.
    assert seen["partial generation left"] >= 2 and seen["nothing written yet"] >= 2, seen
    print("kills:", seen)
    done = cli_build(docs, index)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and "Traceback" not in err, err
    assert leftovers(index) == []  # what the killed builds left is gone
    assert answers(index) == corpora["new"]  # and the finished index is the one a clean build makes
    reader = IndexReader.open(index)
    assert set(reader.manifest.sources) == {str(p) for p in docs.glob("*.txt")}  # no document lost
    reader.close()


def test_readers_keep_answering_while_a_rebuild_swaps_the_index(corpora: dict[str, object], tmp_path: Path) -> None:
    index, docs = fresh_copy(corpora, tmp_path)
    held = open_index(index, settings())  # opened before the rebuild, asked throughout
    old, new = corpora["old"], corpora["new"]
    results: dict[str, list[str]] = {"held": [], "fresh": []}
    others: list[tuple[str, tuple]] = []  # what a held question answered that is neither index's answer
    errors: list[BaseException] = []
    stop = threading.Event()

    def held_reader() -> None:
        while not stop.is_set():
            try:
                # Question by question: the held index may switch generations between two questions.
                for i, question in enumerate(QUESTIONS):
                    got = said(held.ask(question))
                    if old[i] != new[i]:  # a question both answer alike cannot tell them apart
                        label = "old" if got == old[i] else "new" if got == new[i] else "other"
                        results["held"].append(label)
                        if label == "other":
                            others.append((question, got))
            except BaseException as err:  # noqa: BLE001 — collected and reported by the test
                errors.append(err)

    def fresh_reader() -> None:
        # One question per open: an open index may move to a newer generation between questions.
        asked = 0
        while not stop.is_set():
            i = asked % len(QUESTIONS)
            asked += 1
            if old[i] == new[i]:
                continue
            try:
                fresh = open_index(index, settings())
                try:
                    got = said(fresh.ask(QUESTIONS[i]))
                finally:
                    fresh.close()
                results["fresh"].append("old" if got == old[i] else "new" if got == new[i] else "other")
            except BaseException as err:  # noqa: BLE001
                errors.append(err)

    threads = [threading.Thread(target=held_reader), threading.Thread(target=fresh_reader)]
    for t in threads:
        t.start()
    try:
        proc = cli_build(docs, index)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        # Readers go on after the swap and the removal of the old generation: wait until each has
        # answered a few rounds that started after it (bounded; a loaded machine answers slowly).
        seen = {k: len(v) for k, v in results.items()}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (len(results["held"]) >= seen["held"] + 2 * len(QUESTIONS)
                                                    and len(results["fresh"]) >= seen["fresh"] + 2):
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    held.close()
    assert not errors, errors[:3]
    # The held index answers each question from one generation — the one it had, even while that
    # one is being deleted, until it sees the new one, then from the new one; fresh opens see the
    # old index, then the new one; never a mixture.
    held_seq = results["held"]
    assert held_seq[0] == "old" and held_seq[-1] == "new" and "other" not in held_seq, (held_seq, others[:2])
    assert set(held_seq[held_seq.index("new"):]) == {"new"}, held_seq
    assert results["fresh"][0] == "old" and results["fresh"][-1] == "new", results["fresh"]
    assert "other" not in results["fresh"]
    switch = results["fresh"].index("new")
    assert set(results["fresh"][switch:]) == {"new"}


def test_a_second_build_fails_with_a_message_or_waits(corpora: dict[str, object], tmp_path: Path) -> None:
    index, docs = fresh_copy(corpora, tmp_path)
    first = cli_build(docs, index)
    deadline = time.monotonic() + 60
    while f"pid {first.pid}" not in (index / ".lock").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first.poll() is None, "the first build ended before the second one started"
    # Paused, the first build keeps the lock however fast it would otherwise finish.
    os.kill(first.pid, signal.SIGSTOP)
    resume = threading.Timer(60, os.kill, (first.pid, signal.SIGCONT))  # never left paused, whatever fails
    resume.start()
    try:
        second = cli_build(docs, index)
        out, err = second.communicate(timeout=60)
        assert second.returncode == 2 and not out
        assert err.startswith(f"error: another build is running on {index} (pid {first.pid})") and "--wait" in err
        assert "Traceback" not in err
        assert first.poll() is None and answers(index) == corpora["old"]  # the second build touched nothing
        queued = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "build", str(docs), "--index", str(index), "--embedder", SPEC, "--wait"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        )
        waiting = queued.stderr.readline()  # type: ignore[union-attr]
    finally:
        resume.cancel()
        os.kill(first.pid, signal.SIGCONT)
    assert "waiting for the build running on" in waiting
    assert first.wait(timeout=60) == 0
    q_out, q_err = queued.communicate(timeout=120)
    assert queued.returncode == 0, q_err
    assert "up to date" in q_out
    assert answers(index) == corpora["new"] and leftovers(index) == []
    assert os.path.exists(index / ".lock")
