"""Reading on Ray against reading here: N generated articles → seconds to read, clean and chunk them with
``BudgetedReader`` in this process's worker, and with ``read_on_ray`` (Ray Data, reading actors) on a Ray started
here; both must give the same chunks.

    .venv/bin/python benchmarks/ray_reading.py --docs 1250 --workers 2

Ray's start-up is timed apart (a running cluster costs none); the Ray figure includes starting the Ray Data
job, its actors and their readers' workers, and shipping the files' bytes. No embedding.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus_gen import write_files  # noqa: E402

from pipeline.settings import Settings  # noqa: E402
from pipeline.text.reading import BudgetedReader, ReadFile  # noqa: E402


def chunk_texts(reads: list) -> list[tuple[str, ...]]:  # type: ignore[type-arg]
    """Reads → each file's chunk texts (a skipped file: its reason)."""
    return [tuple(c.text for c in r.chunks) if isinstance(r, ReadFile) else (r.reason,) for r in reads]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--docs", type=int, default=1250, help="generated articles")
    p.add_argument("--workers", type=int, default=2, help="reading actors on Ray")
    p.add_argument("--no-local", action="store_true", help="time the Ray reading only")
    args = p.parse_args()

    import ray

    from pipeline.indexing.ray_reading import read_on_ray

    work = Path(tempfile.mkdtemp(prefix="ray-read-bench-"))
    try:
        paths = write_files(work / "corpus", args.docs)
        files = [(str(f), f.name) for f in paths]
        local = None
        if not args.no_local:
            t = time.perf_counter()
            with BudgetedReader(Settings()) as reader:
                local = [reader.read(path, source) for path, source in files]
            local_s = time.perf_counter() - t
            print(f"local (one forked worker): {local_s:.1f} s, {args.docs / local_s:.1f} files/s", flush=True)
        t = time.perf_counter()
        ray.init(address="local", num_cpus=args.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False)
        print(f"Ray start-up: {time.perf_counter() - t:.1f} s", flush=True)
        try:
            t = time.perf_counter()
            reads, on_ray = read_on_ray(files, Settings(ray={"address": "local", "workers": args.workers}))
            ray_s = time.perf_counter() - t
        finally:
            ray.shutdown()
        assert on_ray == args.docs
        print(f"Ray, {args.workers} reading actors: {ray_s:.1f} s, {args.docs / ray_s:.1f} files/s; "
              f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        if local is not None:
            print("same chunks as local:", chunk_texts(reads) == chunk_texts(local))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
