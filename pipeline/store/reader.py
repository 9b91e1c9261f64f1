"""Reading one generation of an index: manifest, documents, chunks, sentences, vectors, FAISS, BM25.

A reader checks its generation's files cheaply when it opens (``checks.cheap_problems``) and
keeps them open, so it answers from its generation even after a build has made another one
current and deleted this one. Damage found then or later is an ``IndexCorrupt``.
"""
# Size: over 400 lines on purpose. Every read a question or a build makes goes through this one class, and
# each turns what can go wrong on the way (SQLite, row files, BM25, FAISS) into the same IndexCorrupt; the
# checks, row readers, schema and FAISS opening it uses live in their own modules.

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import numpy as np

from ..manifest import IndexManifest
from ..text import lexical
from ..types import Chunk, Document, Span
from . import bm25
from .checks import HASH, cheap_problems, faiss_checksummed, file_problem, full_read, stream
from .errors import EmbedderMismatch, IndexCorrupt, IndexMissing, IndexProblem, repair_command
from .layout import FORMAT_VERSION, current_dir
from .rows import RowDamage, RowReader
from .schema import LONGEST_WORD, Location, chunk_of, document_of, in_batches, merge_line_boxes, write_term_df
from .vectors import open_faiss

if TYPE_CHECKING:
    import faiss

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reads_sqlite(method: Callable[Concatenate[IndexReader, _P], _R]) -> Callable[Concatenate[IndexReader, _P], _R]:
    """A reader method that queries ``index.sqlite3`` → the same method, raising IndexCorrupt when
    SQLite finds the file damaged (a malformed page, a table gone, a stored value not JSON).

    Misuse is not damage: a closed reader raises sqlite3.ProgrammingError as before. The
    ``try`` costs nothing while nothing is raised.
    """

    @functools.wraps(method)
    def guarded(self: IndexReader, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except (sqlite3.DatabaseError, json.JSONDecodeError) as err:
            raise self.damaged(f"index.sqlite3 is damaged ({type(err).__name__}: {err})") from err

    return guarded


class DenseIndex(Protocol):
    """What a question asks of a vector index: FAISS's ``search`` and ``ntotal`` (or a Milvus collection's)."""

    @property
    def ntotal(self) -> int: ...

    def search(self, x: np.ndarray, k: int, /) -> tuple[np.ndarray, np.ndarray]: ...


class IndexReader:
    """A read-only view of one generation: manifest, documents, chunks, vectors, FAISS.

    Opening checks every file cheaply (``cheap_problems``); a damaged file found then, or by a
    question later (SQLite reporting a malformed page, a BM25 or vector row that no build
    wrote), raises IndexCorrupt naming it and the command that rebuilds the index.
    """

    def __init__(self, gen_dir: Path, elsewhere: frozenset[str] = frozenset()) -> None:
        """A generation's folder → its reader. ``elsewhere``: files whose content this reader reads from another
        store (``milvus.MilvusReader``: sentence vectors in Milvus): checked when present, allowed to be missing,
        so a serving machine needs no copy of them."""
        self.dir = gen_dir
        self.elsewhere = elsewhere
        self.index_dir = gen_dir.parent  # ``open`` sets it to the directory as the caller named it
        self._row_readers: dict[str, RowReader] = {}
        self._db: sqlite3.Connection | None = None  # set by _open_files; kept (closed) after close()
        try:
            raw = json.loads((gen_dir / "manifest.json").read_bytes().decode("utf-8"))
            self.manifest = IndexManifest.from_json(raw)
            self._raw_manifest: dict[str, Any] = raw  # as read: the file checks look at it as it is
            dim, n_chunks = self.manifest.embedder.dim, self.manifest.chunks
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(gen_dir, f"manifest.json is unreadable or edited ({type(err).__name__}: {err})") from err
        if self.manifest.format_version != FORMAT_VERSION:
            raise IndexProblem(
                f"{gen_dir} has index format {self.manifest.format_version}, this version reads "
                f"{FORMAT_VERSION}; rebuild it with: {repair_command(gen_dir.parent, gen_dir, self._raw_manifest)}"
            )
        self._n_chunks = n_chunks
        self._faiss: faiss.Index | None = None
        self._df_table: str | None = None
        self._layout: bool | None = None  # whether this generation has the regions and boxes tables
        self._lexical: bm25.LexicalIndex | None = None
        for _, problem in cheap_problems(gen_dir, self._raw_manifest, absent_ok=elsewhere):
            raise self.damaged(problem)
        try:
            self._open_files(dim, n_chunks)
        except BaseException:
            self.close()
            raise

    def _open_files(self, dim: int, n_chunks: int) -> None:
        """Open SQLite, map the vectors, load the BM25 matrix; damage found on the way → IndexCorrupt."""
        gen_dir = self.dir
        try:
            self._db = sqlite3.connect(f"file:{gen_dir / 'index.sqlite3'}?mode=ro", uri=True, check_same_thread=False)
            counted = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_sentences = self.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
            self.db.execute("SELECT COUNT(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as err:
            raise self.damaged(f"index.sqlite3 is damaged ({err})") from err
        self.n_sentences = int(n_sentences)
        if counted != n_chunks:
            raise self.damaged(f"index.sqlite3 has {counted} chunks, the manifest says {n_chunks}")
        try:
            # Mapped now, not on first use: a reader keeps answering from its generation even after
            # a rebuild has made another one current and deleted this one (open files and mappings
            # outlive the names).
            self._vectors: np.ndarray = self._load("vectors.npy")
            self._sentence_vectors: np.ndarray | None = None
            if "sentence_vectors.npy" not in self.elsewhere or (gen_dir / "sentence_vectors.npy").exists():
                self._sentence_vectors = self._load("sentence_vectors.npy")
        except (OSError, ValueError, EOFError) as err:
            raise self.damaged(f"a vector file is missing or truncated ({err})") from err
        shapes = {"vectors.npy": self._vectors.shape}
        if self._sentence_vectors is not None:
            shapes["sentence_vectors.npy"] = self._sentence_vectors.shape
        for name, rows in (("vectors.npy", n_chunks), ("sentence_vectors.npy", n_sentences)):
            if name in shapes and shapes[name] != (rows, dim):
                raise self.damaged(f"{name} holds {shapes[name]}, expected ({rows}, {dim})")
        # The query-time row readers hold their files open from here on, for the same reason. Rows
        # the build wrote with length 1 are checked for it as they are read (see RowReader).
        files = self.manifest.files
        self._row_readers = {
            name: RowReader(gen_dir / name, bool(files.get(name, {}).get("unit_rows"))) for name in shapes
        }
        # An index written before the BM25 matrix existed is scored by FTS5 (same ranking, slower).
        if self.manifest.lexical is not None:
            try:
                self._lexical = bm25.LexicalIndex(gen_dir / bm25.DIR)
            except (OSError, ValueError, KeyError, TypeError, EOFError, IndexError) as err:
                raise self.damaged(
                    self._locate(
                        [f"{bm25.DIR}/{n}" for n in bm25.FILES],
                        f"{bm25.DIR}/ (the BM25 files) is missing or damaged ({err})",
                    )
                ) from err

    def _load(self, name: str) -> np.ndarray:
        mapped: np.ndarray = np.load(self.dir / name, mmap_mode="r", allow_pickle=False)
        return mapped

    @property
    def db(self) -> sqlite3.Connection:
        """The generation's ``index.sqlite3``, open read-only. After ``close`` it is the closed
        connection, so a query raises sqlite3.ProgrammingError as SQLite's own misuse error."""
        if self._db is None:  # only while __init__ runs, before _open_files connects
            raise sqlite3.ProgrammingError(f"the reader of {self.dir} has not opened index.sqlite3")
        return self._db

    def damaged(self, what: str) -> IndexCorrupt:
        """What is wrong, starting with the file's path in the generation → the IndexCorrupt to raise."""
        return IndexCorrupt(self.dir, what, self._raw_manifest, self.index_dir)

    def _locate(self, names: Sequence[str], otherwise: str) -> str:
        """Files that may hold the damage behind an error → the first whose checksum no longer matches,
        or ``otherwise``. Reads those files in full: only ever on the way to an error."""
        for name in names:
            entry = self.manifest.files.get(name)
            if entry is None or HASH not in entry:
                continue
            problem = file_problem(self.dir / name, name, entry.get("size"))
            if problem:
                return problem
            digest = hashlib.new(HASH)
            with contextlib.suppress(OSError):
                stream(self.dir / name, digest)
                if digest.hexdigest() != entry[HASH]:
                    return f"{name} is damaged (its content differs from the SHA-256 recorded at build time)"
        return otherwise

    def verify(self) -> None:
        """Read every file of this generation against its checksums and run SQLite's quick_check →
        IndexCorrupt naming the first damaged file (nothing when intact).

        Seconds per GB (SHA-256 at 85 ms per 100 MB here): for ``build`` and ``check``, never per
        question. It finds what opening cannot: bytes changed inside a file.
        """
        problems = list(full_read(self.dir, self._raw_manifest).problems)
        if not problems and not faiss_checksummed(self._raw_manifest):
            try:
                _ = self.faiss_index  # reads the whole file: what can be checked without a checksum
            except IndexCorrupt as err:
                problems.append(err.what)
        if problems:
            more = (
                f"; {len(problems) - 1} more: python -m pipeline check --index {self.index_dir}"
                if len(problems) > 1
                else ""
            )
            raise self.damaged(problems[0] + more)

    @classmethod
    def open(
        cls, index_dir: str | os.PathLike[str], with_faiss: bool = False, elsewhere: frozenset[str] = frozenset()
    ) -> IndexReader:
        """An index directory → a reader of its live generation (its FAISS index loaded too, if asked;
        ``elsewhere`` as for the constructor).

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
                reader = cls(gen, elsewhere)
                reader.index_dir = Path(index_dir)
                if with_faiss:
                    _ = reader.faiss_index  # loaded now, so a damaged file fails here
                return reader
            except IndexProblem as err:
                if reader is not None:
                    reader.close()
                if current_dir(index_dir) == gen or attempt == 4:
                    if isinstance(err, IndexCorrupt):
                        err.show_at(index_dir)
                    raise  # really damaged, not replaced while we read it
        raise AssertionError("unreachable")

    @property
    def embedder_id(self) -> str:
        return self.manifest.embedder.id

    def check_embedder(self, embedder_id: str) -> None:
        """Fail with what to run when a query embedder differs from the one that built the index."""
        if embedder_id != self.embedder_id:
            roots = " ".join(self.manifest.roots) or "SOURCES"
            raise EmbedderMismatch(
                f"the index in {self.dir.parent} was built with embedder {self.embedder_id!r} but "
                f"{embedder_id!r} was asked for; vectors of different models cannot be compared. Rebuild it: "
                f"python -m pipeline build {roots} --index {self.dir.parent} --embedder SPEC "
                f"(or use the index's own embedder, {self.manifest.embedder.spec or self.embedder_id!r})"
            )

    @property
    def vectors(self) -> np.ndarray:
        """All chunk vectors, memory-mapped when the reader opened (row i = chunk row i): for builds, which copy
        rows; a question reads its rows with ``chunk_vectors``."""
        return self._vectors

    def chunk_vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Chunk rows → their vectors (len(rows), dim), read row by row from ``vectors.npy``."""
        return self._take("vectors.npy", rows)

    def sentence_vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """Sentence rows → their vectors (len(rows), dim), read row by row from ``sentence_vectors.npy``."""
        return self._take("sentence_vectors.npy", rows)

    def rows_in(self, name: str) -> int:
        """``vectors.npy`` or ``sentence_vectors.npy`` → how many rows it holds (the index's sentence count when
        the sentence vectors are held elsewhere, e.g. in Milvus)."""
        if name == "vectors.npy":
            return int(self._vectors.shape[0])
        if self._sentence_vectors is None:
            return self.n_sentences
        return int(self._sentence_vectors.shape[0])

    def _take(self, name: str, rows: Sequence[int]) -> np.ndarray:
        """Rows of a vector file → its vectors; a failed read or a row changed since the build → IndexCorrupt.

        A row outside the file stays an IndexError: that is the caller's row, not the file's damage.
        """
        try:
            return self._row_reader(name).take(rows)
        except (OSError, RowDamage) as err:
            raise self.damaged(f"{name} is damaged ({err})") from err

    def _row_reader(self, name: str) -> RowReader:
        if name not in self._row_readers:
            self._row_readers[name] = RowReader(self.dir / name)
        return self._row_readers[name]

    @property
    def sentence_vectors(self) -> np.ndarray:
        """All sentence vectors, memory-mapped when the reader opened (row i = sentence row i); for builds, which
        copy rows. A reader without the file (``elsewhere``) → IndexProblem: a build needs the generation whole."""
        if self._sentence_vectors is None:
            raise IndexProblem(
                f"{self.dir / 'sentence_vectors.npy'} is not here (this reader reads sentence vectors from another "
                "store); a build needs the generation's files"
            )
        return self._sentence_vectors

    @_reads_sqlite
    def sentence_rows_of(self, doc_ids: set[str]) -> dict[tuple[str, int, int], int]:
        """Documents → (doc id, start, end) → row of each of their sentences, in one query."""
        sql = 'SELECT doc_id, start, "end", row FROM sentences WHERE doc_id IN ({})'
        return {(d, a, b): r for d, a, b, r in in_batches(self.db, sql, sorted(doc_ids))}

    @_reads_sqlite
    def following_sentences(self, doc_id: str, after: int, n: int) -> tuple[list[int], list[Span]]:
        """The n sentences of a document that start at or after offset ``after`` → (rows, spans)."""
        found = self.db.execute(
            'SELECT row, start, "end" FROM sentences WHERE doc_id = ? AND start >= ? ORDER BY start LIMIT ?',
            (doc_id, after, n),
        ).fetchall()
        return [r for r, _, _ in found], [Span(a, b) for _, a, b in found]

    @_reads_sqlite
    def sentences_before(self, doc_id: str, start: int, n: int) -> list[Span]:
        """The n sentences of a document that end at or before offset ``start``, in text order."""
        found = self.db.execute(
            'SELECT start, "end" FROM sentences WHERE doc_id = ? AND "end" <= ? ORDER BY start DESC LIMIT ?',
            (doc_id, start, n),
        ).fetchall()
        return [Span(a, b) for a, b in reversed(found)]

    @_reads_sqlite
    def chunk_containing(self, doc_id: str, span: Span) -> str:
        """A sentence span → the id of the first chunk of its document that contains it."""
        row = self.db.execute(
            'SELECT id FROM chunks WHERE doc_id = ? AND start <= ? AND "end" >= ? ORDER BY start LIMIT 1',
            (doc_id, span.start, span.end),
        ).fetchone()
        return row[0] if row else ""

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Query terms → (chunk row, BM25 score; higher is better) of the k best chunks that contain any."""
        if self._lexical is None:
            return self.fts5_search(terms, k)
        try:
            found = self._lexical.search(terms, k)
        except (ValueError, IndexError, KeyError, TypeError, OverflowError, OSError) as err:
            # Which of the matrix files: the one whose checksum no longer matches (read only now, on the error path).
            raise self.damaged(
                self._locate(
                    [f"{bm25.DIR}/{n}" for n in bm25.FILES],
                    f"{bm25.DIR}/ (the BM25 matrix) is damaged ({type(err).__name__}: {err})",
                )
            ) from err
        # Rows come from bm25/rows.npy: one outside the index can only be damage there.
        if found and not all(0 <= r < self._n_chunks for r, _ in found):
            bad = next(r for r, _ in found if not 0 <= r < self._n_chunks)
            raise self.damaged(
                f"{bm25.DIR}/rows.npy is damaged (it names chunk row {bad}, "
                f"the index has rows 0 to {self._n_chunks - 1})"
            )
        return found

    @_reads_sqlite
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

    @_reads_sqlite
    def document_frequency(self, term: str) -> int:
        """A term → how many chunks contain it.

        Looked up in the ``term_df`` table a build writes from FTS5's term statistics; counting
        the matches instead costs time proportional to them (60 ms for a common term at 1M
        chunks). An index built before that table gets it once per process, in memory.
        """
        if self._df_table is None:
            has = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'term_df'").fetchone()
            if not has:
                write_term_df(self.db, "temp")
            self._df_table = "term_df"
        row = self.db.execute(f"SELECT df FROM {self._df_table} WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def faiss_index(self) -> faiss.Index:
        if self._faiss is None:
            try:
                index = open_faiss(
                    self.dir / "vectors.faiss", dict(self.manifest.faiss) if self.manifest.faiss is not None else None
                )
            except (RuntimeError, MemoryError, ValueError) as err:  # faiss reports truncated or garbled files this way
                raise self.damaged("vectors.faiss is truncated or damaged (FAISS cannot read it)") from err
            if index.ntotal != len(self.vectors) or index.d != self.vectors.shape[1]:
                raise self.damaged(
                    f"vectors.faiss holds {index.ntotal} vectors of dimension {index.d}, "
                    f"expected {len(self.vectors)} of {self.vectors.shape[1]}"
                )
            self._faiss = index
        return self._faiss

    @property
    def dense_index(self) -> DenseIndex:
        """The index a question's dense candidates come from: FAISS here (``milvus.MilvusReader``: Milvus)."""
        found: DenseIndex = self.faiss_index
        return found

    @_reads_sqlite
    def documents(self) -> list[Document]:
        rows = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents ORDER BY source"
        ).fetchall()
        return [document_of(r) for r in rows]

    @_reads_sqlite
    def document(self, doc_id: str) -> Document:
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return document_of(row)

    @_reads_sqlite
    def document_by_source(self, source: str) -> Document | None:
        """A source as indexed (path, or ``text:<id>``) → its document, or None."""
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE source = ?", (source,)
        ).fetchone()
        return document_of(row) if row else None

    @_reads_sqlite
    def sources(self) -> dict[str, tuple[str, str]]:
        """source path → (sha256, doc id) of every indexed document."""
        return {s: (h, d) for s, h, d in self.db.execute("SELECT source, sha256, id FROM documents")}

    @_reads_sqlite
    def document_list(self) -> list[dict[str, Any]]:
        """Every document without its text → source, title, date, lang, format, indexed (when it was read) and
        its number of chunks, by source."""
        out = []
        for source, title, date, lang, meta, chunks in self.db.execute(
            "SELECT d.source, d.title, d.date, d.lang, d.meta, COUNT(c.row) FROM documents d "
            "LEFT JOIN chunks c ON c.doc_id = d.id GROUP BY d.id ORDER BY d.source"
        ):
            info = json.loads(meta)
            out.append(
                {
                    "source": source,
                    "title": title or "",
                    "date": date or "",
                    "lang": lang or "",
                    "format": info.get("format", ""),
                    "indexed": info.get("indexed", ""),
                    "chunks": chunks,
                }
            )
        return out

    @_reads_sqlite
    def row_languages(self, table: str, rows: Sequence[int]) -> list[str]:
        """``"chunks"`` or ``"sentences"`` and rows of it → the language of each row's document, in the order
        given ('und' where the document has none or the row is not there)."""
        if table not in ("chunks", "sentences"):
            raise ValueError(f"row_languages: no table {table!r} (chunks or sentences)")
        sql = f"SELECT t.row, d.lang FROM {table} t JOIN documents d ON d.id = t.doc_id WHERE t.row IN ({{}})"
        found = dict(in_batches(self.db, sql, list(rows)))
        return [found.get(r) or "und" for r in rows]

    @_reads_sqlite
    def document_languages(self) -> dict[str, str]:
        """Every document's id → its language ('und' when none was told)."""
        return {d: lang or "und" for d, lang in self.db.execute("SELECT id, lang FROM documents")}

    @_reads_sqlite
    def rows_of(self, doc_ids: Sequence[str]) -> list[int]:
        """Document ids → the rows of their chunks, in row order."""
        return sorted(r for (r,) in in_batches(self.db, "SELECT row FROM chunks WHERE doc_id IN ({})", list(doc_ids)))

    @_reads_sqlite
    def chunks(self, rows: Sequence[int] | None = None) -> list[Chunk]:
        """Chunk rows → chunks (all of them, in row order, when rows is None)."""
        sql = 'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks'
        if rows is None:
            return [chunk_of(r) for r in self.db.execute(sql + " ORDER BY row")]
        by_row = {r[0]: chunk_of(r) for r in in_batches(self.db, sql + " WHERE row IN ({})", list(rows))}
        missing = [r for r in rows if r not in by_row and 0 <= r < self._n_chunks]
        if missing:  # a row the index has, yet SQLite does not return: its table is damaged
            raise self.damaged(f"index.sqlite3 is damaged (chunk row {missing[0]} cannot be read)")
        return [by_row[r] for r in rows]

    @_reads_sqlite
    def locate(self, doc_id: str, start: int, end: int) -> Location:
        """A span of a document's text → its page, paragraph or slide and line boxes (empty for plain
        text and for an index built before files had layouts)."""
        if not self._has_layout():
            return Location()
        region = self.db.execute(
            'SELECT unit, number FROM regions WHERE doc_id = ? AND "end" > ? ORDER BY start LIMIT 1', (doc_id, start)
        ).fetchone()
        words = self.db.execute(
            'SELECT page, x0, y0, x1, y1 FROM boxes WHERE doc_id = ? AND start >= ? AND start < ? AND "end" > ? '
            "ORDER BY start",
            (doc_id, start - LONGEST_WORD, end, start),
        ).fetchall()
        unit, number = region if region else (None, None)
        return Location(
            page=number if unit == "page" else None,
            paragraph=number if unit == "paragraph" else None,
            slide=number if unit == "slide" else None,
            boxes=merge_line_boxes(words),
        )

    def _has_layout(self) -> bool:
        if self._layout is None:
            self._layout = bool(self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'boxes'").fetchone())
        return self._layout

    @_reads_sqlite
    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        row = self.db.execute(
            'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks WHERE id = ?', (chunk_id,)
        ).fetchone()
        return chunk_of(row) if row else None

    @_reads_sqlite
    def duplicate_groups(self) -> dict[str, str]:
        """doc id → near-duplicate group id, for documents in a group."""
        return dict(self.db.execute("SELECT id, dup_group FROM documents WHERE dup_group IS NOT NULL"))

    @_reads_sqlite
    def vectors_by_key(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Embedding keys → the vector embedded earlier from exactly that text (chunks or sentences)."""
        out: dict[str, np.ndarray] = {}
        tables: tuple[tuple[str, Callable[[], np.ndarray]], ...] = (
            ("chunks", lambda: self.vectors),
            ("sentences", lambda: self.sentence_vectors),
        )
        for table, vectors in tables:
            sql = f"SELECT embed_key, row FROM {table} WHERE embed_key IN ({{}})"
            found = {k: r for k, r in in_batches(self.db, sql, [k for k in keys if k not in out])}
            if found:
                matrix = vectors()
                out.update((k, np.asarray(matrix[r], dtype=np.float32)) for k, r in found.items())
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        for reader in self._row_readers.values():
            reader.close()
        self._row_readers.clear()
