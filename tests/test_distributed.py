"""Building on Ray (pipeline/indexing/distributed.py) against building here.

The slow tests start a real Ray on 127.0.0.1 (one node, 2 CPUs, so two encoder actors), build the seeds
through it with the default embedder and compare with the session's local build of the seeds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, SEEDS

from pipeline.indexing import distributed, ray_reading
from pipeline.indexing.distributed import RayBuildError, units
from pipeline.settings import Settings

# Small tasks (one window or text per encoder batch is not needed: whole batches of 32 stay as a local
# build makes them) so that the seeds make several tasks and both actors get some.
RAY = {"address": "local", "task_chars": 2000}


def test_tasks_are_whole_local_batches_in_the_local_order() -> None:
    sizes = [50, 10, 40, 30, 20, 60, 5]
    tasks = units(sizes, batch_size=2, task_chars=45)
    order = sorted(range(len(sizes)), key=lambda i: sizes[i])
    assert [i for t in tasks for i in t] == order  # every input once, in the order embed_batched sorts them
    assert all(len(t) % 2 == 0 for t in tasks[:-1])  # cut at batch boundaries only
    assert all(sum(sizes[i] for i in t) >= 45 for t in tasks[:-1])
    assert len(tasks) > 1
    assert units([], 32, 100) == []


def test_an_embedder_without_a_spec_cannot_go_to_ray() -> None:
    class Passed:  # e.g. LangChain embeddings handed over as an object
        id = "langchain/some-model"
        dim = 8

    with pytest.raises(RayBuildError, match="no spec"):
        distributed.ray_embed_batched(Passed(), ["a text"], "passage", 32,  # type: ignore[arg-type]
                                      Settings(ray={"address": "local"}).ray)


def test_a_build_without_ray_does_not_import_it() -> None:
    code = ("import sys, pipeline, pipeline.indexing, pipeline.apps.cli, pipeline.indexing.distributed; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_refuses_an_address_it_cannot_use_and_changes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pipeline", "build", str(SEEDS), "--index", str(tmp_path / "ix"),
                           "--ray", "127.0.0.1:1", "--quiet"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert done.returncode == 2, done.stderr
    assert "error: Ray address '127.0.0.1:1'" in done.stderr and "ray://HOST:PORT" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "ix" / "current").exists()


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    """Ray on 127.0.0.1 with 2 CPUs (two actors), no dashboard, started here and stopped at the end.

    One node: a second node through ray.cluster_utils.Cluster was reached at the machine's other address
    (192.0.2.2 here), which does not answer, and the test hung. Connected before any build: builds in this
    process then read files here instead of in a forked worker, which Ray's threads would hang
    (pipeline/text/reading.py)."""
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
             namespace=distributed.NAMESPACE, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def ray_index(cluster: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    from pipeline.indexing import build

    index = tmp_path_factory.mktemp("ray-index") / "index"
    report = build([str(SEEDS)], index, settings=Settings(ray=RAY), progress=False)
    return index, report


def _questions() -> list[str]:
    lines = (ROOT / "benchmarks" / "qa_seeds.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _same_index(a: Path, b: Path) -> None:
    """Two index directories → asserted: the same chunks, bit-identical chunk and sentence vectors."""
    from pipeline.store import IndexReader

    ra, rb = IndexReader.open(a), IndexReader.open(b)
    try:
        ca, cb = ra.chunks(), rb.chunks()
        assert [c.id for c in ca] == [c.id for c in cb]
        assert [c.text for c in ca] == [c.text for c in cb]
        assert np.array_equal(ra.vectors, rb.vectors)  # bit-identical, not merely close
        assert np.array_equal(ra.sentence_vectors, rb.sentence_vectors)
    finally:
        ra.close()
        rb.close()


@pytest.mark.slow
def test_a_ray_build_is_the_local_build(ray_index: tuple[Path, Any], seeds_index: Path) -> None:
    import ray

    from pipeline.facade import open_index

    index, report = ray_index
    assert report.embedded > 0 and report.chunks > 0
    # Every seed was read, cleaned and chunked by the Ray Data pipeline, not here.
    assert report.read_on_ray == len(list(SEEDS.iterdir())) == report.documents
    assert "Read, cleaned and chunked on the Ray cluster: 5 files" in report.summary()
    assert ray.cluster_resources()["CPU"] == 2
    _same_index(index, seeds_index)
    ours, theirs = open_index(index), open_index(seeds_index)
    for q in _questions():
        a, b = ours.ask(q), theirs.ask(q)
        assert (a.text, a.abstained) == (b.text, b.abstained), q


@pytest.mark.slow
def test_a_second_ray_build_embeds_nothing(ray_index: tuple[Path, Any]) -> None:
    from pipeline.indexing import build

    index, _ = ray_index
    again = build([str(SEEDS)], index, settings=Settings(ray=RAY), progress=False)
    assert again.embedded == 0 and again.chunks_embedded == 0
    assert again.up_to_date and again.read_on_ray == 0  # unchanged files are not read again, here or on Ray


def _bad_folder(root: Path) -> Path:
    """A folder with a good text, a binary .txt and a damaged PDF → its path."""
    from files import two_column_pdf

    docs = root / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / sorted(os.listdir(SEEDS))[0], docs / "good.txt")
    (docs / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    pdf = two_column_pdf(root / "whole.pdf").read_bytes()
    (docs / "damaged.pdf").write_bytes(pdf[: len(pdf) // 3])
    return docs


@pytest.mark.slow
def test_bad_files_read_on_ray_are_skipped_with_the_local_reasons(cluster: None, tmp_path: Path) -> None:
    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    docs = _bad_folder(tmp_path)
    on_ray = build([str(docs)], tmp_path / "ray", Settings(ray=RAY), HashingEmbedder(32), progress=False)
    here = build([str(docs)], tmp_path / "here", Settings(), HashingEmbedder(32), progress=False)
    assert on_ray.read_on_ray == 3 and here.read_on_ray == 0
    assert on_ray.documents == here.documents == 1
    assert [(Path(s.path).name, s.reason) for s in on_ray.skipped] == [(Path(s.path).name, s.reason)
                                                                       for s in here.skipped]
    assert sorted(Path(s.path).name for s in on_ray.skipped) == ["binary.txt", "damaged.pdf"]
    assert "binary file" in "".join(s.reason for s in on_ray.skipped)
    _same_index(tmp_path / "ray", tmp_path / "here")
    # The reading actors end with the job (their reader's worker stopped, not left hanging at exit).
    deadline = time.monotonic() + 20
    while _reading_actors() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _reading_actors() == []


def _reading_actors() -> list[int]:
    """PIDs of this test's Ray cluster's reading actors (Ray Data map workers; their raylet is this process's child)."""
    def parent(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::MapWorker") and \
                    parent(parent(int(entry.name))) == os.getpid():
                out.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


@pytest.mark.slow
def test_a_file_over_its_time_on_a_ray_worker_is_skipped_with_the_local_reason(cluster: None, tmp_path: Path) -> None:
    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / sorted(os.listdir(SEEDS))[0], docs / "slow.txt")  # a fresh worker loads its models: > 50 ms
    settings = Settings(ray=RAY, sources={"read_timeout_s": 0.05})
    report = build([str(docs)], tmp_path / "ix", settings, HashingEmbedder(32), progress=False)
    assert report.read_on_ray == 1 and report.documents == 0
    assert [(Path(s.path).name, "took longer than 0.05 s" in s.reason) for s in report.skipped] == [("slow.txt", True)]


@pytest.mark.slow
def test_a_failed_reading_job_fails_clearly_and_the_previous_index_answers(cluster: None, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.embedding import HashingEmbedder
    from pipeline.facade import open_index
    from pipeline.indexing import build, ray_reading

    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(SEEDS / sorted(os.listdir(SEEDS))[0], docs / "first.txt")
    index = tmp_path / "index"
    build([str(docs)], index, Settings(), HashingEmbedder(32), progress=False)
    generation = os.readlink(index / "current")
    question = _questions()[0]
    before = open_index(index, Settings(), HashingEmbedder(32)).ask(question)

    class Broken(ray_reading.ReadStage):  # defined here, so Ray ships it by value: the workers run it
        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("the worker's disk is gone")

    monkeypatch.setattr(ray_reading, "ReadStage", Broken)
    shutil.copy(SEEDS / sorted(os.listdir(SEEDS))[1], docs / "second.txt")
    with pytest.raises(RayBuildError, match=r"reading on the Ray cluster at 'local' failed .*the index was not changed"):
        build([str(docs)], index, Settings(ray=RAY), HashingEmbedder(32), progress=False)
    assert os.readlink(index / "current") == generation
    after = open_index(index, Settings(), HashingEmbedder(32)).ask(question)
    assert (after.text, after.abstained) == (before.text, before.abstained)


def _read_with(stage: type, docs: Path, index: Path) -> Any:
    """A Ray build of ``docs`` whose reading actors run ``stage`` (a ReadStage defined in a test: Ray ships it by
    value) → its report."""
    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ray_reading, "ReadStage", stage)
        return build([str(docs)], index, Settings(ray=RAY), HashingEmbedder(32), progress=False)


@pytest.mark.slow
def test_a_reading_actor_killed_mid_build_is_restarted_and_the_build_is_the_local_one(cluster: None,
                                                                                        tmp_path: Path) -> None:
    from pipeline.embedding import HashingEmbedder
    from pipeline.indexing import build

    marker = str(tmp_path / "killed")

    class KilledOnce(ray_reading.ReadStage):
        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            try:  # the first batch anywhere: its actor dies by SIGKILL (the OOM killer, a node lost), task unfinished
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return super().__call__(batch)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
            raise AssertionError("unreachable")

    report = _read_with(KilledOnce, SEEDS, tmp_path / "ray")
    here = build([str(SEEDS)], tmp_path / "here", Settings(), HashingEmbedder(32), progress=False)
    assert os.path.exists(marker)  # an actor was killed mid-batch
    assert report.read_on_ray == report.documents == here.documents == 5 and not report.skipped
    _same_index(tmp_path / "ray", tmp_path / "here")


@pytest.mark.slow
def test_reading_actors_that_keep_dying_fail_the_build_clearly(cluster: None, tmp_path: Path) -> None:
    class AlwaysKilled(ray_reading.ReadStage):
        def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
            os.kill(os.getpid(), signal.SIGKILL)
            raise AssertionError("unreachable")

    started = time.monotonic()
    with pytest.raises(RayBuildError, match=r"reading on the Ray cluster at 'local' failed .*the index was not changed"):
        _read_with(AlwaysKilled, SEEDS, tmp_path / "ray")
    assert time.monotonic() - started < 120  # restarts are bounded: no retrying for ever
    assert not (tmp_path / "ray" / "current").exists()


class _Hook:
    """Stands in for the build's progress bar: at the first finished task it does ``act`` once."""

    def __init__(self, act: Any) -> None:
        self.act, self.calls = act, 0

    def update(self, _chars: int) -> None:
        self.calls += 1
        if self.calls == 1:
            self.act()

    def close(self) -> None:
        pass


def _actors() -> list[Any]:
    import ray

    return [ray.get_actor(a["name"], namespace=a["namespace"]) for a in ray.util.list_named_actors(all_namespaces=True)
            if a["name"].startswith(distributed.ACTOR_NAME)]


@pytest.mark.slow
def test_a_crashed_actor_is_restarted_and_the_build_is_the_same(cluster: None, seeds_index: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from pipeline.indexing import build, vectors

    killed: list[int] = []

    def crash_one() -> None:  # SIGKILL an actor's process: Ray restarts it and sends its task again
        _id, pid = ray.get(_actors()[0].ident.remote())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    hook = _Hook(crash_one)
    monkeypatch.setattr(vectors, "char_bar", lambda *_a: hook)
    # One window per task: both actors are busy when the first task finishes, so the crash hits a running task.
    settings = Settings(ray={**RAY, "task_chars": 1}, embedder={"batch_size": 1})
    build([str(SEEDS)], tmp_path / "ix", settings=settings, progress=True)
    assert killed and hook.calls > 2
    _same_index(tmp_path / "ix", seeds_index)


@pytest.mark.slow
def test_a_killed_job_fails_clearly_and_the_previous_index_answers(cluster: None, seeds_index: Path, seeds_copy: Path,
                                                                   tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from pipeline.facade import open_index
    from pipeline.indexing import build, vectors

    index = tmp_path / "index"
    shutil.copytree(seeds_index, index, symlinks=True)
    generation = os.readlink(index / "current")
    question = _questions()[0]
    before = open_index(index).ask(question)
    # Something new to embed, in many tasks (one window each): the first finished one kills the job.
    (seeds_copy / "new.txt").write_text(" ".join(
        f"Die Stadt Beispielstadt {n} hat im Jahr {2000 + n} einen neuen Vertrag über {n * 7} Sensoren geschlossen."
        for n in range(40)), "utf-8")

    def kill_all() -> None:  # for good: no restart, so the job cannot finish
        for actor in _actors():
            ray.kill(actor, no_restart=True)

    monkeypatch.setattr(vectors, "char_bar", lambda *_a: _Hook(kill_all))
    settings = Settings(ray={**RAY, "task_chars": 1}, embedder={"batch_size": 1})
    with pytest.raises(RayBuildError, match=r"Ray cluster at 'local' failed .*the index was not changed"):
        build([str(seeds_copy)], index, settings=settings, progress=True)
    assert os.readlink(index / "current") == generation
    after = open_index(index).ask(question)
    assert (after.text, after.abstained) == (before.text, before.abstained) and not after.abstained
