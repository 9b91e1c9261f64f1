"""Store: the index directory — documents, chunks and vectors on disk, read and written safely.

Layout of an index directory ``DIR`` (see ``index/README.md``)::

    DIR/current -> gen-…          symlink to the live generation, swapped atomically
    DIR/gen-…/manifest.json       format version, embedder id + dim, settings, source hashes
    DIR/gen-…/index.sqlite3       documents, chunks, MinHash signatures, near-duplicate groups
    DIR/gen-…/vectors.npy         float32 (n_chunks, dim), row i = chunk row i
    DIR/gen-…/vectors.faiss       FAISS index over the same rows: exact while small, IVF/HNSW-SQ8
                                  when large (``vectorindex``; what was built is in the manifest)
    DIR/gen-…/sentence_vectors.npy  float32 (n_sentences, dim), for choosing what to cite
    DIR/gen-…/texts/<doc>.txt     decoded text of files that are not plain UTF-8 (HTML, Latin-1 …)
    DIR/.lock                     held by a running build

A build writes a complete new generation and then replaces the ``current`` symlink with
``rename``: a reader sees the old index or the new one, never half of one. No pickle:
JSON, SQLite, ``.npy`` loaded with ``allow_pickle=False`` and FAISS's own format.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import lexical, lexicalindex, vectorindex
from .settings import VectorIndexSettings
from .types import Chunk, Document, Span

FORMAT_VERSION = 1
CURRENT = "current"

SCHEMA = """
CREATE TABLE documents (
    id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE, sha256 TEXT NOT NULL,
    title TEXT, date TEXT, lang TEXT, text TEXT NOT NULL, kept TEXT NOT NULL,
    meta TEXT NOT NULL, minhash BLOB, dup_group TEXT
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL, doc_id TEXT NOT NULL REFERENCES documents(id),
    start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL, context TEXT NOT NULL,
    sentences TEXT NOT NULL, embed_key TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX chunks_key ON chunks(embed_key);
CREATE TABLE sentences (
    row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    embed_key TEXT NOT NULL
);
CREATE INDEX sentences_span ON sentences(doc_id, start, "end");
CREATE INDEX sentences_key ON sentences(embed_key);
CREATE VIRTUAL TABLE lexical USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
"""



def _write_term_df(db: sqlite3.Connection, schema: str) -> None:
    """Chunks per term, from FTS5's own statistics (one pass over the index) → table ``<schema>.term_df``."""
    db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.lexical_vocab USING fts5vocab(main, 'lexical', 'row')")
    db.execute(f"CREATE TABLE {schema}.term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID")
    db.execute(f"INSERT INTO {schema}.term_df SELECT term, doc FROM temp.lexical_vocab")


class IndexError_(RuntimeError):
    """The index cannot be used as it is; the message says what to run."""


class IndexMissing(IndexError_):
    pass


class EmbedderMismatch(IndexError_):
    pass


class IndexBusy(IndexError_):
    pass


class IndexCorrupt(IndexError_):
    """A file of the index is missing, truncated or edited; ``what`` says which and how."""

    def __init__(self, gen_dir: Path, what: str, roots: Sequence[str] = ()) -> None:
        self.what = what
        index_dir = gen_dir.parent
        super().__init__(
            f"the index in {index_dir} is damaged: {what}. Nothing was answered from it. Rebuild it: "
            f"python -m pipeline build {' '.join(roots) or 'SOURCES'} --index {index_dir}"
        )


@dataclass(frozen=True)
class NewChunk:
    """A chunk to write: the key of the exact text embedded for it, and its lexical terms."""

    chunk: Chunk
    embed_key: str
    terms: str


@dataclass(frozen=True)
class NewSentence:
    """A sentence span of a document and the key of its embedded text."""

    span: Span
    embed_key: str


def current_dir(index_dir: str | os.PathLike[str]) -> Path | None:
    """An index directory → its live generation folder, or None if nothing was built yet."""
    link = Path(index_dir) / CURRENT
    if not link.exists():
        return None
    return link.resolve()


@contextlib.contextmanager
def build_lock(index_dir: str | os.PathLike[str], wait: bool = False,
               waiting: Callable[[str], None] | None = None) -> Iterator[None]:
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


class IndexReader:
    """A read-only view of one generation: manifest, documents, chunks, vectors, FAISS."""

    def __init__(self, gen_dir: Path) -> None:
        self.dir = gen_dir
        try:
            self.manifest: dict[str, Any] = json.loads((gen_dir / "manifest.json").read_text("utf-8"))
            roots = [str(r) for r in self.manifest.get("roots", [])]
            dim = int(self.manifest["embedder"]["dim"])
            n_chunks = int(self.manifest["counts"]["chunks"])
            str(self.manifest["embedder"]["id"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(gen_dir, f"manifest.json is unreadable or edited ({type(err).__name__}: {err})") from err
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexError_(
                f"{gen_dir} has index format {self.manifest.get('format_version')}, this version reads "
                f"{FORMAT_VERSION}; rebuild it: python -m pipeline build SOURCES --index DIR"
            )
        db_path = gen_dir / "index.sqlite3"
        if not db_path.is_file():
            raise IndexCorrupt(gen_dir, "index.sqlite3 is missing", roots)
        try:
            self.db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
            counted = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_sentences = self.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
            self.db.execute("SELECT COUNT(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as err:
            raise IndexCorrupt(gen_dir, f"index.sqlite3 is damaged ({err})", roots) from err
        if counted != n_chunks:
            raise IndexCorrupt(gen_dir, f"index.sqlite3 has {counted} chunks, the manifest says {n_chunks}", roots)
        self._faiss = None
        self._df_table: str | None = None
        self._row_readers: dict[str, _RowReader] = {}
        try:
            # Mapped now, not on first use: a reader keeps answering from its generation even after
            # a rebuild has made another one current and deleted this one (open files and mappings
            # outlive the names).
            self._vectors: np.ndarray | None = self._load("vectors.npy")
            self._sentence_vectors: np.ndarray | None = self._load("sentence_vectors.npy")
            shapes = {"vectors.npy": self._vectors.shape, "sentence_vectors.npy": self._sentence_vectors.shape}
        except (OSError, ValueError) as err:
            raise IndexCorrupt(gen_dir, f"a vector file is missing or truncated ({err})", roots) from err
        for name, rows in (("vectors.npy", n_chunks), ("sentence_vectors.npy", n_sentences)):
            if shapes[name] != (rows, dim):
                raise IndexCorrupt(gen_dir, f"{name} holds {shapes[name]}, expected ({rows}, {dim})", roots)
        # The query-time row readers hold their files open from here on, for the same reason.
        self._row_readers = {name: _RowReader(gen_dir / name) for name in shapes}
        # An index written before the BM25 matrix existed is scored by FTS5 (same ranking, slower).
        self._lexical: lexicalindex.LexicalIndex | None = None
        if "lexical" in self.manifest:
            try:
                self._lexical = lexicalindex.LexicalIndex(gen_dir / lexicalindex.DIR)
            except (OSError, ValueError, KeyError) as err:
                self.close()
                raise IndexCorrupt(gen_dir, f"the BM25 files in {lexicalindex.DIR}/ are missing or damaged ({err})",
                                   roots) from err
        faiss_file = gen_dir / "vectors.faiss"
        if not faiss_file.is_file():
            raise IndexCorrupt(gen_dir, "vectors.faiss is missing", roots)
        self._roots = roots

    def _load(self, name: str) -> np.ndarray:
        return np.load(self.dir / name, mmap_mode="r", allow_pickle=False)

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str], with_faiss: bool = False) -> "IndexReader":
        """An index directory → a reader of its live generation (its FAISS index loaded too, if asked).

        A build may swap ``current`` and delete the generation this was about to open; then
        the files vanish halfway and the new generation is opened instead.
        """
        for attempt in range(5):
            gen = current_dir(index_dir)
            if gen is None:
                raise IndexMissing(
                    f"no index at {index_dir}; build one first: python -m pipeline build SOURCES --index {index_dir}"
                )
            reader = None
            try:
                reader = cls(gen)
                if with_faiss:
                    reader.faiss_index
                return reader
            except IndexError_:
                if reader is not None:
                    reader.close()
                if current_dir(index_dir) == gen or attempt == 4:
                    raise  # really damaged, not replaced while we read it
        raise AssertionError("unreachable")

    @property
    def embedder_id(self) -> str:
        return str(self.manifest["embedder"]["id"])

    def check_embedder(self, embedder_id: str) -> None:
        """Fail with what to run when a query embedder differs from the one that built the index."""
        if embedder_id != self.embedder_id:
            roots = " ".join(self.manifest.get("roots", [])) or "SOURCES"
            raise EmbedderMismatch(
                f"the index in {self.dir.parent} was built with embedder {self.embedder_id!r} but "
                f"{embedder_id!r} was asked for; vectors of different models cannot be compared. Rebuild it: "
                f"python -m pipeline build {roots} --index {self.dir.parent} --embedder SPEC "
                f"(or use the index's own embedder, {self.manifest['embedder'].get('spec', self.embedder_id)!r})"
            )

    @property
    def vectors(self) -> np.ndarray:
        """All chunk vectors, memory-mapped (row i = chunk row i)."""
        if self._vectors is None:
            self._vectors = self._load("vectors.npy")
        return self._vectors

    def chunk_vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk rows → their vectors (len(rows), dim), read row by row from ``vectors.npy``."""
        return self._row_reader("vectors.npy").take(rows)

    def sentence_vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """Sentence rows → their vectors (len(rows), dim), read row by row from ``sentence_vectors.npy``."""
        return self._row_reader("sentence_vectors.npy").take(rows)

    def _row_reader(self, name: str) -> "_RowReader":
        if name not in self._row_readers:
            self._row_readers[name] = _RowReader(self.dir / name)
        return self._row_readers[name]

    @property
    def sentence_vectors(self) -> np.ndarray:
        """All sentence vectors, memory-mapped (row i = sentence row i)."""
        if self._sentence_vectors is None:
            self._sentence_vectors = self._load("sentence_vectors.npy")
        return self._sentence_vectors

    def sentence_rows_of(self, doc_ids: set[str]) -> dict[tuple[str, int, int], int]:
        """Documents → (doc id, start, end) → row of each of their sentences, in one query."""
        sql = 'SELECT doc_id, start, "end", row FROM sentences WHERE doc_id IN ({})'
        return {(d, a, b): r for d, a, b, r in _in_batches(self.db, sql, sorted(doc_ids))}

    def following_sentences(self, doc_id: str, after: int, n: int) -> tuple[list[int], list[Span]]:
        """The n sentences of a document that start at or after offset ``after`` → (rows, spans)."""
        found = self.db.execute(
            'SELECT row, start, "end" FROM sentences WHERE doc_id = ? AND start >= ? ORDER BY start LIMIT ?',
            (doc_id, after, n),
        ).fetchall()
        return [r for r, _, _ in found], [Span(a, b) for _, a, b in found]

    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]:
        """The n sentences of a document that end at or before offset ``start``, in text order."""
        found = self.db.execute(
            'SELECT start, "end" FROM sentences WHERE doc_id = ? AND "end" <= ? ORDER BY start DESC LIMIT ?',
            (doc_id, start, n),
        ).fetchall()
        return [Span(a, b) for a, b in reversed(found)]

    def chunk_containing(self, doc_id: str, span: Span) -> str:
        """A sentence span → the id of the first chunk of its document that contains it."""
        row = self.db.execute(
            'SELECT id FROM chunks WHERE doc_id = ? AND start <= ? AND "end" >= ? ORDER BY start LIMIT 1',
            (doc_id, span.start, span.end),
        ).fetchone()
        return row[0] if row else ""

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Query terms → (chunk row, BM25 score; higher is better) of the k best chunks that contain any."""
        if self._lexical is not None:
            return self._lexical.search(terms, k)
        return self.fts5_search(terms, k)

    def fts5_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """``lexical_search`` through SQLite FTS5 (indexes without a BM25 matrix; benchmarks)."""
        match = lexical.match_expression(list(terms))
        if not match:
            return []
        rows = self.db.execute(
            "SELECT rowid, bm25(lexical) FROM lexical WHERE lexical MATCH ? ORDER BY bm25(lexical) LIMIT ?",
            (match, k),
        ).fetchall()
        return [(int(r), -float(score)) for r, score in rows]

    def document_frequency(self, term: str) -> int:
        """A term → how many chunks contain it.

        Looked up in the ``term_df`` table a build writes from FTS5's term statistics; counting
        the matches instead costs time proportional to them (60 ms for a common term at 1M
        chunks). An index built before that table gets it once per process, in memory.
        """
        if self._df_table is None:
            has = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'term_df'").fetchone()
            if not has:
                _write_term_df(self.db, "temp")
            self._df_table = "term_df"
        row = self.db.execute(f"SELECT df FROM {self._df_table} WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def faiss_index(self):  # type: ignore[no-untyped-def]
        if self._faiss is None:
            try:
                index = vectorindex.open_index(self.dir / "vectors.faiss", self.manifest.get("faiss"))
            except RuntimeError as err:  # faiss reports truncated or garbled files this way
                raise IndexCorrupt(self.dir, "vectors.faiss is truncated or damaged", self._roots) from err
            if index.ntotal != len(self.vectors):
                raise IndexCorrupt(self.dir, f"vectors.faiss holds {index.ntotal} vectors, expected {len(self.vectors)}",
                                   self._roots)
            self._faiss = index
        return self._faiss

    def documents(self) -> list[Document]:
        rows = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents ORDER BY source"
        ).fetchall()
        return [_document(r) for r in rows]

    def document(self, doc_id: str) -> Document:
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return _document(row)

    def document_by_source(self, source: str) -> Document | None:
        """A source as indexed (path, or ``text:<id>``) → its document, or None."""
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE source = ?", (source,)
        ).fetchone()
        return _document(row) if row else None

    def sources(self) -> dict[str, tuple[str, str]]:
        """source path → (sha256, doc id) of every indexed document."""
        return {s: (h, d) for s, h, d in self.db.execute("SELECT source, sha256, id FROM documents")}

    def chunks(self, rows: Sequence[int] | None = None) -> list[Chunk]:
        """Chunk rows → chunks (all of them, in row order, when rows is None)."""
        sql = 'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks'
        if rows is None:
            return [_chunk(r) for r in self.db.execute(sql + " ORDER BY row")]
        by_row = {r[0]: _chunk(r) for r in _in_batches(self.db, sql + " WHERE row IN ({})", list(rows))}
        return [by_row[r] for r in rows]

    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        row = self.db.execute(
            'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks WHERE id = ?', (chunk_id,)
        ).fetchone()
        return _chunk(row) if row else None

    def duplicate_groups(self) -> dict[str, str]:
        """doc id → near-duplicate group id, for documents in a group."""
        return dict(self.db.execute("SELECT id, dup_group FROM documents WHERE dup_group IS NOT NULL"))

    def vectors_by_key(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Embedding keys → the vector embedded earlier from exactly that text (chunks or sentences)."""
        out: dict[str, np.ndarray] = {}
        for table, vectors in (("chunks", lambda: self.vectors), ("sentences", lambda: self.sentence_vectors)):
            sql = f"SELECT embed_key, row FROM {table} WHERE embed_key IN ({{}})"
            found = {k: r for k, r in _in_batches(self.db, sql, [k for k in keys if k not in out])}
            if found:
                matrix = vectors()
                out.update((k, np.asarray(matrix[r], dtype=np.float32)) for k, r in found.items())
        return out

    def close(self) -> None:
        self.db.close()
        for reader in self._row_readers.values():
            reader.close()
        self._row_readers.clear()


class _RowReader:
    """Rows of a float32 ``.npy`` matrix read with ``pread``, for query time.

    Indexing the memory map with a list of rows made the process map in the whole file
    (measured: 100 rows of a 46 MB file raised RssFile by 42 MB; at 1M chunks the two vector
    files are 5.5 GB): a serving process reads the few rows it scores and nothing more.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        with open(path, "rb") as f:
            shape, _, _ = vectorindex._header(f)
            self._offset = f.tell()
        self.n, self.dim = int(shape[0]), int(shape[1])
        self._row_bytes = 4 * self.dim

    def take(self, rows: Sequence[int]) -> np.ndarray:
        """Rows → their vectors (len(rows), dim); one ``pread`` per run of consecutive rows."""
        wanted = np.asarray(rows, dtype=np.int64)
        if len(wanted) and (wanted.min() < 0 or wanted.max() >= self.n):
            bad = int(wanted[(wanted < 0) | (wanted >= self.n)][0])
            raise IndexError(f"row {bad} outside 0..{self.n - 1}")
        if not len(wanted):
            return np.empty((0, self.dim), dtype=np.float32)
        unique = np.unique(wanted)
        # A chunk's sentences, and a document's chunks, are consecutive rows: read each run at once.
        starts = [0, *(np.flatnonzero(np.diff(unique) != 1) + 1).tolist()]
        ends = [*starts[1:], len(unique)]
        first = unique.tolist()
        buf = bytearray(self._row_bytes * len(unique))
        view = memoryview(buf)
        for a, b in zip(starts, ends):
            view[a * self._row_bytes : b * self._row_bytes] = os.pread(
                self._fd, self._row_bytes * (b - a), self._offset + first[a] * self._row_bytes)
        block = np.frombuffer(buf, dtype=np.float32).reshape(len(unique), self.dim)
        return block[np.searchsorted(unique, wanted)]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _in_batches(db: sqlite3.Connection, sql: str, values: list[Any], size: int = 900) -> Iterator[tuple[Any, ...]]:
    for i in range(0, len(values), size):
        part = values[i : i + size]
        yield from db.execute(sql.format(",".join("?" * len(part))), part)


def _document(row: tuple[Any, ...]) -> Document:
    doc_id, source, text, title, date, lang, kept, meta = row
    return Document(
        id=doc_id,
        source=source,
        text=text,
        title=title or "",
        date=date,
        lang=lang or "und",
        kept=tuple(Span(a, b) for a, b in json.loads(kept)),
        meta=json.loads(meta),
    )


def _chunk(row: tuple[Any, ...]) -> Chunk:
    _, cid, doc_id, start, end, text, context, sents = row
    return Chunk(
        id=cid,
        doc_id=doc_id,
        start=start,
        end=end,
        text=text,
        context=context,
        sentences=tuple(Span(a, b) for a, b in json.loads(sents)),
    )


class GenerationWriter:
    """Writes one new generation next to the live one; ``commit`` makes it live atomically."""

    def __init__(self, index_dir: str | os.PathLike[str], dim: int,
                 vector_index: VectorIndexSettings | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        self.name = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self.dir = self.index_dir / (self.name + ".tmp")
        self.dir.mkdir()
        self.dim = dim
        self.db = sqlite3.connect(self.dir / "index.sqlite3")
        self.db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self.vector_index = vector_index or VectorIndexSettings()
        # Vectors go to disk as they come: a large build never holds them all in memory.
        self._vectors = _RowFile(self.dir / "vectors.npy", dim)
        self._sentence_vectors = _RowFile(self.dir / "sentence_vectors.npy", dim)
        self._rows = 0
        self._sentence_rows = 0

    def copy_documents(self, old: IndexReader, doc_ids: Sequence[str]) -> None:
        """Carry unchanged documents over from the live generation: rows, chunks, vectors, terms, texts."""
        cols = 'id, doc_id, start, "end", text, context, sentences, embed_key'
        for i in range(0, len(doc_ids), 900):
            part = list(doc_ids[i : i + 900])
            marks = ",".join("?" * len(part))
            docs = old.db.execute(f"SELECT * FROM documents WHERE id IN ({marks})", part).fetchall()
            self.db.executemany(f"INSERT INTO documents VALUES ({','.join('?' * 11)})", docs)
            rows = old.db.execute(
                f"SELECT c.row, {', '.join('c.' + c.strip() for c in cols.split(','))}, l.terms FROM chunks c "
                f"JOIN lexical l ON l.rowid = c.row WHERE c.doc_id IN ({marks}) ORDER BY c.row",
                part,
            ).fetchall()
            self._insert_chunks([r[1:-1] for r in rows], [r[-1] for r in rows])
            if rows:
                self._vectors.append(old.vectors[[r[0] for r in rows]])
            sents = old.db.execute(
                f'SELECT row, doc_id, start, "end", embed_key FROM sentences WHERE doc_id IN ({marks}) ORDER BY row', part
            ).fetchall()
            self._insert_sentences([s[1:] for s in sents])
            if sents:
                self._sentence_vectors.append(old.sentence_vectors[[s[0] for s in sents]])
        texts = old.dir / "texts"
        for doc_id in doc_ids:
            src = texts / f"{doc_id}.txt"
            if src.exists():
                (self.dir / "texts").mkdir(exist_ok=True)
                shutil.copyfile(src, self.dir / "texts" / src.name)

    def _insert_chunks(self, rows: Sequence[tuple[Any, ...]], terms: Sequence[str]) -> None:
        self.db.executemany(
            'INSERT INTO chunks (row, id, doc_id, start, "end", text, context, sentences, embed_key) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(self._rows + n, *r) for n, r in enumerate(rows)],
        )
        self.db.executemany(
            "INSERT INTO lexical (rowid, terms) VALUES (?, ?)", [(self._rows + n, t) for n, t in enumerate(terms)]
        )
        self._rows += len(rows)

    def _insert_sentences(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.db.executemany(
            'INSERT INTO sentences (row, doc_id, start, "end", embed_key) VALUES (?, ?, ?, ?, ?)',
            [(self._sentence_rows + n, *r) for n, r in enumerate(rows)],
        )
        self._sentence_rows += len(rows)

    def add_document(
        self,
        doc: Document,
        minhash: bytes,
        chunks: Sequence[NewChunk],
        vectors: np.ndarray,
        sentences: Sequence[NewSentence],
        sentence_vectors: np.ndarray,
    ) -> None:
        """Write one newly processed document: its chunks (with vectors, terms) and sentences (with vectors)."""
        meta = dict(doc.meta)
        self.db.execute(
            "INSERT INTO documents (id, source, sha256, title, date, lang, text, kept, meta, minhash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.id, doc.source, meta.get("sha256", ""), doc.title, doc.date, doc.lang, doc.text,
                json.dumps([[s.start, s.end] for s in doc.kept]), json.dumps(meta, ensure_ascii=False), minhash,
            ),
        )
        self._insert_chunks(
            [
                (c.chunk.id, c.chunk.doc_id, c.chunk.start, c.chunk.end, c.chunk.text, c.chunk.context,
                 json.dumps([[s.start, s.end] for s in c.chunk.sentences]), c.embed_key)
                for c in chunks
            ],
            [c.terms for c in chunks],
        )
        if len(chunks):
            self._vectors.append(vectors)
        self._insert_sentences([(doc.id, s.span.start, s.span.end, s.embed_key) for s in sentences])
        if len(sentences):
            self._sentence_vectors.append(sentence_vectors)
        if meta.get("text_path"):
            (self.dir / "texts").mkdir(exist_ok=True)
            (self.dir / "texts" / f"{doc.id}.txt").write_bytes(doc.text.encode("utf-8"))

    def set_duplicate_groups(self, groups: dict[str, str]) -> None:
        self.db.executemany("UPDATE documents SET dup_group = ? WHERE id = ?", [(g, d) for d, g in groups.items()])

    def signatures(self) -> dict[str, bytes]:
        """doc id → MinHash signature (raw bytes) of every document written so far."""
        return dict(self.db.execute("SELECT id, minhash FROM documents"))

    def kept_texts(self) -> dict[str, str]:
        """doc id → the kept (cleaned) text of every document written so far."""
        out = {}
        for doc_id, text, kept in self.db.execute("SELECT id, text, kept FROM documents"):
            out[doc_id] = "\n".join(text[a:b] for a, b in json.loads(kept))
        return out

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Finish files, fsync, and swap ``current`` to this generation; older generations are removed."""
        _write_term_df(self.db, "main")
        self.db.commit()
        lexical_built = lexicalindex.build(self.db, self.dir / lexicalindex.DIR)
        self.db.close()
        self._vectors.finish()
        self._sentence_vectors.finish()
        built = vectorindex.build(self.dir / "vectors.npy", self.dir / "vectors.faiss", self.vector_index)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "faiss": built, "lexical": lexical_built}
        (self.dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False), "utf-8")
        for path in self.dir.rglob("*"):
            if path.is_file():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
        final = self.index_dir / self.name
        os.rename(self.dir, final)
        tmp_link = self.index_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        os.symlink(self.name, tmp_link)
        os.replace(tmp_link, self.index_dir / CURRENT)  # the atomic step
        _fsync_dir(self.index_dir)
        remove_stale_generations(self.index_dir)
        return final

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        self._vectors.close()
        self._sentence_vectors.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class _RowFile:
    """float32 rows appended to ``<path>.part`` as they come; ``finish`` turns them into ``path`` (.npy).

    The .npy header holds the row count, unknown until the end, so rows are written raw first
    and copied behind the header once, with plain reads and writes.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.rows = path, dim, 0
        self.part = path.with_name(path.name + ".part")
        self._f = open(self.part, "wb")

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"vectors of shape {rows.shape} do not fit an index of dimension {self.dim}")
        self._f.write(rows.tobytes())
        self.rows += len(rows)

    def finish(self) -> None:
        self._f.close()
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                  "shape": (self.rows, self.dim)}
        with open(self.path, "wb") as out, open(self.part, "rb") as raw:
            np.lib.format.write_array_header_1_0(out, header)
            shutil.copyfileobj(raw, out, 16 << 20)
        self.part.unlink()

    def close(self) -> None:
        self._f.close()


def _fsync_dir(path: Path) -> None:
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
