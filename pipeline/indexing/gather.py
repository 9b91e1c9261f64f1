"""Gathering what a build has to do: the files under the roots and the texts given, each kept as it is
(same hash, reusable index) or read anew; what is gone.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from ..settings import Settings
from ..store import (
    IndexReader,
)
from ..text.reading import BudgetedReader, ReadFile
from ..text.sources import LAID_OUT, discover, file_sha256
from ..types import Chunk, Document, SkippedFile
from .plan import RootPlan, display_path, is_under, plan_roots, refuse_mass_removal
from .texts import TEXT_SOURCE, TextInput, text_document


@dataclass(frozen=True)
class Gathered:
    """What a build found to do: documents kept as they are (ids), documents to (re)index, and what to report."""

    plan: RootPlan
    excluded: frozenset[str]
    skipped: tuple[SkippedFile, ...]
    keep_ids: tuple[str, ...]
    fresh: tuple[Document, ...]
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    encodings: dict[str, str]
    paths_of: dict[str, str]  # file source → its absolute path (the manifest's "paths")
    chunked: dict[str, tuple[Chunk, ...]]  # doc id → chunks made while reading (under the time budget)
    read_on_ray: int = 0  # files read, cleaned and chunked on the Ray cluster


def gather(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: Path,
    settings: Settings,
    old: IndexReader | None,
    reusable: bool,
    progress: bool,
    texts: Sequence[TextInput],
    remove: Sequence[str],
    include: Sequence[str],
    prune: bool,
    keep_roots: bool,
) -> Gathered:
    """The paths and texts given + the index as it is → what is kept, what is read anew, what is gone.

    A file whose hash is unchanged keeps its document (``keep_ids``) when the index can be reused;
    every other file is read (in a worker, under a time budget) into ``fresh``.
    """
    old_sources = old.sources() if old is not None else {}
    plan = plan_roots(paths, index_dir, old, remove, prune, keep_roots)
    old_paths = plan.old_paths
    by_path = {p: src for src, p in old_paths.items()}
    # Files removed by hand stay out until they are given again.
    include_abs = {os.path.abspath(os.fspath(p)) for p in include}
    excluded = set(old.manifest.excluded) if old is not None else set()
    excluded |= {r for r in remove if r in old_paths}  # files; a removed root is simply no longer walked
    # A source given again is wanted again: by its source string or by where it lies.
    excluded = {e for e in excluded if old_paths.get(e, os.path.abspath(e)) not in include_abs}
    found = discover(plan.walk, settings.sources, ignore=[index_dir])
    skipped = list(found.skipped)
    skipped += [
        SkippedFile(
            r,
            f"not found; its {n} document{'s' if n != 1 else ''} stay in the index (build with --prune to remove them)",
        )
        for r, n in plan.kept_missing.items()
    ]
    files = read_files(found.files, paths, by_path, excluded, old_sources, reusable, settings, index_dir, progress)
    skipped += files.skipped
    keep_ids, fresh, added, changed = files.keep_ids, files.fresh, files.added, files.changed
    encodings, seen_sources, paths_of, chunked = files.encodings, files.seen, files.paths_of, files.chunked
    # Documents under a recorded root that is not found (an unmounted drive, a folder run
    # from elsewhere) stay as they are: nothing is removed without --prune.
    for source in plan.kept_sources:
        if source in seen_sources or source not in old_sources:
            continue
        seen_sources.add(source)
        paths_of[source] = old_paths[source]
        if reusable:
            keep_ids.append(old_sources[source][1])
        else:
            # old is set: old_sources is empty without it, and this source is one of them.
            fresh.append(old.document(old_sources[source][1]))  # type: ignore[union-attr]
    more = gather_texts(texts, old, old_sources, reusable, remove)
    keep_ids += more.keep_ids
    fresh += more.fresh
    added += more.added
    changed += more.changed
    seen_sources |= more.seen
    removed = sorted(s for s in old_sources if s not in seen_sources)
    present = {str(d.meta.get("sha256", "")) for d in fresh} | {
        old_sources[s][0] for s in seen_sources if s in old_sources
    }
    refuse_mass_removal(index_dir, old_sources, removed, remove, plan, prune, present)

    return Gathered(
        plan,
        frozenset(excluded),
        tuple(skipped),
        tuple(keep_ids),
        tuple(fresh),
        tuple(added),
        tuple(changed),
        tuple(removed),
        encodings,
        paths_of,
        chunked,
        files.read_on_ray,
    )


@dataclass(frozen=True)
class FilesRead:
    skipped: list[SkippedFile]
    keep_ids: list[str]
    fresh: list[Document]
    added: list[str]
    changed: list[str]
    encodings: dict[str, str]
    seen: set[str]
    paths_of: dict[str, str]  # file source → its absolute path (the manifest's "paths")
    chunked: dict[str, tuple[Chunk, ...]]  # doc id → chunks made while reading (under the time budget)
    read_on_ray: int = 0  # files read, cleaned and chunked on the Ray cluster


@dataclass(frozen=True)
class _ToRead:
    """A file to read anew: where it is, the source it is indexed under, whether it was indexed before."""

    found_path: str
    path: str
    absolute: str
    previous: bool


def read_files(
    found_files: Sequence[str],
    paths: Sequence[str | os.PathLike[str]],
    by_path: dict[str, str],
    excluded: set[str],
    old_sources: dict[str, tuple[str, str]],
    reusable: bool,
    settings: Settings,
    index_dir: Path,
    progress: bool,
) -> FilesRead:
    """The files found under the roots → each one kept (same hash, reusable index), read anew (in a worker,
    under a time budget; on the Ray cluster when ``settings.ray.address`` is set) or skipped with its reason."""
    out = FilesRead([], [], [], [], [], {}, set(), {}, {})
    given_abs = [os.path.abspath(os.fspath(p)) for p in paths]  # their files keep the form given
    # In the order found: a reason to skip, a document kept, or a file to read (read below, all at once on Ray).
    steps: list[SkippedFile | _ToRead] = []
    claimed: set[str] = set()
    for found_path in found_files:
        absolute = os.path.abspath(found_path)
        # A file indexed before keeps the source it was indexed under (its citations and ids stay);
        # a new one under a recorded (absolute) root is named relative to here when it lies below.
        path = by_path.get(absolute) or (
            display_path(absolute) if not any(is_under(absolute, g) for g in given_abs) else found_path
        )
        if path in excluded or path in out.seen or path in claimed:
            continue
        try:
            sha = file_sha256(found_path, limit=int(settings.sources.max_file_mb * 1024 * 1024) + 1)
        except OSError as err:
            steps.append(SkippedFile(path, f"cannot read: {err.strerror or err}"))
            continue
        previous = old_sources.get(path)
        if reusable and previous and previous[0] == sha:
            out.keep_ids.append(previous[1])
            out.seen.add(path)
            out.paths_of[path] = absolute
            continue
        claimed.add(path)
        steps.append(_ToRead(found_path, path, absolute, previous is not None))
    todo = [s for s in steps if isinstance(s, _ToRead)]
    reads, on_ray = _read_all(todo, settings, progress)
    read_of = dict(zip(map(id, todo), reads, strict=True))
    for step in steps:
        if isinstance(step, SkippedFile):
            out.skipped.append(step)
        elif isinstance(step, _ToRead):
            _add_read(out, step, read_of[id(step)], index_dir)
    return replace(out, read_on_ray=on_ray)


def _read_all(todo: Sequence[_ToRead], settings: Settings, progress: bool) -> tuple[list[ReadFile | SkippedFile], int]:
    """Files to read → what reading each makes of it, in order (and how many were read on Ray): on the Ray cluster
    when an address is set, else one by one in a worker here."""
    if settings.ray.address and todo:
        from .ray_reading import read_on_ray

        return read_on_ray([(t.found_path, t.path) for t in todo], settings, progress)
    reader = BudgetedReader(settings, show_progress=progress)
    try:
        return [reader.read(t.found_path, t.path) for t in progress_of(todo, "Reading", progress, unit="file")], 0
    finally:
        reader.close()  # the worker process ends here, also when the build fails


def _add_read(out: FilesRead, step: _ToRead, read: ReadFile | SkippedFile, index_dir: Path) -> None:
    """A file read anew → its document, chunks, encoding and status added to ``out`` (or its skip reason)."""
    if isinstance(read, SkippedFile):
        out.skipped.append(read)
        return
    path, doc = step.path, read.doc
    if read.encoding != "utf-8" or read.format not in ("text", "markdown"):
        # A PDF, Office file or scan is reported only when OCR read it or some of it was not read.
        if read.encoding != "utf-8" and (read.format not in LAID_OUT.values() or "OCR" in read.encoding):
            out.encodings[path] = read.encoding
        text_path = str(index_dir / "current" / "texts" / f"{doc.id}.txt")
        doc = Document(**{**doc.__dict__, "meta": {**doc.meta, "text_path": text_path}})
    # When this version of the file was read (the chat's Documents tab shows it; carried over after).
    doc = Document(**{**doc.__dict__, "meta": {**doc.meta, "indexed": time.strftime("%Y-%m-%d %H:%M")}})
    out.chunked[doc.id] = read.chunks
    out.fresh.append(doc)
    out.seen.add(path)
    out.paths_of[path] = step.absolute
    (out.changed if step.previous else out.added).append(path)


@dataclass(frozen=True)
class TextsGathered:
    keep_ids: list[str]
    fresh: list[Document]
    added: list[str]
    changed: list[str]
    seen: set[str]


def gather_texts(
    texts: Sequence[TextInput],
    old: IndexReader | None,
    old_sources: dict[str, tuple[str, str]],
    reusable: bool,
    remove: Sequence[str],
) -> TextsGathered:
    """Texts given directly: the ones given now, then earlier ones carried over (re-embedded from their stored
    text when the embedder or settings changed) unless removed → what is kept, read anew, added, changed."""
    out = TextsGathered([], [], [], [], set())
    dropped = set(remove)
    for item in texts:
        doc = text_document(item)
        previous = old_sources.get(doc.source)
        out.seen.add(doc.source)
        if reusable and previous and previous[0] == doc.meta["sha256"]:
            out.keep_ids.append(previous[1])
            continue
        out.fresh.append(doc)
        (out.changed if previous else out.added).append(doc.source)
    for source, (_, doc_id) in old_sources.items():
        if source.startswith(TEXT_SOURCE) and source not in out.seen and source not in dropped:
            out.seen.add(source)
            if reusable:
                out.keep_ids.append(doc_id)
            elif old is not None:
                out.fresh.append(old.document(doc_id))
    return out


_T = TypeVar("_T")


def progress_of(items: Sequence[_T], desc: str, enabled: bool, unit: str) -> Iterable[_T]:
    """Items → the same items, behind a tqdm progress bar on stderr when enabled and there are 50 or more."""
    if not enabled or len(items) < 50:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
