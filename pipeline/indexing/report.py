"""What a build did, for the user: ``BuildReport`` and how it is made from the new generation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..store import (
    IndexReader,
)
from ..text.sources import LAID_OUT
from ..types import SkippedFile


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
    read_on_ray: int = 0  # files read, cleaned and chunked on the Ray cluster (settings.ray.address)

    def summary(self) -> str:
        """The report → the lines printed by ``build``."""
        lines = []
        if self.up_to_date:
            lines.append(f"Index {self.index_dir} is up to date: nothing changed, nothing embedded.")
        else:
            lines.append(f"Built {self.index_dir} in {self.seconds:.1f} s.")
        if self.full_rebuild_reason:
            lines.append(f"Full rebuild: {self.full_rebuild_reason}.")
        lines.append(
            f"Documents: {self.documents} ({len(self.added)} new, {len(self.changed)} changed, "
            f"{len(self.removed)} removed, {self.unchanged} unchanged)"
        )
        lines.append(
            f"Chunks: {self.chunks} ({self.chunks_embedded} embedded, "
            f"{self.chunks - self.chunks_embedded} carried over or reused)"
        )
        if self.vectors == "late":
            lines.append(
                f"Texts embedded: {self.embedded} (windows of consecutive sentences, one pass each for "
                "chunk and sentence vectors)"
            )
        else:
            lines.append(f"Texts embedded: {self.embedded} (chunks and sentences, each distinct text once)")
        if self.vectors_note:
            lines.append(self.vectors_note)
        if self.read_on_ray:
            lines.append(f"Read, cleaned and chunked on the Ray cluster: {self.read_on_ray} files")
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


def build_report(
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
    read_on_ray: int = 0,
) -> BuildReport:
    id_to_source = {d: s for s, (_, d) in sources.items()}
    groups = tuple(sorted(tuple(sorted(id_to_source.get(d, d) for d in g)) for g in reader.manifest.duplicate_groups))
    chunks = reader.manifest.chunks
    return BuildReport(
        vectors=reader.manifest.embedder.vectors,
        vectors_note=vectors_note,
        read_on_ray=read_on_ray,
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
