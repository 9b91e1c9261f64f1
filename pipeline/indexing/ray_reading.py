"""Reading on a Ray cluster: a build's fresh files → what ``BudgetedReader`` makes of each on this machine
(``ReadFile`` or ``SkippedFile``), read, cleaned and chunked by a Ray Data pipeline.

The build decides here which files are new or changed (``gather.read_files``: hash against the index); only
those go to Ray. Their bytes travel in the dataset (``ray.data.from_items``: one row per file, its index,
name, source and bytes), so the workers need no shared folder. One ``map_batches`` stage, a callable class
run by a pool of Ray actors, writes each file under its own name in a temporary folder and reads it with a
``BudgetedReader``: the code a local build runs, with the same per-file time limit (its worker comes from a
forkserver on Ray, pipeline/text/reading.py), so a file that fails or hangs is skipped with the local
build's reason and the others go on. Reading, cleaning and chunking stay one stage because the time limit
holds for all three together, as locally. Results come back as Python objects in a column (Ray moves them
with its own serialiser, as it does every actor's result) and are put in input order.

A file over ``sources.max_file_mb`` is not shipped: it is skipped here, by the same code, with the same reason.
Ray is imported inside functions only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from typing import Any

from ..settings import Settings
from ..text.reading import BudgetedReader, ReadFile, read_file
from ..types import SkippedFile
from .distributed import RayBuildError, connect

Read = ReadFile | SkippedFile


class ReadStage:
    """One Ray Data actor's state: a ``BudgetedReader`` (its worker process kept for all the actor's batches)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = BudgetedReader(settings)
        self.folder = tempfile.mkdtemp(prefix="belegt-read-")

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        """A batch of files (columns i, name, source, data) → columns i, result (a ``ReadFile`` or
        ``SkippedFile`` each)."""
        import numpy as np

        results = np.empty(len(batch["i"]), dtype=object)
        for k, (name, source, data) in enumerate(zip(batch["name"], batch["source"], batch["data"], strict=True)):
            results[k] = self.read_one(str(name), str(source), bytes(data))
        # The reader's worker is kept for the next batch (starting one costs ~0.2 s: it loads the language and
        # sentence models). It cannot hang this actor's exit: it is killed, never waited for (BudgetedReader).
        return {"i": batch["i"], "result": results}

    def __del__(self) -> None:
        # Ray Data drops the stage when its actor ends gracefully (else the reader's finalizer stops its worker at exit).
        if hasattr(self, "reader"):
            self.reader.close()
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)

    def read_one(self, name: str, source: str, data: bytes) -> Read:
        """A file's name, source and bytes → what reading it here makes of it (never raises)."""
        path = os.path.join(self.folder, name)
        try:
            with open(path, "wb") as f:
                f.write(data)
            return self.reader.read(path, source)
        except OSError as err:
            return SkippedFile(source, f"cannot read on the Ray worker: {err.strerror or err}")
        finally:
            if os.path.exists(path):
                os.remove(path)


def read_on_ray(files: Sequence[tuple[str, str]], settings: Settings, progress: bool = False) -> tuple[list[Read], int]:
    """Files as (path here, source) → (what reading each makes of it, in input order; how many were read on Ray).

    Raises ``RayBuildError`` when the cluster cannot be reached or the job fails (the index is then not changed).
    """
    address = settings.ray.address or "local"
    out: list[Read | None] = [None] * len(files)
    rows = []
    limit = int(settings.sources.max_file_mb * 1024 * 1024)
    for i, (path, source) in enumerate(files):
        data = _bytes_of(path, limit)
        if data is None:  # too large or unreadable: the local code says why, without reading it
            out[i] = read_file(path, source, settings)
        else:
            rows.append({"i": i, "name": os.path.basename(path), "source": source, "data": data})
    if rows:
        for i, read in _run(rows, settings, address, progress):
            out[i] = read
    return [r if r is not None else SkippedFile(files[n][1], "not read") for n, r in enumerate(out)], len(rows)


def _bytes_of(path: str, limit: int) -> bytes | None:
    """A file → its bytes, or None when it is over ``limit`` bytes or cannot be read here."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def _run(rows: list[dict[str, Any]], settings: Settings, address: str, progress: bool) -> list[tuple[int, Read]]:
    """Rows of files → (row index, what was read) from a Ray Data pipeline on the cluster at ``address``; Ray
    Data's progress across the cluster shown when ``progress``, its log lines only when they are errors otherwise."""
    connect(address)
    import logging

    import ray

    logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.ERROR)
    ray.data.DataContext.get_current().enable_progress_bars = progress

    cpus = int(ray.cluster_resources().get("CPU", 1))  # type: ignore[no-untyped-call]
    actors = max(1, min(len(rows), settings.ray.workers or cpus))
    try:
        with warnings.catch_warnings():
            # max_restarts and max_task_retries reach the actors as ``ray_remote_args``, which Ray 2.60 calls
            # deprecated (to go in 2.64; constraints.txt pins 2.60) and has no named parameter for yet.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
            ds = ray.data.from_items(rows).map_batches(
                ReadStage,
                fn_constructor_kwargs={"settings": settings},
                # Files a task: at most 8, so that every actor gets some and a slow file holds up few (each actor
                # keeps its reader's worker across tasks: a small task starts no new one).
                batch_size=max(1, min(8, -(-len(rows) // actors))),
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=1,
                # An actor killed mid-build (the OOM killer, a lost node) is started again and its batch sent again,
                # as the encoder actors are (distributed.py); bounded, where Ray Data's default retries for ever:
                # actors that keep dying end in RayBuildError instead of a build that never ends.
                max_restarts=2,
                max_task_retries=2,
            )
        got = ds.take_all()
    except Exception as err:  # a lost worker or cluster: Ray Data raises several kinds here
        raise RayBuildError(
            f"reading on the Ray cluster at {address!r} failed ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "the index was not changed. Check the cluster (ray status), then build again, or build without --ray"
        ) from err
    return sorted(((int(r["i"]), r["result"]) for r in got), key=lambda x: x[0])
