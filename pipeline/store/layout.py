"""The index directory's generations: which one is live, the build lock, and clearing what is stale.

``DIR/current`` is a symlink to the live ``gen-…`` folder; a build writes a new generation and
swaps the link with ``rename`` (``GenerationWriter.commit``), holding ``DIR/.lock`` meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from ..manifest import IndexManifest
from .errors import IndexBusy, manifest_or_salvage

FORMAT_VERSION = 1
CURRENT = "current"


def current_dir(index_dir: str | os.PathLike[str]) -> Path | None:
    """An index directory → its live generation folder, or None if nothing was built yet."""
    link = Path(index_dir) / CURRENT
    if not link.exists():
        return None
    return link.resolve()


@contextlib.contextmanager
def build_lock(
    index_dir: str | os.PathLike[str], wait: bool = False, waiting: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold the index's build lock. A second concurrent build fails at once with a message
    (IndexBusy), or with ``wait`` blocks until the first is done (``waiting`` is told who it waits for).

    An ``flock`` belongs to the open file: the kernel drops it when its process dies, even by
    SIGKILL, so a killed build never leaves a lock behind.
    """
    Path(index_dir).mkdir(parents=True, exist_ok=True)
    path = Path(index_dir) / ".lock"
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            f.seek(0)
            holder = f.read().strip() or "unknown process"
            if not wait:
                raise IndexBusy(
                    f"another build is running on {index_dir} ({holder}); wait for it to finish, then run the "
                    "build again (or pass --wait to queue behind it)"
                ) from err
            if waiting:
                waiting(f"waiting for the build running on {index_dir} ({holder}) to finish …")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}")
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_generations(index_dir: str | os.PathLike[str]) -> None:
    """Delete every generation except the live one, and what a killed build left behind: a
    half-written ``gen-….tmp``, a finished generation that never became current, a
    ``.current.…`` link that was never swapped in.

    Callers hold the build lock, so no other build is writing any of these. Readers that
    still have a deleted generation open keep reading it (see ``IndexReader``).
    """
    live = current_dir(index_dir)
    for path in Path(index_dir).glob("gen-*"):
        if live is None or path.resolve() != live:
            shutil.rmtree(path, ignore_errors=True)
    for link in Path(index_dir).glob(f".{CURRENT}.*"):
        with contextlib.suppress(FileNotFoundError):
            link.unlink()


def read_manifest(index_dir: str | os.PathLike[str]) -> IndexManifest:
    """An index directory → its live generation's manifest, without checking any other file (a
    damaged index still tells ``build`` its roots and embedder); from a damaged manifest what
    can be salvaged (``roots``, ``embedder.spec``; ``salvaged`` set); an empty one when there is no index."""
    gen = current_dir(index_dir)
    if gen is None:
        return IndexManifest()
    raw, readable = manifest_or_salvage(gen)
    try:
        return IndexManifest.from_json(raw, salvaged=not readable)
    except (KeyError, TypeError, ValueError):  # parsed, but edited: what it says of roots and embedder
        try:
            return IndexManifest.from_json(raw, salvaged=True)
        except (KeyError, TypeError, ValueError):
            return IndexManifest(salvaged=True)
