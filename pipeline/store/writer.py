"""Writing a new generation of an index next to the live one; ``commit`` makes it live atomically.

Documents, chunks and sentences go to SQLite, their vectors to ``.npy`` row files as they come;
``commit`` writes the BM25 matrix and the FAISS index, records every file's size and checksums
in the manifest (written last), fsyncs, renames the folder and swaps ``current``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..manifest import IndexManifest
from ..settings import VectorIndexSettings
from ..types import Document
from . import bm25, vectors
from .checks import file_entry
from .layout import CURRENT, FORMAT_VERSION, fsync_dir, remove_stale_generations
from .reader import IndexReader
from .rows import RowFile
from .schema import SCHEMA, NewChunk, NewSentence, write_term_df


class GenerationWriter:
    """Writes one new generation next to the live one; ``commit`` makes it live atomically."""

    def __init__(
        self, index_dir: str | os.PathLike[str], dim: int, vector_index: VectorIndexSettings | None = None
    ) -> None:
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
        self._vectors = RowFile(self.dir / "vectors.npy", dim)
        self._sentence_vectors = RowFile(self.dir / "sentence_vectors.npy", dim)
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
                f'SELECT row, doc_id, start, "end", embed_key FROM sentences WHERE doc_id IN ({marks}) ORDER BY row',
                part,
            ).fetchall()
            self._insert_sentences([s[1:] for s in sents])
            if sents:
                self._sentence_vectors.append(old.sentence_vectors[[s[0] for s in sents]])
            if old._has_layout():
                for table in ("regions", "boxes"):
                    got = old.db.execute(f"SELECT * FROM {table} WHERE doc_id IN ({marks})", part).fetchall()
                    if got:
                        self.db.executemany(f"INSERT INTO {table} VALUES ({','.join('?' * len(got[0]))})", got)
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
                doc.id,
                doc.source,
                meta.get("sha256", ""),
                doc.title,
                doc.date,
                doc.lang,
                doc.text,
                json.dumps([[s.start, s.end] for s in doc.kept]),
                json.dumps(meta, ensure_ascii=False),
                minhash,
            ),
        )
        self._insert_chunks(
            [
                (
                    c.chunk.id,
                    c.chunk.doc_id,
                    c.chunk.start,
                    c.chunk.end,
                    c.chunk.text,
                    c.chunk.context,
                    json.dumps([[s.start, s.end] for s in c.chunk.sentences]),
                    c.embed_key,
                )
                for c in chunks
            ],
            [c.terms for c in chunks],
        )
        if len(chunks):
            self._vectors.append(vectors)
        self._insert_sentences([(doc.id, s.span.start, s.span.end, s.embed_key) for s in sentences])
        if len(sentences):
            self._sentence_vectors.append(sentence_vectors)
        self.db.executemany(
            'INSERT INTO regions (doc_id, start, "end", unit, number) VALUES (?, ?, ?, ?, ?)',
            [(doc.id, r.start, r.end, r.unit, r.number) for r in doc.regions],
        )
        self.db.executemany(
            'INSERT INTO boxes (doc_id, start, "end", page, x0, y0, x1, y1) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
            [(doc.id, b.start, b.end, b.page, b.x0, b.y0, b.x1, b.y1) for b in doc.boxes],
        )
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

    def commit(self, manifest: IndexManifest, before_live: Callable[[Path, str], object] | None = None) -> Path:
        """Finish files, fsync, and swap ``current`` to this generation; older generations are removed.

        ``before_live(folder, name)`` runs on the finished generation before it becomes live (the Milvus
        mirror, ``milvus.write_generation``): if it fails, the generation never becomes live."""
        write_term_df(self.db, "main")
        self.db.commit()
        lexical_built = bm25.build(self.db, self.dir / bm25.DIR)
        self.db.close()
        hashed = {"vectors.npy": self._vectors.finish(), "sentence_vectors.npy": self._sentence_vectors.finish()}
        built = vectors.build(self.dir / "vectors.npy", self.dir / "vectors.faiss", self.vector_index)
        manifest = manifest.committed(FORMAT_VERSION, built, lexical_built, self._file_entries(hashed))
        # Written last (after every file it describes), and made live only by the rename below.
        (self.dir / "manifest.json").write_text(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False), "utf-8")
        for path in self.dir.rglob("*"):
            if path.is_file():
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
        if before_live is not None:
            before_live(self.dir, self.name)
        final = self.index_dir / self.name
        os.rename(self.dir, final)
        tmp_link = self.index_dir / f".{CURRENT}.{uuid.uuid4().hex[:8]}"
        os.symlink(self.name, tmp_link)
        os.replace(tmp_link, self.index_dir / CURRENT)  # the atomic step
        fsync_dir(self.index_dir)
        remove_stale_generations(self.index_dir)
        return final

    def _file_entries(self, hashed: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Every file of the generation (but the manifest) → its size and checksums, for checks at open
        and in full. The vector files were hashed as they were written (``hashed``); the rest is
        read once more (SQLite, FAISS and BM25 are small beside the vectors, and in the page cache)."""
        entries = {}
        for path in sorted(self.dir.rglob("*")):
            name = path.relative_to(self.dir).as_posix()
            if path.is_file() and name != "manifest.json":
                entries[name] = hashed.get(name) or file_entry(path)
        return entries

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()
        self._vectors.close()
        self._sentence_vectors.close()
        shutil.rmtree(self.dir, ignore_errors=True)
