"""Store: the index directory — documents, chunks and vectors on disk, read and written safely.

Layout of an index directory ``DIR`` (see ``index/README.md``)::

    DIR/current -> gen-…          symlink to the live generation, swapped atomically
    DIR/gen-…/manifest.json       format version, embedder id + dim, settings, source hashes
    DIR/gen-…/index.sqlite3       documents, chunks, MinHash signatures, near-duplicate groups
    DIR/gen-…/vectors.npy         float32 (n_chunks, dim), row i = chunk row i
    DIR/gen-…/vectors.faiss       FAISS index over the same rows: exact while small, IVF/HNSW-SQ8
                                  when large (``vectors``; what was built is in the manifest)
    DIR/gen-…/sentence_vectors.npy  float32 (n_sentences, dim), for choosing what to cite
    DIR/gen-…/texts/<doc>.txt     decoded text of files that are not plain UTF-8 (HTML, Latin-1 …)
    DIR/.lock                     held by a running build
    DIR/milvus.db/                Milvus Lite's folder (``store.kind = "milvus"`` without ``milvus_uri``)

A build writes a complete new generation and then replaces the ``current`` symlink with
``rename``: a reader sees the old index or the new one, never half of one. No pickle:
JSON, SQLite, ``.npy`` loaded with ``allow_pickle=False`` and FAISS's own format.

Damage (a disk error, a file cut short, edited or replaced): the manifest lists every file of
the generation with its size, its SHA-256 and the SHA-256 of its first 4 KiB. Opening checks
sizes, those first bytes and the headers (NumPy, SQLite, FAISS) — milliseconds at any size;
``check_generation`` reads every byte (``python -m pipeline check``; a build runs it before
trusting the old generation). Damage found at any point is an ``IndexCorrupt`` naming the file
and the command that rebuilds the index.

Modules, lowest first: ``errors`` (what can be wrong, the repair command), ``layout``
(generations, ``current``, the build lock), ``schema`` (the SQLite tables and their rows),
``checks`` (file checks: cheap on open, full on demand), ``vectors`` (FAISS over
``vectors.npy``), ``bm25`` (the BM25 matrix), ``rows`` (vector rows read and written),
``reader`` (``IndexReader``), ``integrity`` (``python -m pipeline check``), ``writer``
(``GenerationWriter``), ``milvus`` (``store.kind = "milvus"``: chunks, and with ``store.milvus_sentences``
sentence vectors, mirrored to Milvus collections, candidates searched there; imported only by the modules that
open readers and builds, not here).
"""

from .checks import HASH, HEAD_BYTES, file_entry
from .errors import (
    EmbedderMismatch,
    IndexBusy,
    IndexCorrupt,
    IndexError_,
    IndexMissing,
    IndexProblem,
    repair_command,
)
from .integrity import CheckReport, check_generation, check_index, verify_generation
from .layout import CURRENT, FORMAT_VERSION, build_lock, current_dir, read_manifest, remove_stale_generations
from .reader import IndexReader
from .rows import UNIT_TOLERANCE, RowDamage
from .schema import SCHEMA, Location, NewChunk, NewSentence, merge_line_boxes
from .writer import GenerationWriter

__all__ = [
    "CURRENT",
    "FORMAT_VERSION",
    "HASH",
    "HEAD_BYTES",
    "SCHEMA",
    "UNIT_TOLERANCE",
    "CheckReport",
    "EmbedderMismatch",
    "GenerationWriter",
    "IndexBusy",
    "IndexCorrupt",
    "IndexError_",
    "IndexMissing",
    "IndexProblem",
    "IndexReader",
    "Location",
    "NewChunk",
    "NewSentence",
    "RowDamage",
    "build_lock",
    "check_generation",
    "check_index",
    "current_dir",
    "file_entry",
    "merge_line_boxes",
    "read_manifest",
    "remove_stale_generations",
    "repair_command",
    "verify_generation",
]
