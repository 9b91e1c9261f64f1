"""Milvus as the store questions search (``store.kind = "milvus"``): chunks in collections, BM25 by Milvus.

The generation on disk stays the source of truth for documents, sentences, offsets and citations;
Milvus holds a mirror of its chunks and answers the two candidate searches a question makes:

- dense: the chunk vectors, indexed as FAISS would index them (``vectors.choose``: FLAT while small, HNSW
  with SQ8 from ``vector_index.exact_below`` chunks on; inner product = cosine, the vectors being unit length);
- lexical: Milvus' BM25 function over each chunk's *terms* — the German/English-stemmed, stopword-free
  terms the embedded index scores (``lexical`` table), joined by spaces and split again by Milvus'
  ``standard`` tokenizer. Milvus Lite has only the ``standard`` and ``jieba`` tokenizers (no stemmer,
  no German), so the analysis that handles both languages is belegt's own, done before Milvus sees the
  text; Milvus computes term statistics and scores (k1 = 1.2, b = 0.75, as the embedded index).

Each hit comes back with its chunk row, document id, source, offsets and text, so a Milvus client
outside belegt can cite too; belegt takes the rows and scores them as it scores FAISS's and the BM25
matrix's rows (``query/retrieval.py``, unchanged apart from asking ``reader.dense_index``).

With ``store.milvus_sentences`` the generation's sentence vectors go to a second collection
(``<chunk collection>_sentences``: sentence row, document id, offsets, vector), and the reader's
``sentence_vectors_at`` — how a question scores the sentences it may cite — reads them from there, so
the serving machine needs no ``sentence_vectors.npy``. The vectors come back as stored (float32) and
the products are computed here, as from the file: answers are the same to the bit.

Generations: a build writes the new generation's chunks to a collection of its own
(``<prefix>_gen_…``), flushed and loaded *before* the index directory's ``current`` link moves, then
points the alias ``<prefix>_chunks`` at it (``alter_alias``: atomic in Milvus) and drops collections
older than the previous one. A reader queries the collection of the generation it opened, never a
half-written one; a reader opened before a rebuild keeps answering (its collection is kept one build
longer, as its files are kept open on disk).
"""
# Size: over 400 lines on purpose. The whole Milvus store in one module — names, writing a generation's
# collections, moving the alias, reading — because every part depends on the same collection names and turns
# pymilvus' errors into the same MilvusUnavailable; split up, each part would import the others.

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..settings import StoreSettings, VectorIndexSettings
from . import bm25, vectors
from .errors import IndexProblem
from .layout import current_dir, read_manifest
from .reader import IndexReader

if TYPE_CHECKING:
    from pymilvus import MilvusClient

ROWS_PER_INSERT = 2_000  # rows per insert call: a few MB of vectors per gRPC message (the limit is 64 MB)
TEXT_BYTES = 60_000  # VARCHAR holds at most 65,535 bytes; chunks are far shorter (chunking.max_chars)
SETTING = "store.milvus_uri (BELEGT_STORE__MILVUS_URI, or [store] milvus_uri in belegt.toml)"
_clients: dict[tuple[str, str], MilvusClient] = {}


class MilvusUnavailable(IndexProblem):
    """Milvus cannot be reached or used, or lacks a generation's collection; the message says what to set or run."""


def uri_of(index_dir: str | Path, store: StoreSettings) -> str:
    """An index directory and the store settings → the Milvus URI (default: ``<index dir>/milvus.db``)."""
    return store.milvus_uri or str(Path(index_dir).absolute() / "milvus.db")


def prefix_of(index_dir: str | Path) -> str:
    """An index directory → the prefix of its collections: its name, and a hash of its absolute path, so two
    indexes of the same name sharing one Milvus server keep apart."""
    path = Path(index_dir).absolute()
    name = re.sub(r"\W", "_", path.name, flags=re.ASCII)[:40]
    return f"belegt_{name}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"


def collection_of(index_dir: str | Path, generation: str) -> str:
    """An index directory and a generation's name (``gen-…``) → the name of that generation's collection."""
    return prefix_of(index_dir) + "_" + re.sub(r"\W", "_", generation, flags=re.ASCII)


def sentences_of(collection: str) -> str:
    """A generation's chunk collection → the name of its sentence collection (``store.milvus_sentences``)."""
    return collection + "_sentences"


def alias_of(index_dir: str | Path) -> str:
    """An index directory → the alias that names its live collection."""
    return f"{prefix_of(index_dir)}_chunks"


def connect(index_dir: str | Path, store: StoreSettings) -> MilvusClient:
    """Store settings → a client (one per URI and process); what cannot work → MilvusUnavailable naming the setting."""
    uri = uri_of(index_dir, store)
    token = os.environ.get(store.milvus_token_env, "") if store.milvus_token_env else ""
    if (uri, token) in _clients:
        return _clients[(uri, token)]
    if uri.endswith(".db"):
        if not Path(uri).parent.is_dir():
            raise MilvusUnavailable(f"{SETTING} = {uri!r}: the folder {Path(uri).parent} does not exist")
    elif not re.match(r"(https?|tcp|unix)://?", uri):
        raise MilvusUnavailable(
            f"{SETTING} = {uri!r} is not a Milvus address: use a file ending in .db (Milvus Lite) "
            "or http://HOST:19530 (a Milvus server)"
        )
    try:
        from pymilvus import MilvusClient
    except ImportError as err:
        raise MilvusUnavailable(
            "store.kind = 'milvus' needs pymilvus and milvus-lite: pip install -c constraints.txt -e '.[milvus]'"
        ) from err
    try:
        client = MilvusClient(uri=uri, token=token, timeout=10)
        client.list_collections()
    except Exception as err:  # pymilvus raises its own exceptions and gRPC's; all mean "not usable"
        # pymilvus says only "Open local milvus failed" when another process holds a Milvus Lite folder's lock.
        hint = (
            "; Milvus Lite serves one process at a time: is another one (a chat, a build) using it? Stop it, "
            "or use a Milvus server (http://HOST:19530)"
            if uri.endswith(".db")
            else ""
        )
        raise MilvusUnavailable(
            f"cannot use Milvus at {SETTING} = {uri!r} ({type(err).__name__}: {err}){hint}"
        ) from err
    _clients[(uri, token)] = client
    return client


def _rows(gen_dir: Path) -> Iterator[list[dict[str, Any]]]:
    """A finished generation → its chunks as Milvus rows, ``ROWS_PER_INSERT`` at a time, in row order."""
    matrix = np.load(gen_dir / "vectors.npy", mmap_mode="r", allow_pickle=False)
    db = sqlite3.connect(f"file:{gen_dir / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        cursor = db.execute(
            'SELECT c.row, c.doc_id, d.source, c.start, c."end", c.text, l.terms FROM chunks c '
            "JOIN documents d ON d.id = c.doc_id JOIN lexical l ON l.rowid = c.row ORDER BY c.row"
        )
        while batch := cursor.fetchmany(ROWS_PER_INSERT):
            yield [
                {
                    "row": row,
                    "doc_id": doc_id,
                    "source": _clip(source),
                    "start": start,
                    "end": end,
                    "text": _clip(text),
                    "terms": _clip(terms),
                    "vector": np.asarray(matrix[row], dtype=np.float32),
                }
                for row, doc_id, source, start, end, text, terms in batch
            ]
    finally:
        db.close()


def _sentence_rows(gen_dir: Path) -> Iterator[list[dict[str, Any]]]:
    """A finished generation → its sentences (row, document, offsets, vector) as Milvus rows, in row order."""
    matrix = np.load(gen_dir / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
    db = sqlite3.connect(f"file:{gen_dir / 'index.sqlite3'}?mode=ro", uri=True)
    try:
        cursor = db.execute('SELECT row, doc_id, start, "end" FROM sentences ORDER BY row')
        while batch := cursor.fetchmany(ROWS_PER_INSERT):
            yield [
                {
                    "row": row,
                    "doc_id": doc_id,
                    "start": start,
                    "end": end,
                    "vector": np.asarray(matrix[row], dtype=np.float32),
                }
                for row, doc_id, start, end in batch
            ]
    finally:
        db.close()


def _clip(text: str) -> str:
    """Text → at most ``TEXT_BYTES`` bytes of it in UTF-8 (whole characters)."""
    data = text.encode("utf-8")
    return text if len(data) <= TEXT_BYTES else data[:TEXT_BYTES].decode("utf-8", "ignore")


def _create(client: MilvusClient, name: str, dim: int, n: int, vector_index: VectorIndexSettings) -> None:
    """A collection name, the vector dimension and row count → an empty collection with BM25 and vector indexes."""
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
    schema.add_field("source", DataType.VARCHAR, max_length=65_535)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535)
    # Terms are already stemmed and folded (text.lexical): the standard tokenizer only splits them again.
    schema.add_field(
        "terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params={"tokenizer": "standard"}
    )
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]
        )
    )
    params = client.prepare_index_params()
    # The index FAISS would build for n vectors (vectors.choose), in Milvus' names: FLAT, HNSW(_SQ), IVF_FLAT/SQ8.
    chosen = vectors.choose(n, vector_index)
    build = dict(chosen["params"])
    for search_time in ("efSearch", "nprobe"):  # MilvusDense sends these with each search
        build.pop(search_time, None)
    kind = {"Flat": "FLAT", "IndexHNSWSQ": "HNSW_SQ", "IndexHNSWFlat": "HNSW", "IndexIVFFlat": "IVF_FLAT"}.get(
        "Flat" if chosen["factory"] == "Flat" else chosen["type"], "IVF_SQ8"
    )
    if kind == "HNSW_SQ":
        build["sq_type"] = "SQ8"
    params.add_index("vector", index_type=kind, metric_type="IP")
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    # pymilvus 3 sends build parameters as flat pairs (M=32), which Milvus Lite 3.2 drops without a word (its
    # specs then show no build_params and BM25 runs with k1 = 1.5); both it and a Milvus server read them as
    # one JSON "params" entry, which the dict get_index_configs returns (the one pymilvus sends) can carry.
    params[0].get_index_configs()["params"] = build
    params[1].get_index_configs()["params"] = {"bm25_k1": bm25.K1, "bm25_b": bm25.PARAMS["b"]}
    client.create_collection(name, schema=schema, index_params=params)


def _create_sentences(client: MilvusClient, name: str, dim: int) -> None:
    """A collection name and the vector dimension → an empty sentence collection. Questions read it by row; its
    FLAT index is what Milvus needs to load a collection (and lets another client search sentences exactly)."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=256)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    params = client.prepare_index_params()
    params.add_index("vector", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params)


def write_generation(
    gen_dir: Path, generation: str, index_dir: Path, store: StoreSettings, vector_index: VectorIndexSettings
) -> str:
    """A finished generation (files and manifest written, not yet live) → its chunks in a new, flushed and loaded
    collection (and with ``store.milvus_sentences`` its sentences in another); returns the chunk collection's
    name. A collection of the same name (a killed build's) is replaced."""
    name = collection_of(index_dir, generation)
    matrix = np.load(gen_dir / "vectors.npy", mmap_mode="r", allow_pickle=False)
    _write(
        index_dir,
        store,
        name,
        lambda c: _create(c, name, int(matrix.shape[1]), len(matrix), vector_index),
        _rows(gen_dir),
    )
    if store.milvus_sentences:
        write_sentences(gen_dir, generation, index_dir, store)
    return name


def write_sentences(gen_dir: Path, generation: str, index_dir: Path, store: StoreSettings) -> str:
    """A finished generation → its sentence vectors in a new, flushed and loaded collection; returns its name."""
    name = sentences_of(collection_of(index_dir, generation))
    dim = int(np.load(gen_dir / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False).shape[1])
    _write(index_dir, store, name, lambda c: _create_sentences(c, name, dim), _sentence_rows(gen_dir))
    return name


def _write(
    index_dir: Path,
    store: StoreSettings,
    name: str,
    create: Callable[[MilvusClient], None],
    batches: Iterator[list[dict[str, Any]]],
) -> None:
    """A collection's name, how to create it and its rows → the collection written, flushed and loaded (one of the
    same name, a killed build's, replaced); any failure → MilvusUnavailable saying the previous index stays live."""
    client = connect(index_dir, store)
    try:
        if client.has_collection(name):
            client.drop_collection(name)
        create(client)
        for batch in batches:
            client.insert(name, batch)
        client.flush(name)
        client.load_collection(name)
    except MilvusUnavailable:
        raise
    except Exception as err:  # pymilvus' and gRPC's errors: the build fails and the old index stays live
        raise MilvusUnavailable(
            f"writing collection {name} to Milvus at {uri_of(index_dir, store)!r} failed "
            f"({type(err).__name__}: {err}); the previous index is still live"
        ) from err


def publish(index_dir: Path, store: StoreSettings) -> None:
    """The live generation's collection → the index's alias moved to it (atomically, in Milvus); of the other
    generations' collections (chunks and sentences) only the one before it is kept (a reader opened before this
    build keeps its own), the rest, killed builds' included, are dropped."""
    live = current_dir(index_dir)
    if live is None:
        return
    client = connect(index_dir, store)
    name, alias = collection_of(index_dir, live.name), alias_of(index_dir)
    try:
        if alias not in client.list_aliases()["aliases"]:
            client.create_alias(name, alias)
        elif client.describe_alias(alias)["collection_name"] != name:
            client.alter_alias(name, alias)
        # Generation names start with their time (gen-YYYYmmddTHHMMSS-…), so the names sort as they were built.
        # A sentence collection goes with its generation's chunk collection (its name and a suffix).
        ours = [c for c in client.list_collections() if c.startswith(prefix_of(index_dir) + "_gen_")]
        chunks = sorted({c.removesuffix(sentences_of("")) for c in ours})
        keep = {name, *[c for c in chunks if c < name][-1:]}
        for old in ours:
            if old.removesuffix(sentences_of("")) not in keep:
                client.drop_collection(old)
    except Exception as err:
        raise MilvusUnavailable(f"moving alias {alias} to {name} failed ({type(err).__name__}: {err})") from err


def ensure_live(index_dir: Path, store: StoreSettings, vector_index: VectorIndexSettings) -> None:
    """An index whose live generation has no complete collection (built with the embedded store, or a build that
    found nothing to change, or ``store.milvus_sentences`` switched on since) → one written for it; then the
    alias moved. Nothing is rewritten when it has them."""
    live = current_dir(index_dir)
    if live is None:
        return
    name = collection_of(index_dir, live.name)
    if _count(index_dir, store, name) != read_manifest(index_dir).chunks:
        write_generation(live, live.name, index_dir, store, vector_index)
    elif store.milvus_sentences and _count(index_dir, store, sentences_of(name)) != _sentence_count(live):
        write_sentences(live, live.name, index_dir, store)
    publish(index_dir, store)


def _count(index_dir: Path, store: StoreSettings, name: str) -> int:
    """A collection's name → its row count in Milvus (-1 when there is none)."""
    client = connect(index_dir, store)
    try:
        return int(client.get_collection_stats(name)["row_count"]) if client.has_collection(name) else -1
    except Exception as err:
        raise MilvusUnavailable(f"Milvus at {uri_of(index_dir, store)!r} cannot be asked ({err})") from err


def _sentence_count(gen_dir: Path) -> int:
    """A generation → how many sentences it has (the rows of its sentence vectors)."""
    return int(np.load(gen_dir / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False).shape[0])


class MilvusDense:
    """The chunk vectors of one generation's collection, searched as ``IndexReader.faiss_index`` is searched."""

    def __init__(self, reader: MilvusReader) -> None:
        self.reader = reader
        self.ntotal = reader.manifest.chunks
        self.d = reader.manifest.embedder.dim

    def params(self, k: int) -> dict[str, int]:
        """k → the search-time parameters the build chose for FAISS (manifest), which the collection was built like."""
        chosen = dict((self.reader.manifest.faiss or {}).get("params", {}))
        out = {"ef": max(k, int(chosen["efSearch"]))} if "efSearch" in chosen else {}
        return out | ({"nprobe": int(chosen["nprobe"])} if "nprobe" in chosen else {})

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Query vectors (n, d) and k → (similarities, chunk rows), each (n, k), padded with -1 as FAISS pads."""
        found = self.reader.milvus_search(
            [q.tolist() for q in queries], "vector", k, {"metric_type": "IP", "params": self.params(k)}
        )
        sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for i, hits in enumerate(found):
            for j, (row, score) in enumerate(hits[:k]):
                sims[i, j], rows[i, j] = score, row
        return sims, rows


class MilvusReader(IndexReader):
    """An ``IndexReader`` whose dense and BM25 candidates come from the generation's Milvus collection, and with
    ``store.milvus_sentences`` its sentence vectors too (everything else — chunks, sentences' offsets, documents —
    from the generation on disk)."""

    client: MilvusClient | None = None
    collection = ""
    sentences = ""  # the sentence collection questions read vectors from; "": sentence_vectors.npy
    uri = ""

    def attach(self, client: MilvusClient, collection: str, uri: str, sentences: bool = False) -> None:
        """A client and this generation's collection (and, if ``sentences``, its sentence collection) → searches
        and sentence vectors come from there; a missing or incomplete one → MilvusUnavailable."""
        self.client, self.collection, self.uri = client, collection, uri
        expected = {collection: ("chunks", self.manifest.chunks)}
        if sentences:
            self.sentences = sentences_of(collection)
            expected[self.sentences] = ("sentences", self.n_sentences)
        for name, (what, n) in expected.items():
            try:
                present = client.has_collection(name)
                count = int(client.get_collection_stats(name)["row_count"]) if present else 0
                if present:  # Milvus Lite releases every collection when its process ends; a loaded one stays loaded
                    client.load_collection(name)
            except Exception as err:
                raise MilvusUnavailable(f"Milvus at {uri!r} cannot be asked ({type(err).__name__}: {err})") from err
            if not present or count != n:
                found = "has no collection" if not present else f"holds {count} of its {n} {what}"
                setting = " and store.milvus_sentences = true" if name == self.sentences else ""
                raise MilvusUnavailable(
                    f"Milvus at {uri!r} {found} for generation {self.dir.name} of {self.index_dir} ({name}); "
                    f"build it with store.kind = 'milvus'{setting}: python -m pipeline build --index {self.index_dir}"
                )

    def sentence_vectors_at(self, rows: Sequence[int]) -> np.ndarray:
        """Sentence rows → their vectors (len(rows), dim), from the sentence collection when the reader has one
        (float32 as stored: the same bits as ``sentence_vectors.npy``), else from the file."""
        if not self.sentences:
            return super().sentence_vectors_at(rows)
        if self.client is None:
            raise MilvusUnavailable(f"the reader of {self.dir} is not attached to Milvus")
        wanted = sorted({int(r) for r in rows})
        if wanted and not (0 <= wanted[0] and wanted[-1] < self.n_sentences):
            raise IndexError(f"sentence row outside 0..{self.n_sentences - 1}")  # the caller's row, as for the file
        try:
            found = self.client.get(self.sentences, ids=wanted, output_fields=["vector"]) if wanted else []
        except Exception as err:
            raise MilvusUnavailable(
                f"reading sentence vectors from {self.sentences} in Milvus at {self.uri!r} failed "
                f"({type(err).__name__}: {err})"
            ) from err
        by_row = {int(h["row"]): h["vector"] for h in found}
        if len(by_row) != len(wanted):
            lost = next(r for r in wanted if r not in by_row)
            raise MilvusUnavailable(f"{self.sentences} in Milvus at {self.uri!r} has no sentence row {lost}")
        out = np.asarray([by_row[int(r)] for r in rows], dtype=np.float32)
        return out.reshape(len(rows), self.manifest.embedder.dim)

    @property
    def dense_index(self) -> MilvusDense:
        return MilvusDense(self)

    def lexical_search(self, terms: Sequence[str], k: int) -> list[tuple[int, float]]:
        """Query terms → (chunk row, BM25 score by Milvus; higher is better) of the k best chunks containing any."""
        if not terms:
            return []
        # Milvus Lite reports BM25 as a distance (minus the score), a Milvus server as the score: either way the size.
        return [(r, abs(s)) for r, s in self.milvus_search([" ".join(terms)], "sparse", k, {"metric_type": "BM25"})[0]]

    def milvus_search(
        self, data: list[Any], field: str, k: int, params: dict[str, Any]
    ) -> list[list[tuple[int, float]]]:
        """Queries (vectors or text) on one field → per query the (row, score) of the k best chunks."""
        if self.client is None:
            raise MilvusUnavailable(f"the reader of {self.dir} is not attached to Milvus")
        try:
            found = self.client.search(
                self.collection, data=data, anns_field=field, limit=k, search_params=params, output_fields=["row"]
            )
        except Exception as err:
            raise MilvusUnavailable(
                f"searching {self.collection} in Milvus at {self.uri!r} failed ({type(err).__name__}: {err})"
            ) from err
        return [[(int(h["entity"]["row"]), float(h["distance"])) for h in hits] for hits in found]


def open_reader(index_dir: str | Path, store: StoreSettings, with_faiss: bool = False) -> IndexReader:
    """An index directory and the store settings → a reader of its live generation, searching Milvus when
    ``store.kind`` is 'milvus' (FAISS and the BM25 matrix otherwise)."""
    if store.kind == "embedded":
        return IndexReader.open(index_dir, with_faiss=with_faiss)
    reader = MilvusReader.open(index_dir, elsewhere=_elsewhere(store))
    assert isinstance(reader, MilvusReader)  # open() makes an instance of the class it is called on
    return _attached(reader, index_dir, store)


def open_generation(gen_dir: Path, index_dir: str | Path, store: StoreSettings) -> IndexReader:
    """One generation's folder → its reader, searching Milvus when ``store.kind`` is 'milvus'."""
    if store.kind == "embedded":
        return IndexReader(gen_dir)
    reader = MilvusReader(gen_dir, _elsewhere(store))
    reader.index_dir = Path(index_dir)
    return _attached(reader, index_dir, store)


def _elsewhere(store: StoreSettings) -> frozenset[str]:
    """Store settings → the generation's files a Milvus reader does not need (their content is in Milvus)."""
    return frozenset({"sentence_vectors.npy"}) if store.milvus_sentences else frozenset()


def _attached(reader: MilvusReader, index_dir: str | Path, store: StoreSettings) -> MilvusReader:
    """A reader of one generation → the same reader searching that generation's collection (closed on failure)."""
    try:
        reader.attach(
            connect(index_dir, store),
            collection_of(index_dir, reader.dir.name),
            uri_of(index_dir, store),
            store.milvus_sentences,
        )
    except BaseException:
        reader.close()
        raise
    return reader
