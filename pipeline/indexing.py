"""Indexing: paths → an up-to-date index directory, touching only what changed.

sources → cleaning → chunking → dedup → embedding → store, for new or changed files;
unchanged files (same bytes, same index settings, same embedder) are carried over with
their vectors; files that are gone are dropped. Chunks whose exact embedding input was
embedded before reuse that vector, and identical inputs are embedded once.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from . import dedup, lexical
from .chunking import chunk_document
from .cleaning import clean
from .embedding import Embedder, embed_batched, make_embedder, pool
from .settings import Settings
from .sources import discover, file_sha256, load
from .store import GenerationWriter, IndexCorrupt, IndexReader, NewChunk, NewSentence, build_lock, current_dir
from .types import Chunk, Document, SkippedFile, content_id


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
        lines.append(f"Texts embedded: {self.embedded} (chunks and sentences, each distinct text once)")
        lines.append(f"Near-duplicate groups: {len(self.duplicate_groups)}")
        for g in self.duplicate_groups:
            lines.append("  - " + " ≈ ".join(g))
        for path, enc in sorted(self.encodings.items()):
            lines.append(f"Decoded {path} as {enc} (not UTF-8)")
        lines.append(f"Files skipped: {len(self.skipped)}")
        for s in self.skipped:
            lines.append(f"  - {s.path}: {s.reason}")
        return "\n".join(lines)


def embed_input(chunk: Chunk, with_context: bool) -> str:
    """A chunk → the exact text its vector is computed from (context first, if enabled)."""
    return f"{chunk.context}\n{chunk.text}" if with_context and chunk.context else chunk.text


def build(
    paths: Sequence[str | os.PathLike[str]],
    index_dir: str | os.PathLike[str],
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
) -> BuildReport:
    """Files and folders → the index at ``index_dir`` brought up to date; returns what was done."""
    settings = settings or Settings()
    embedder = embedder or make_embedder(settings.embedder.model)
    t0 = time.perf_counter()
    with build_lock(index_dir):
        damaged = ""
        try:
            old = IndexReader(current_dir(index_dir)) if current_dir(index_dir) else None  # type: ignore[arg-type]
            if old is not None:
                old.faiss_index  # a damaged FAISS file shows here, not halfway through the build
        except IndexCorrupt as err:
            old, damaged = None, f"the previous index was damaged ({err.what})"
        try:
            report = _build(paths, Path(index_dir), settings, embedder, old, progress, t0)
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
) -> BuildReport:
    shape = settings.index_shape()
    reason = ""
    if old is not None:
        if old.embedder_id != embedder.id:
            reason = f"embedder changed from {old.embedder_id} to {embedder.id}"
        elif old.manifest.get("settings") != shape:
            reason = "index settings changed"
    reusable = old is not None and not reason
    old_sources = old.sources() if old is not None else {}

    found = discover(paths, settings.sources)
    skipped = list(found.skipped)
    keep_ids: list[str] = []
    fresh: list[Document] = []
    added: list[str] = []
    changed: list[str] = []
    encodings: dict[str, str] = {}
    seen_sources: set[str] = set()
    for path in _progress(found.files, "Reading", progress, unit="file"):
        try:
            sha = file_sha256(path)
        except OSError as err:
            skipped.append(SkippedFile(path, f"cannot read: {err.strerror or err}"))
            continue
        previous = old_sources.get(path)
        if reusable and previous and previous[0] == sha:
            keep_ids.append(previous[1])
            seen_sources.add(path)
            continue
        loaded = load(path, settings.sources)
        if isinstance(loaded, SkippedFile):
            skipped.append(loaded)
            continue
        doc = clean(loaded, settings.cleaning)
        if loaded.encoding != "utf-8" or loaded.format == "html":
            if loaded.encoding != "utf-8":
                encodings[path] = loaded.encoding
            text_path = str(index_dir / "current" / "texts" / f"{doc.id}.txt")
            doc = Document(**{**doc.__dict__, "meta": {**doc.meta, "text_path": text_path}})
        fresh.append(doc)
        seen_sources.add(path)
        (changed if previous else added).append(path)
    removed = sorted(s for s in old_sources if s not in seen_sources)

    if old is not None and reusable and not fresh and not removed:
        return _report(index_dir, old_sources, old, skipped, (), (), (), len(keep_ids), 0, 0, encodings, "", True, t0)

    # Chunk every new document, then embed only inputs (chunks and sentences) that no
    # earlier build embedded; identical inputs are embedded once.
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
    pooled = settings.embedder.chunk_vectors == "sentences" and not with_context
    for doc in _progress(fresh, "Chunking", progress, unit="doc"):
        chunks = chunk_document(doc, settings.chunking)
        new_chunks = [NewChunk(c, content_id(embedder.id, "pooled", c.text, length=24) if pooled
                               else key_of(embed_input(c, with_context)),
                               " ".join(lexical.terms(c.text, doc.lang)))
                      for c in chunks]
        spans = sorted({s for c in chunks for s in c.sentences}, key=lambda s: (s.start, s.end))
        new_sentences = [NewSentence(s, key_of(s.slice(doc.text))) for s in spans]
        prepared.append((doc, new_chunks, new_sentences))
    vectors = old.vectors_by_key(list(keys)) if (old is not None and old.embedder_id == embedder.id) else {}
    todo = [k for k in keys if k not in vectors]
    if todo:
        bar = _bar(sum(len(keys[k]) for k in todo), f"Embedding {len(todo)} texts", progress)
        fresh_vecs = embed_batched(embedder, [keys[k] for k in todo], "passage", settings.embedder.batch_size,
                                   progress=bar.update if bar else None)
        if bar:
            bar.close()
        vectors.update(zip(todo, fresh_vecs))
    if pooled:
        for doc, new_chunks, new_sentences in prepared:
            sentence_key = {s.span: s.embed_key for s in new_sentences}
            for c in new_chunks:
                parts = c.chunk.sentences
                vectors[c.embed_key] = pool(np.stack([vectors[sentence_key[s]] for s in parts]))

    def stack(items: Sequence[NewChunk] | Sequence[NewSentence]) -> np.ndarray:
        if not items:
            return np.zeros((0, embedder.dim), np.float32)
        return np.stack([vectors[i.embed_key] for i in items])

    writer = GenerationWriter(index_dir, embedder.dim)
    try:
        if old is not None and keep_ids:
            writer.copy_documents(old, keep_ids)
        for doc, new_chunks, new_sentences in prepared:
            kept_text = "\n".join(s.slice(doc.text) for s in doc.kept)
            writer.add_document(doc, dedup.signature(kept_text, settings.dedup), new_chunks, stack(new_chunks),
                                new_sentences, stack(new_sentences))
        groups = dedup.group(writer.kept_texts(), writer.signatures(), settings.dedup)
        writer.set_duplicate_groups(dedup.group_ids(groups))
        manifest = {
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "embedder": {"id": embedder.id, "dim": embedder.dim, "spec": getattr(embedder, "spec", settings.embedder.model)},
            "settings": shape,
            "roots": [os.fspath(p) for p in paths],
            "sources": {},  # filled below from the written documents
            "duplicate_groups": [list(g) for g in groups],
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
        }
        manifest["sources"] = {s: h for s, h in writer.db.execute("SELECT source, sha256 FROM documents ORDER BY source")}
        manifest["counts"] = {
            "documents": len(manifest["sources"]),
            "chunks": writer.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0],
        }
        writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    new = IndexReader.open(index_dir)
    try:
        todo_set = set(todo)
        # A chunk counts as embedded when its vector needed the encoder in this build: its own
        # text (encoded chunks) or one of its sentences (pooled chunks).
        sentence_keys = {(doc.id, s.span): s.embed_key for doc, _, ss in prepared for s in ss}
        chunks_embedded = sum(
            1 for doc, cs, _ in prepared for c in cs
            if (any(sentence_keys[(doc.id, s)] in todo_set for s in c.chunk.sentences) if pooled
                else c.embed_key in todo_set)
        )
        return _report(index_dir, new.sources(), new, skipped, added, changed, removed, len(keep_ids), len(todo),
                       chunks_embedded, encodings, reason, False, t0)
    finally:
        new.close()


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
) -> BuildReport:
    id_to_source = {d: s for s, (_, d) in sources.items()}
    groups = tuple(sorted(tuple(sorted(id_to_source.get(d, d) for d in g)) for g in reader.manifest.get("duplicate_groups", [])))
    chunks = int(reader.manifest.get("counts", {}).get("chunks", 0))
    return BuildReport(
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

    Each file is checked first (type, size); rejected ones are returned with a reason and
    not copied. The index's earlier roots stay, so nothing indexed before is lost.
    """
    settings = settings or Settings()
    folder = Path(index_dir) / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    rejected: list[SkippedFile] = []
    limit = settings.sources.max_file_mb * 1024 * 1024
    for given in files:
        src = Path(given)
        name = safe_name(src.name)
        if not name.lower().endswith(tuple(settings.sources.extensions)):
            rejected.append(SkippedFile(src.name, f"unsupported type; upload {', '.join(settings.sources.extensions)}"))
            continue
        try:
            size = src.stat().st_size
        except OSError as err:
            rejected.append(SkippedFile(src.name, f"cannot read: {err.strerror or err}"))
            continue
        if size > limit:
            rejected.append(SkippedFile(src.name, f"too large ({size / 1048576:.1f} MB > {settings.sources.max_file_mb:g} MB)"))
            continue
        dst = folder / name
        n = 2
        while dst.exists() and dst.read_bytes() != src.read_bytes():
            dst = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        shutil.copyfile(src, dst)
    roots: list[str] = []
    if current_dir(index_dir):
        reader = IndexReader.open(index_dir)
        roots = list(reader.manifest.get("roots", []))
        # Uploads join the index as it is: same embedder, so nothing is re-embedded.
        embedder = embedder or make_embedder(reader.manifest["embedder"].get("spec", settings.embedder.model))
        reader.close()
    if str(folder) not in roots:
        roots.append(str(folder))
    return build(roots, index_dir, settings, embedder, progress), tuple(rejected)
