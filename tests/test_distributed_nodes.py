"""A Ray cluster of two nodes, started as an operator starts one (``ray start --head`` and ``ray start
--address``), and ``belegt build --ray auto`` run against it as a user runs it.

tests/test_distributed.py tests the build on a one-node Ray in the test's own process; here the head,
the worker node and the build are separate processes, so the encoder actors are placed on both nodes
and the build reaches the cluster the way a user's would. Ray's token authentication is switched off
for these processes only (``RAY_AUTH_MODE=disabled``): otherwise ``ray start --head`` writes a token
into the home directory. The cluster's processes are found by its own temporary folder and port and
stopped at the end (``ray stop`` would stop every Ray on the machine).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, SEEDS
from test_distributed import _questions, _same_index

import pipeline
from pipeline.settings import Settings

RAY_BIN = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cluster_processes(marks: tuple[str, ...]) -> list[int]:
    """PIDs of the processes whose command line names one of ``marks`` (the cluster's folder or port), and
    of their descendants: Ray's agents rename their command line ("ray::DashboardAgent") and would be missed."""
    marked: set[int] = set()
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            # /proc/PID/stat: "pid (name) state ppid …"; the name may hold spaces, so split after ")".
            parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if any(m in cmd for m in marks):
            marked.add(int(entry.name))
    grew = True
    while grew:
        more = {pid for pid, ppid in parent.items() if ppid in marked and pid not in marked}
        marked |= more
        grew = bool(more)
    return sorted(marked)


def _stop(marks: tuple[str, ...]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
        for pid in _cluster_processes(marks):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while _cluster_processes(marks) and time.monotonic() < deadline:
            time.sleep(0.2)


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[dict[str, str]]:
    """A head and a worker node on 127.0.0.1, one CPU each → the environment a build needs to reach them."""
    if not RAY_BIN.exists():
        pytest.skip(f"{RAY_BIN} is missing: make install installs Ray (the test extra)")
    # Short: Ray's Unix sockets live under it, and a socket path may not exceed 107 bytes.
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    gcs, client = _free_port(), _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_ADDRESS": f"127.0.0.1:{gcs}", "PYTHONPATH": str(ROOT)}
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats", f"--temp-dir={temp}"]
    marks = (temp, f"--port={client}", f":{gcs}")
    try:
        head = [str(RAY_BIN), "start", "--head", f"--port={gcs}", f"--ray-client-server-port={client}",
                "--include-dashboard=false", "--min-worker-port=24000", "--max-worker-port=24499", *common]
        worker = [str(RAY_BIN), "start", f"--address=127.0.0.1:{gcs}",
                  "--min-worker-port=24500", "--max-worker-port=24999", *common]
        for cmd in (head, worker):
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr[-2000:]
        yield env
    finally:
        _stop(marks)
        left = _cluster_processes(marks)
        assert not left, f"processes of the test's Ray cluster still running: {left}"


def _nodes(env: dict[str, str]) -> list[dict[str, object]]:
    """The cluster's live nodes, asked from a separate driver."""
    script = ("import json, ray; ray.init(address='auto', log_to_driver=False); "
              "print(json.dumps([n['Resources'] for n in ray.nodes() if n['Alive']]))")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.slow
def test_a_build_on_two_nodes_is_the_local_build(two_nodes: dict[str, str], seeds_index: Path,
                                                  tmp_path: Path) -> None:
    nodes = _nodes(two_nodes)
    assert len(nodes) == 2 and all(n.get("CPU") == 1.0 for n in nodes)
    index = tmp_path / "index"
    done = subprocess.run([sys.executable, "-m", "pipeline", "build", str(SEEDS), "--index", str(index),
                           "--ray", "auto", "--quiet"], env=two_nodes, capture_output=True, text=True, cwd=ROOT,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_index(index, seeds_index)  # the same chunks, bit-identical vectors
    ours, theirs = pipeline.open_index(index, Settings()), pipeline.open_index(seeds_index, Settings())
    try:
        for question in _questions():
            a, b = ours.ask(question), theirs.ask(question)
            assert (a.text, a.abstained, [(c.source, c.start, c.end) for c in a.citations]) == (
                b.text, b.abstained, [(c.source, c.start, c.end) for c in b.citations]), question
    finally:
        ours.close()
        theirs.close()
