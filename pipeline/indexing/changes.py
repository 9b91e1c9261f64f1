"""Changes to an index that exists: files added from elsewhere (uploads), documents added or removed,
texts added — each joins the index with its own embedder, so nothing is re-embedded.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from ..embedding import Embedder
from ..manifest import resolve_embedder
from ..settings import Settings
from ..store import (
    IndexReader,
    current_dir,
)
from ..text.sources import load
from ..types import SkippedFile
from .build import build
from .plan import UPLOADS, resolve_path
from .report import BuildReport
from .texts import TextInput


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
            rejected.append(
                SkippedFile(name, f"too large ({size / 1048576:.1f} MB > {settings.sources.max_file_mb:g} MB)")
            )
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


def _existing(
    index_dir: str | os.PathLike[str], settings: Settings, embedder: Embedder | None
) -> tuple[Settings, Embedder | None]:
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
            roots = {resolve_path(r, Path(index_dir)) for r in reader.manifest.roots}
        finally:
            reader.close()
    unknown = [s for s in sources if s not in known and os.path.abspath(s) not in roots]
    if unknown:
        raise KeyError(
            f"not in the index {index_dir}: {', '.join(unknown)} (sources are listed by "
            f"`python -m pipeline sources --index {index_dir}`)"
        )
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
