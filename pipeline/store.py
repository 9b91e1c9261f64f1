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

Damage (a disk error, a file cut short, edited or replaced): the manifest lists every file of
the generation with its size, its SHA-256 and the SHA-256 of its first 4 KiB. Opening checks
sizes, those first bytes and the headers (NumPy, SQLite, FAISS) — milliseconds at any size;
``verify_generation`` reads every byte (``python -m pipeline check``; a build runs it before
trusting the old generation). Damage found at any point is an ``IndexCorrupt`` naming the file
and the command that rebuilds the index.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import lexicalindex, vectorindex
from .settings import VectorIndexSettings
from .text import lexical
from .types import Chunk, Document, Span

FORMAT_VERSION = 1
CURRENT = "current"
# Checksums: SHA-256, which OpenSSL runs on the CPU's SHA instructions: 85 ms per 100 MB on the
# 2-core AMD EPYC here (blake2b: 210 ms). HEAD_BYTES of every file are hashed apart, so opening
# can compare a file's start (headers, SQLite's first page) without reading the rest.
HASH = "sha256"
HEAD_BYTES = 4096
_READ_BYTES = 1 << 20  # streaming block: larger ones hash no faster (measured 64 KiB – 16 MiB)
SQLITE_MAGIC = b"SQLite format 3\x00"
# A float32 row normalised by ``embedding.normalize`` has |length² − 1| ≤ 5.4e-7 (measured worst
# over 16 to 1024 dimensions); 1e-3 leaves room for that and still sees almost any changed float.
UNIT_TOLERANCE = 1e-3

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
CREATE TABLE regions (
    doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, unit TEXT NOT NULL, number INTEGER NOT NULL
);
CREATE INDEX regions_doc ON regions(doc_id, start);
CREATE TABLE boxes (
    doc_id TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, page INTEGER NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL
);
CREATE INDEX boxes_doc ON boxes(doc_id, start);
"""
# A word box starts at most this many characters before a span that cuts into the word.
LONGEST_WORD = 200


@dataclass(frozen=True)
class Location:
    """Where a span of a document's text is in its file: page (PDF, scan), paragraph (DOCX, ODT) or
    slide (PPTX) where it starts, and the boxes of its lines on the pages ``(page, x0, y0, x1, y1)``."""

    page: int | None = None
    paragraph: int | None = None
    slide: int | None = None
    boxes: tuple[tuple[int, float, float, float, float], ...] = ()

    def fields(self) -> dict[str, Any]:
        """The parts that are known → a dict (``page``, ``paragraph``, ``slide``, ``boxes``): empty for plain text."""
        out: dict[str, Any] = {k: v for k, v in (("page", self.page), ("paragraph", self.paragraph),
                                                 ("slide", self.slide)) if v is not None}
        if self.boxes:
            out["boxes"] = [list(b) for b in self.boxes]
        return out


def merge_line_boxes(words: Sequence[tuple[int, float, float, float, float]]
                     ) -> tuple[tuple[int, float, float, float, float], ...]:
    """Word boxes in text order → one box per line: consecutive words on a page whose heights overlap."""
    out: list[tuple[int, float, float, float, float]] = []
    for page, x0, y0, x1, y1 in words:
        if out:
            p, a0, b0, a1, b1 = out[-1]
            if p == page and y0 < b1 and y1 > b0 and x0 >= a0:
                out[-1] = (p, a0, min(b0, y0), max(a1, x1), max(b1, y1))
                continue
        out.append((page, x0, y0, x1, y1))
    return tuple(out)




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
    """A file of the index is missing, truncated or edited: one line naming it and the command
    that rebuilds the index.

    ``what`` starts with the file's path in the generation (``vectors.npy is truncated …``);
    ``manifest`` is the generation's manifest when it could be read (None: read it again here,
    or salvage the roots from a damaged one). ``show_at`` names the index as the user gave it.
    """

    def __init__(self, gen_dir: Path, what: str, manifest: Mapping[str, Any] | None = None,
                 index_dir: str | os.PathLike[str] | None = None) -> None:
        self.gen_dir, self.what = Path(gen_dir), " ".join(what.split())  # one line, whatever an error said
        self.index_dir = Path(index_dir) if index_dir is not None else self.gen_dir.parent
        self._manifest = manifest
        super().__init__(self._message())

    def show_at(self, index_dir: str | os.PathLike[str]) -> IndexCorrupt:
        """The same error, naming the index directory as given (``index``, not its absolute path)."""
        self.index_dir = Path(index_dir)
        self.args = (self._message(),)
        return self

    def _message(self) -> str:
        return (f"the index at {self.index_dir} is damaged ({self.gen_dir.name}/{self.what}); "
                f"rebuild it with: {repair_command(self.index_dir, self.gen_dir, self._manifest)}")


def repair_command(index_dir: str | os.PathLike[str], gen_dir: Path | None = None,
                   manifest: Mapping[str, Any] | None = None) -> str:
    """An index directory (and its damaged generation, and manifest if readable) → the command that rebuilds it.

    A readable manifest records the roots, and ``build --index DIR`` without paths rebuilds
    from them. From a damaged manifest the roots (and embedder) are read back if their part of
    the text survived; otherwise the sources have to be named again.
    """
    index = shlex.quote(os.fspath(index_dir))
    readable = manifest is not None
    if manifest is None and gen_dir is not None:
        manifest, readable = _manifest_or_salvage(gen_dir)
    manifest = manifest or {}
    roots = manifest.get("roots") or []
    if readable and roots:
        return f"python -m pipeline build --index {index}"
    if roots:
        spec = manifest.get("embedder", {}).get("spec")
        embedder = f" --embedder {shlex.quote(spec)}" if spec else ""
        return f"python -m pipeline build {' '.join(shlex.quote(str(r)) for r in roots)} --index {index}{embedder}"
    why = ("its manifest, which lists them, is damaged" if not readable
           else "it records none: it holds only texts added through the API")
    return (f"python -m pipeline build FOLDER_OR_FILE ... --index {index}, naming the folders and files "
            f"it was built from ({why}), and --embedder SPEC if it was not built with the default embedder")


def _manifest_or_salvage(gen_dir: Path) -> tuple[dict[str, Any], bool]:
    """A generation → (its manifest, True), or what a damaged one still says — its ``roots`` and
    ``embedder.spec``, found in the raw text — and False."""
    try:
        raw = (gen_dir / "manifest.json").read_bytes()
    except OSError:
        return {}, False
    try:
        manifest = json.loads(raw.decode("utf-8"))
        if isinstance(manifest, dict):
            return manifest, True
    except ValueError:
        pass
    salvaged: dict[str, Any] = {}
    text = raw.decode("utf-8", "replace")
    with contextlib.suppress(ValueError, AttributeError):
        roots = json.loads(re.search(r'"roots":\s*(\[[^\]]*\])', text).group(1))  # type: ignore[union-attr]
        if isinstance(roots, list) and all(isinstance(r, str) and "\ufffd" not in r for r in roots):
            salvaged["roots"] = roots
    with contextlib.suppress(ValueError, AttributeError):
        # "spec" is a key of the embedder entry only (a path holding it would show as \"spec\").
        spec = json.loads(re.search(r'"spec":\s*("(?:[^"\\]|\\.)*")', text).group(1))  # type: ignore[union-attr]
        if isinstance(spec, str) and spec and "\ufffd" not in spec:
            salvaged["embedder"] = {"spec": spec}
    return salvaged, False


def read_manifest(index_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """An index directory → its live generation's manifest, without checking any other file (a
    damaged index still tells ``build`` its roots and embedder); from a damaged manifest what
    can be salvaged (``roots``, ``embedder.spec``); ``{}`` when there is no index."""
    gen = current_dir(index_dir)
    return _manifest_or_salvage(gen)[0] if gen is not None else {}


# --- checksums and checks ---------------------------------------------------------------------


class _Digest:
    """Bytes fed in order → size, SHA-256 of all of them and of the first HEAD_BYTES (a manifest entry)."""

    def __init__(self) -> None:
        self.size = 0
        self._all = hashlib.new(HASH)
        self._head = hashlib.new(HASH)

    def update(self, data: bytes | memoryview) -> None:
        if self.size < HEAD_BYTES:
            self._head.update(data[: HEAD_BYTES - self.size])
        self._all.update(data)
        self.size += len(data)

    def entry(self) -> dict[str, Any]:
        return {"size": self.size, HASH: self._all.hexdigest(), f"head_{HASH}": self._head.hexdigest()}


def _stream(path: Path, digest: Any, limit: int | None = None) -> None:
    """Feed a file (or its first ``limit`` bytes) to a digest, in blocks (a 1.5 GB file is never in memory)."""
    buf = bytearray(_READ_BYTES if limit is None else min(limit, _READ_BYTES))
    view = memoryview(buf)
    left = limit
    with open(path, "rb", buffering=0) as f:
        while left is None or left > 0:
            n = f.readinto(buf if left is None or left >= len(buf) else view[:left])  # type: ignore[arg-type]
            if not n:
                break
            digest.update(view[:n])
            if left is not None:
                left -= n


def file_entry(path: Path) -> dict[str, Any]:
    """A file → its manifest entry: ``{"size", "sha256", "head_sha256"}`` (one streaming read)."""
    digest = _Digest()
    _stream(path, digest)
    return digest.entry()


def _file_problem(path: Path, name: str, size: int | None = None) -> str | None:
    """A path that must be a regular file (of ``size`` bytes, if given) → what it is instead, or None.

    One ``stat``: a missing file, a folder or pipe in its place (never opened: a pipe would block
    the read) or another size.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"{name} is missing"
    except OSError as err:
        return f"{name} cannot be read ({err.strerror or err})"
    if stat.S_ISDIR(st.st_mode):
        return f"{name} is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        return f"{name} is not a regular file"
    if size is not None and st.st_size != size:
        return f"{name} is truncated or damaged: size {st.st_size}, expected {size} bytes"
    return None


def _recorded(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A manifest → its ``files`` entries (none for an index written before checksums).

    Raises ValueError for a list that is not what ``commit`` writes (an edited manifest), and
    for paths that leave the generation folder.
    """
    files = manifest.get("files", {})
    if not isinstance(files, dict):
        raise ValueError("its list of files is not a mapping")
    for name, entry in files.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("size"), int) or name.startswith("/")
                or ".." in name.split("/") or not isinstance(entry.get(f"head_{HASH}", ""), str)):
            raise ValueError(f"its entry for {name!r} is not a size and checksums")
    return files


def _head_problem(path: Path, name: str, entry: Mapping[str, Any]) -> str | None:
    """A file and its manifest entry → whether its first HEAD_BYTES still hash as recorded (one small read)."""
    expected = entry.get(f"head_{HASH}")
    if not expected:
        return None
    digest = hashlib.new(HASH)
    try:
        _stream(path, digest, HEAD_BYTES)
    except OSError as err:
        return f"{name} cannot be read ({err.strerror or err})"
    if digest.hexdigest() != expected:
        return f"{name} is damaged (its first {min(entry['size'], HEAD_BYTES)} bytes differ from those written at build time)"
    return None


def _sqlite_problem(path: Path, name: str) -> str | None:
    """An SQLite file → what its 100-byte header says is wrong (not SQLite, size ≠ page size × pages), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
            size = os.fstat(f.fileno()).st_size
    except OSError as err:
        return f"{name} cannot be read ({err.strerror or err})"
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        return f"{name} is truncated or damaged (it does not start with the SQLite header)"
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    # The page count in the header is valid when "version-valid-for" equals the change counter.
    if head[92:96] == head[24:28] and pages and size != page * pages:
        return f"{name} is truncated or damaged: size {size}, expected {page * pages} bytes ({pages} pages of {page})"
    return None


def _cheap_problems(gen: Path, manifest: Mapping[str, Any], with_texts: bool = False) -> Iterator[tuple[str, str]]:
    """A generation and its (parsed) manifest → (file, what is wrong) for what a look at its files
    finds, without reading them.

    Every listed file: present, a regular file, its recorded size, its first 4 KiB as recorded.
    Then the headers, which also guard an index written before checksums: ``.npy`` dtype, shape
    and size (chunk count and dimension from the manifest), SQLite's header and page count,
    FAISS's dimension and count, the BM25 matrix's. Milliseconds even at a million chunks.
    ``texts/`` (decoded copies, never read to answer; one file per non-UTF-8 document) only with
    ``with_texts`` — thousands of ``stat`` calls are not for every open.
    """
    try:
        recorded = _recorded(manifest)
        dim = int(manifest["embedder"]["dim"])
        n_chunks = int(manifest["counts"]["chunks"])
    except (ValueError, KeyError, TypeError) as err:
        yield "manifest.json", f"manifest.json is damaged or edited ({type(err).__name__}: {err})"
        return
    bad: set[str] = set()
    for name, entry in recorded.items():
        if name.startswith("texts/") and not with_texts:
            continue
        problem = _file_problem(gen / name, name, entry["size"]) or _head_problem(gen / name, name, entry)
        if problem:
            bad.add(name)
            yield name, problem
    headers: dict[str, Callable[[Path, str], str | None]] = {
        "index.sqlite3": _sqlite_problem,
        "vectors.npy": lambda p, n: vectorindex.npy_problem(p, n, "<f4", (n_chunks, dim)),
        "sentence_vectors.npy": lambda p, n: vectorindex.npy_problem(p, n, "<f4", (None, dim)),
        "vectors.faiss": lambda p, n: vectorindex.faiss_problem(p, n, dim, n_chunks),
    }
    for name, header in headers.items():
        if name not in bad:
            problem = _file_problem(gen / name, name) or header(gen / name, name)
            if problem:
                bad.add(name)
                yield name, problem
    lexical_dir = gen / lexicalindex.DIR
    if "lexical" in manifest and not any(b.startswith(lexicalindex.DIR + "/") for b in bad):
        rows = f"{lexicalindex.DIR}/rows.npy"
        problem = _file_problem(gen / rows, rows)
        if problem:
            yield rows, problem
            return
        for problem in lexicalindex.header_problems(lexical_dir, n_chunks):
            yield problem.split(" ", 1)[0], problem


@dataclass(frozen=True)
class CheckReport:
    """What a full check of a generation found: problems (one line each, starting with the file), what was read."""

    index_dir: Path
    gen_dir: Path
    problems: tuple[str, ...]
    files: int
    bytes: int
    checksums: bool  # False: an index written before checksums; its structure was checked, not its bytes
    seconds: float

    def summary(self) -> str:
        """The report → the lines ``python -m pipeline check`` prints."""
        if self.problems:
            return "\n".join(f"damaged: {self.gen_dir.name}/{p}" for p in self.problems)
        read = f"{self.files} files, {self.bytes / 1e6:,.1f} MB read in {self.seconds:.1f} s"
        if not self.checksums:
            return (f"Index {self.index_dir} ({self.gen_dir.name}) shows no damage, but was written before checksums: "
                    f"headers, sizes, SQLite's quick_check and FAISS were checked ({read}), the bytes of the vector "
                    f"and BM25 files could not be. Rebuild it to record checksums: "
                    f"{repair_command(self.index_dir, self.gen_dir)}")
        return f"Index {self.index_dir} ({self.gen_dir.name}) is intact: {read}, every byte as written at build time."

    def error(self) -> IndexCorrupt:
        """The first problem → the IndexCorrupt that names it and the repair (one line)."""
        more = f"; {len(self.problems) - 1} more listed above" if len(self.problems) > 1 else ""
        manifest, readable = _manifest_or_salvage(self.gen_dir)
        return IndexCorrupt(self.gen_dir, self.problems[0] + more, manifest if readable else None, self.index_dir)


def check_generation(gen_dir: str | os.PathLike[str], index_dir: str | os.PathLike[str] | None = None) -> CheckReport:
    """A generation folder → every problem found by reading all of it (a CheckReport; no problems: intact).

    1. the cheap checks of opening, here over ``texts/`` too;
    2. every listed file streamed against its SHA-256 (85 ms per 100 MB on an idle core here);
    3. ``PRAGMA quick_check``, SQLite's own structure check: what guards an index written before
       checksums (with a matching checksum the bytes are those the build wrote). It reads the file
       at about half the speed of hashing it: 0.64 s for the 166 MB of a 100,000-chunk index;
    4. opening the generation as a reader (sqlite counts, BM25 matrix) and, when its file has no
       checksum, loading FAISS.
    """
    t0 = time.perf_counter()
    gen = Path(gen_dir)
    shown = Path(index_dir) if index_dir is not None else gen.parent
    manifest, readable = _manifest_or_salvage(gen)
    if not readable:
        try:
            (gen / "manifest.json").read_bytes().decode("utf-8")
            why = "not JSON"
        except OSError as err:
            why = err.strerror or str(err)
        except ValueError:
            why = "not UTF-8 text"
        return CheckReport(shown, gen, (f"manifest.json is unreadable or edited ({why})",), 0, 0, False,
                           time.perf_counter() - t0)
    problems: list[str] = []
    bad: set[str] = set()
    for name, problem in _cheap_problems(gen, manifest, with_texts=True):
        problems.append(problem)
        bad.add(name)
    try:
        recorded = _recorded(manifest)
    except ValueError:
        recorded = {}
    files = read = 0
    for name, entry in recorded.items():
        if name in bad:
            continue
        digest = hashlib.new(HASH)
        try:
            _stream(gen / name, digest)
        except OSError as err:
            problems.append(f"{name} cannot be read ({err.strerror or err})")
            bad.add(name)
            continue
        files, read = files + 1, read + int(entry["size"])
        if digest.hexdigest() != entry.get(HASH):
            problems.append(f"{name} is damaged (its content differs from the SHA-256 recorded at build time)")
            bad.add(name)
    if "index.sqlite3" not in bad:
        problem = _quick_check(gen / "index.sqlite3")
        if problem:
            problems.append(problem)
            bad.add("index.sqlite3")
        elif not recorded:
            files, read = files + 1, read + (gen / "index.sqlite3").stat().st_size
    if not problems:
        try:
            reader = IndexReader(gen)
        except IndexCorrupt as err:
            problems.append(err.what)
        else:
            try:
                if HASH not in recorded.get("vectors.faiss", {}):
                    _ = reader.faiss_index  # reads the whole file: what can be checked without a checksum
            except IndexCorrupt as err:
                problems.append(err.what)
            finally:
                reader.close()
    return CheckReport(shown, gen, tuple(problems), files, read, bool(recorded), time.perf_counter() - t0)


def _quick_check(path: Path) -> str | None:
    """An SQLite file → what ``PRAGMA quick_check`` reports (b-tree pages, record formats), or None when ok."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
        finally:
            db.close()
    except sqlite3.DatabaseError as err:
        return f"index.sqlite3 is damaged ({err})"
    if found != ["ok"]:
        return f"index.sqlite3 is damaged (quick_check: {'; '.join(found)})"
    return None


def verify_generation(gen_dir: str | os.PathLike[str]) -> list[str]:
    """A generation folder → the problems a full read finds, one line each starting with the file ([]: intact)."""
    return list(check_generation(gen_dir).problems)


def check_index(index_dir: str | os.PathLike[str]) -> CheckReport:
    """An index directory → the full check of its live generation (IndexMissing if nothing was built)."""
    gen = current_dir(index_dir)
    if gen is None:
        raise IndexMissing(
            f"no index at {index_dir}; build one first: python -m pipeline build FOLDER_OR_FILE ... --index {index_dir}")
    return check_generation(gen, index_dir)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _reads_sqlite(method: _Method) -> _Method:
    """A reader method that queries ``index.sqlite3`` → the same method, raising IndexCorrupt when
    SQLite finds the file damaged (a malformed page, a table gone, a stored value not JSON).

    Misuse is not damage: a closed reader raises sqlite3.ProgrammingError as before. The
    ``try`` costs nothing while nothing is raised.
    """

    @functools.wraps(method)
    def guarded(self: IndexReader, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise
        except (sqlite3.DatabaseError, json.JSONDecodeError) as err:
            raise self.damaged(f"index.sqlite3 is damaged ({type(err).__name__}: {err})") from err

    return guarded  # type: ignore[return-value]


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
    """A read-only view of one generation: manifest, documents, chunks, vectors, FAISS.

    Opening checks every file cheaply (``_cheap_problems``); a damaged file found then, or by a
    question later (SQLite reporting a malformed page, a BM25 or vector row that no build
    wrote), raises IndexCorrupt naming it and the command that rebuilds the index.
    """

    def __init__(self, gen_dir: Path) -> None:
        self.dir = gen_dir
        self.index_dir = gen_dir.parent  # ``open`` sets it to the directory as the caller named it
        self._row_readers: dict[str, _RowReader] = {}
        self.db: sqlite3.Connection | None = None  # type: ignore[assignment]
        try:
            manifest = json.loads((gen_dir / "manifest.json").read_bytes().decode("utf-8"))
            if not isinstance(manifest, dict):
                raise TypeError(f"a JSON {type(manifest).__name__}, not an object")
            self.manifest: dict[str, Any] = manifest
            dim = int(self.manifest["embedder"]["dim"])
            n_chunks = int(self.manifest["counts"]["chunks"])
            str(self.manifest["embedder"]["id"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise IndexCorrupt(gen_dir, f"manifest.json is unreadable or edited ({type(err).__name__}: {err})") from err
        if self.manifest.get("format_version") != FORMAT_VERSION:
            raise IndexError_(
                f"{gen_dir} has index format {self.manifest.get('format_version')}, this version reads "
                f"{FORMAT_VERSION}; rebuild it with: {repair_command(gen_dir.parent, gen_dir, self.manifest)}"
            )
        self._n_chunks = n_chunks
        self._faiss = None
        self._df_table: str | None = None
        self._layout: bool | None = None  # whether this generation has the regions and boxes tables
        self._lexical: lexicalindex.LexicalIndex | None = None
        for _, problem in _cheap_problems(gen_dir, self.manifest):
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
            self.db = sqlite3.connect(f"file:{gen_dir / 'index.sqlite3'}?mode=ro", uri=True, check_same_thread=False)
            counted = self.db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
            n_sentences = self.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
            self.db.execute("SELECT COUNT(*) FROM documents").fetchone()
        except sqlite3.DatabaseError as err:
            raise self.damaged(f"index.sqlite3 is damaged ({err})") from err
        if counted != n_chunks:
            raise self.damaged(f"index.sqlite3 has {counted} chunks, the manifest says {n_chunks}")
        try:
            # Mapped now, not on first use: a reader keeps answering from its generation even after
            # a rebuild has made another one current and deleted this one (open files and mappings
            # outlive the names).
            self._vectors: np.ndarray | None = self._load("vectors.npy")
            self._sentence_vectors: np.ndarray | None = self._load("sentence_vectors.npy")
        except (OSError, ValueError, EOFError) as err:
            raise self.damaged(f"a vector file is missing or truncated ({err})") from err
        shapes = {"vectors.npy": self._vectors.shape, "sentence_vectors.npy": self._sentence_vectors.shape}
        for name, rows in (("vectors.npy", n_chunks), ("sentence_vectors.npy", n_sentences)):
            if shapes[name] != (rows, dim):
                raise self.damaged(f"{name} holds {shapes[name]}, expected ({rows}, {dim})")
        # The query-time row readers hold their files open from here on, for the same reason. Rows
        # the build wrote with length 1 are checked for it as they are read (see _RowReader).
        files = self.manifest.get("files", {})
        self._row_readers = {name: _RowReader(gen_dir / name, bool(files.get(name, {}).get("unit_rows")))
                             for name in shapes}
        # An index written before the BM25 matrix existed is scored by FTS5 (same ranking, slower).
        if "lexical" in self.manifest:
            try:
                self._lexical = lexicalindex.LexicalIndex(gen_dir / lexicalindex.DIR)
            except (OSError, ValueError, KeyError, TypeError, EOFError, IndexError) as err:
                raise self.damaged(self._locate(
                    [f"{lexicalindex.DIR}/{n}" for n in lexicalindex.FILES],
                    f"{lexicalindex.DIR}/ (the BM25 files) is missing or damaged ({err})")) from err

    def _load(self, name: str) -> np.ndarray:
        return np.load(self.dir / name, mmap_mode="r", allow_pickle=False)

    def damaged(self, what: str) -> IndexCorrupt:
        """What is wrong, starting with the file's path in the generation → the IndexCorrupt to raise."""
        return IndexCorrupt(self.dir, what, self.manifest, self.index_dir)

    def _locate(self, names: Sequence[str], otherwise: str) -> str:
        """Files that may hold the damage behind an error → the first whose checksum no longer matches,
        or ``otherwise``. Reads those files in full: only ever on the way to an error."""
        recorded = self.manifest.get("files", {})
        for name in names:
            entry = recorded.get(name) if isinstance(recorded, dict) else None
            if not isinstance(entry, dict) or HASH not in entry:
                continue
            problem = _file_problem(self.dir / name, name, entry.get("size"))
            if problem:
                return problem
            digest = hashlib.new(HASH)
            with contextlib.suppress(OSError):
                _stream(self.dir / name, digest)
                if digest.hexdigest() != entry[HASH]:
                    return f"{name} is damaged (its content differs from the SHA-256 recorded at build time)"
        return otherwise

    def verify(self) -> None:
        """Read every file of this generation against its checksums and run SQLite's quick_check →
        IndexCorrupt naming the first damaged file (nothing when intact).

        Seconds per GB (SHA-256 at 85 ms per 100 MB here): for ``build`` and ``check``, never per
        question. It finds what opening cannot: bytes changed inside a file.
        """
        problems = verify_generation(self.dir)
        if problems:
            more = (f"; {len(problems) - 1} more: python -m pipeline check --index {self.index_dir}"
                    if len(problems) > 1 else "")
            raise self.damaged(problems[0] + more)

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str], with_faiss: bool = False) -> IndexReader:
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
                reader.index_dir = Path(index_dir)
                if with_faiss:
                    _ = reader.faiss_index  # loaded now, so a damaged file fails here
                return reader
            except IndexError_ as err:
                if reader is not None:
                    reader.close()
                if current_dir(index_dir) == gen or attempt == 4:
                    if isinstance(err, IndexCorrupt):
                        err.show_at(index_dir)
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
        return self._take("vectors.npy", rows)

    def sentence_vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """Sentence rows → their vectors (len(rows), dim), read row by row from ``sentence_vectors.npy``."""
        return self._take("sentence_vectors.npy", rows)

    def _take(self, name: str, rows: Sequence[int]) -> np.ndarray:
        """Rows of a vector file → its vectors; a failed read or a row changed since the build → IndexCorrupt.

        A row outside the file stays an IndexError: that is the caller's row, not the file's damage.
        """
        try:
            return self._row_reader(name).take(rows)
        except (OSError, RowDamage) as err:
            raise self.damaged(f"{name} is damaged ({err})") from err

    def _row_reader(self, name: str) -> _RowReader:
        if name not in self._row_readers:
            self._row_readers[name] = _RowReader(self.dir / name)
        return self._row_readers[name]

    @property
    def sentence_vectors(self) -> np.ndarray:
        """All sentence vectors, memory-mapped (row i = sentence row i)."""
        if self._sentence_vectors is None:
            self._sentence_vectors = self._load("sentence_vectors.npy")
        return self._sentence_vectors

    @_reads_sqlite
    def sentence_rows_of(self, doc_ids: set[str]) -> dict[tuple[str, int, int], int]:
        """Documents → (doc id, start, end) → row of each of their sentences, in one query."""
        sql = 'SELECT doc_id, start, "end", row FROM sentences WHERE doc_id IN ({})'
        return {(d, a, b): r for d, a, b, r in _in_batches(self.db, sql, sorted(doc_ids))}

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
            raise self.damaged(self._locate(
                [f"{lexicalindex.DIR}/{n}" for n in lexicalindex.FILES],
                f"{lexicalindex.DIR}/ (the BM25 matrix) is damaged ({type(err).__name__}: {err})")) from err
        # Rows come from bm25/rows.npy: one outside the index can only be damage there.
        if found and not all(0 <= r < self._n_chunks for r, _ in found):
            bad = next(r for r, _ in found if not 0 <= r < self._n_chunks)
            raise self.damaged(f"{lexicalindex.DIR}/rows.npy is damaged (it names chunk row {bad}, "
                               f"the index has rows 0 to {self._n_chunks - 1})")
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
                _write_term_df(self.db, "temp")
            self._df_table = "term_df"
        row = self.db.execute(f"SELECT df FROM {self._df_table} WHERE term = ?", (term,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def faiss_index(self):  # type: ignore[no-untyped-def]
        if self._faiss is None:
            try:
                index = vectorindex.open_index(self.dir / "vectors.faiss", self.manifest.get("faiss"))
            except (RuntimeError, MemoryError, ValueError) as err:  # faiss reports truncated or garbled files this way
                raise self.damaged("vectors.faiss is truncated or damaged (FAISS cannot read it)") from err
            if index.ntotal != len(self.vectors) or index.d != self.vectors.shape[1]:
                raise self.damaged(f"vectors.faiss holds {index.ntotal} vectors of dimension {index.d}, "
                                   f"expected {len(self.vectors)} of {self.vectors.shape[1]}")
            self._faiss = index
        return self._faiss

    @_reads_sqlite
    def documents(self) -> list[Document]:
        rows = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents ORDER BY source"
        ).fetchall()
        return [_document(r) for r in rows]

    @_reads_sqlite
    def document(self, doc_id: str) -> Document:
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        if row is None:
            raise KeyError(doc_id)
        return _document(row)

    @_reads_sqlite
    def document_by_source(self, source: str) -> Document | None:
        """A source as indexed (path, or ``text:<id>``) → its document, or None."""
        row = self.db.execute(
            "SELECT id, source, text, title, date, lang, kept, meta FROM documents WHERE source = ?", (source,)
        ).fetchone()
        return _document(row) if row else None

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
            out.append({"source": source, "title": title or "", "date": date or "", "lang": lang or "",
                        "format": info.get("format", ""), "indexed": info.get("indexed", ""), "chunks": chunks})
        return out

    @_reads_sqlite
    def rows_of(self, doc_ids: Sequence[str]) -> list[int]:
        """Document ids → the rows of their chunks, in row order."""
        return sorted(r for (r,) in _in_batches(self.db, "SELECT row FROM chunks WHERE doc_id IN ({})", list(doc_ids)))

    @_reads_sqlite
    def chunks(self, rows: Sequence[int] | None = None) -> list[Chunk]:
        """Chunk rows → chunks (all of them, in row order, when rows is None)."""
        sql = 'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks'
        if rows is None:
            return [_chunk(r) for r in self.db.execute(sql + " ORDER BY row")]
        by_row = {r[0]: _chunk(r) for r in _in_batches(self.db, sql + " WHERE row IN ({})", list(rows))}
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
            "ORDER BY start", (doc_id, start - LONGEST_WORD, end, start)
        ).fetchall()
        unit, number = region if region else (None, None)
        return Location(page=number if unit == "page" else None, paragraph=number if unit == "paragraph" else None,
                        slide=number if unit == "slide" else None, boxes=merge_line_boxes(words))

    def _has_layout(self) -> bool:
        if self._layout is None:
            self._layout = bool(self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'boxes'").fetchone())
        return self._layout

    @_reads_sqlite
    def chunk_by_id(self, chunk_id: str) -> Chunk | None:
        row = self.db.execute(
            'SELECT row, id, doc_id, start, "end", text, context, sentences FROM chunks WHERE id = ?', (chunk_id,)
        ).fetchone()
        return _chunk(row) if row else None

    @_reads_sqlite
    def duplicate_groups(self) -> dict[str, str]:
        """doc id → near-duplicate group id, for documents in a group."""
        return dict(self.db.execute("SELECT id, dup_group FROM documents WHERE dup_group IS NOT NULL"))

    @_reads_sqlite
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
        if self.db is not None:
            self.db.close()
        for reader in self._row_readers.values():
            reader.close()
        self._row_readers.clear()


class RowDamage(ValueError):
    """Rows read from a vector file are not those the build wrote (cut short, or changed)."""


class _RowReader:
    """Rows of a float32 ``.npy`` matrix read with ``pread``, for query time.

    Indexing the memory map with a list of rows made the process map in the whole file
    (measured: 100 rows of a 46 MB file raised RssFile by 42 MB; at 1M chunks the two vector
    files are 5.5 GB): a serving process reads the few rows it scores and nothing more.
    """

    def __init__(self, path: Path, unit_rows: bool = False) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        with open(path, "rb") as f:
            shape, _, _ = vectorindex._header(f)
            self._offset = f.tell()
        self.n, self.dim = int(shape[0]), int(shape[1])
        self._row_bytes = 4 * self.dim
        # The build wrote rows of length 1 (or 0) only, and said so in the manifest: a row read
        # with another length was changed on disk since. A float overwritten with random bits
        # changes the length unless its new value happens to be about as large as the old one
        # (for a component that was 0: below 0.03 in size, half of random floats), so 64 random
        # bytes (16 floats) in a row fail this with near certainty. It costs one dot product per
        # row read, and finds the damage when it would change an answer: when the row is used.
        self._unit_rows = unit_rows

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
            data = os.pread(self._fd, self._row_bytes * (b - a), self._offset + first[a] * self._row_bytes)
            if len(data) != self._row_bytes * (b - a):
                raise RowDamage(f"row {first[a] + len(data) // self._row_bytes} lies beyond its end: it was cut short")
            view[a * self._row_bytes : b * self._row_bytes] = data
        block = np.frombuffer(buf, dtype=np.float32).reshape(len(unique), self.dim)
        if self._unit_rows:
            squares = np.einsum("ij,ij->i", block, block)
            off = np.flatnonzero(~((np.abs(squares - 1) <= UNIT_TOLERANCE) | (squares == 0)))
            if len(off):
                raise RowDamage(f"row {int(unique[off[0]])} no longer has the length 1 it was written with "
                                 f"(its squared length is {float(squares[off[0]]):.6g})")
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
        self.db.executemany('INSERT INTO regions (doc_id, start, "end", unit, number) VALUES (?, ?, ?, ?, ?)',
                            [(doc.id, r.start, r.end, r.unit, r.number) for r in doc.regions])
        self.db.executemany('INSERT INTO boxes (doc_id, start, "end", page, x0, y0, x1, y1) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
                            [(doc.id, b.start, b.end, b.page, b.x0, b.y0, b.x1, b.y1) for b in doc.boxes])
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
        hashed = {"vectors.npy": self._vectors.finish(), "sentence_vectors.npy": self._sentence_vectors.finish()}
        built = vectorindex.build(self.dir / "vectors.npy", self.dir / "vectors.faiss", self.vector_index)
        manifest = {**manifest, "format_version": FORMAT_VERSION, "faiss": built, "lexical": lexical_built,
                    "files": self._file_entries(hashed)}
        # Written last (after every file it describes), and made live only by the rename below.
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


class _RowFile:
    """float32 rows appended to ``<path>.part`` as they come; ``finish`` turns them into ``path`` (.npy).

    The .npy header holds the row count, unknown until the end, so rows are written raw first
    and copied behind the header once, with plain reads and writes.
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path, self.dim, self.rows = path, dim, 0
        self.part = path.with_name(path.name + ".part")
        self._f = open(self.part, "wb")
        self.unit_rows = True  # every row of length 1 or 0 so far (a reader checks the rows it reads)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.dim:
            raise ValueError(f"vectors of shape {rows.shape} do not fit an index of dimension {self.dim}")
        if self.unit_rows and len(rows):
            # Stricter than the reader's tolerance, so a row that passes here never fails there.
            squares = np.einsum("ij,ij->i", rows, rows)
            self.unit_rows = bool(np.all((np.abs(squares - 1) <= UNIT_TOLERANCE / 10) | (squares == 0)))
        self._f.write(rows.tobytes())
        self.rows += len(rows)

    def finish(self) -> dict[str, Any]:
        """Write ``path`` (header, then the rows) → its manifest entry, hashed on the way (no second read)."""
        self._f.close()
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
                  "shape": (self.rows, self.dim)}
        digest = _Digest()
        head = io.BytesIO()
        np.lib.format.write_array_header_1_0(head, header)
        with open(self.path, "wb") as out, open(self.part, "rb") as raw:
            out.write(head.getvalue())
            digest.update(head.getvalue())
            while block := raw.read(16 << 20):
                digest.update(block)
                out.write(block)
        self.part.unlink()
        return {**digest.entry(), "unit_rows": self.unit_rows}

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
