"""Vector index: a ``vectors.npy`` file → the FAISS index that searches it, chosen by size.

Below ``exact_below`` chunks the index is exact (``IndexFlatIP``). Above it, an approximate
index with one byte per dimension (SQ8): HNSW (graph, the default) or IVF (inverted lists).
At a million 384-dimensional chunks the exact index alone would hold 1.5 GB of float32;
IVF-SQ8 holds 0.4 GB (HNSW-SQ8 about 0.7 GB). The retriever re-scores the approximate candidates exactly from
``vectors.npy`` (rows read with ``pread``), so the order it reports is exact among the candidates.

What was built — type, factory string, parameters — goes into the manifest (``faiss``) and
the search-time parameters (``nprobe``, ``efSearch``) are applied when the index is opened.
A manifest without them (older indexes) is flat.

Vectors are read from disk in blocks with ``read()``, not through a memory map, so a build
does not count the whole file in its resident memory.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import numpy as np

from ..settings import VectorIndexSettings

if TYPE_CHECKING:
    import faiss  # for annotations only: the functions below import it when they run

BLOCK_ROWS = 65_536


def npy_blocks(path: str | Path, rows: int = BLOCK_ROWS) -> Iterator[np.ndarray]:
    """A 2-D float32 ``.npy`` file → its rows in consecutive blocks, read with plain file reads."""
    with open(path, "rb") as f:
        shape, fortran, dtype = npy_header(f)
        if fortran or dtype != np.float32 or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-ordered float32 matrix, got {dtype} {shape}")
        n, dim = shape
        for start in range(0, n, rows):
            count = min(rows, n - start)
            block = np.fromfile(f, dtype=np.float32, count=count * dim)
            if block.size != count * dim:
                raise ValueError(f"{path} is truncated")
            yield block.reshape(count, dim)


def npy_header(f: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """An open .npy file → (shape, fortran_order, dtype); the file is left at the first data byte."""
    major, _ = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    return read(f)


def npy_layout(path: str | Path) -> tuple[tuple[int, ...], bool, np.dtype, int, int]:
    """A ``.npy`` file → (shape, fortran_order, dtype, offset of the first data byte, file size), from its header."""
    with open(path, "rb") as f:
        shape, fortran, dtype = npy_header(f)
        offset = f.tell()
        size = os.fstat(f.fileno()).st_size
    return tuple(int(n) for n in shape), bool(fortran), np.dtype(dtype), offset, size


def npy_problem(path: str | Path, name: str, dtype: str, shape: tuple[int | None, ...]) -> str | None:
    """A ``.npy`` file (a regular file), the dtype (``"<f4"``) and shape it should hold (None: any
    length there) → what is wrong with it, or None when its header fits and its size is header + data.

    Reads the header only (microseconds at any size), so it catches a file cut short or grown,
    an overwritten header, another dtype or shape; bytes changed inside the data are left to
    the checksums.
    """
    try:
        found, fortran, found_dtype, offset, size = npy_layout(path)
    except (ValueError, EOFError, OSError, SyntaxError, TypeError) as err:
        return f"{name} is truncated or damaged (its .npy header cannot be read: {err})"
    expected = tuple(s if s is not None else f for s, f in zip(shape, found))
    if fortran or found_dtype.str != dtype or len(found) != len(shape) or tuple(found) != expected:
        want = ", ".join("n" if s is None else str(s) for s in shape)
        return f"{name} holds {found_dtype.str} {tuple(found)}, expected {dtype} ({want})"
    data = found_dtype.itemsize * math.prod(found)
    if size != offset + data:
        return f"{name} is truncated or damaged: size {size}, expected {offset + data} bytes (header + data)"
    return None


def faiss_problem(path: str | Path, name: str, dim: int, n: int) -> str | None:
    """A FAISS index file (a regular file) → what its header says is wrong (not a FAISS index, other
    dimension or number of vectors), or None. Reads 16 bytes.

    Every index FAISS writes starts with a four-letter type code ("IxFI" flat, "IHNs" HNSW-SQ8,
    "IwSq" IVF-SQ8 …, always an "I" first), then ``d`` (int32) and ``ntotal`` (int64).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as err:
        return f"{name} cannot be read ({err.strerror or err})"
    if len(head) < 16 or head[:1] != b"I" or not head[:4].isalnum():
        return f"{name} is truncated or damaged (it does not start like a FAISS index)"
    d, ntotal = struct.unpack("<iq", head[4:16])
    if (d, ntotal) != (dim, n):
        return f"{name} is damaged (its header says {ntotal} vectors of dimension {d}, expected {n} of {dim})"
    return None


def npy_shape(path: str | Path) -> tuple[int, int]:
    """A ``.npy`` file → its shape, from the header alone."""
    with open(path, "rb") as f:
        shape, _, _ = npy_header(f)
    return int(shape[0]), int(shape[1])


def choose(n: int, settings: VectorIndexSettings) -> dict[str, Any]:
    """A number of vectors → what to build: ``{"type", "factory", "params"}`` (recorded in the manifest)."""
    if n < max(settings.exact_below, 1):
        return {"type": "IndexFlatIP", "factory": "Flat", "params": {}}
    if settings.kind == "hnsw":
        return {
            "type": "IndexHNSW" + ("SQ" if settings.encoding == "SQ8" else "Flat"),
            "factory": f"HNSW{settings.hnsw_m}" + (",SQ8" if settings.encoding == "SQ8" else ",Flat"),
            "params": {
                "M": settings.hnsw_m,
                "efConstruction": settings.hnsw_ef_construction,
                "efSearch": settings.hnsw_ef_search,
            },
        }
    # FAISS wants ≥ 39 training points per list for the automatic size, and at least one for any.
    nlist = max(
        1, min(settings.ivf_nlist, n) if settings.ivf_nlist else min(2 ** round(math.log2(4 * math.sqrt(n))), n // 39)
    )
    return {
        "type": "IndexIVF" + ("ScalarQuantizer" if settings.encoding == "SQ8" else "Flat"),
        "factory": f"IVF{nlist}," + settings.encoding,
        "params": {"nlist": nlist, "nprobe": min(settings.ivf_nprobe, nlist)},
    }


def build(vectors_npy: str | Path, out: str | Path, settings: VectorIndexSettings) -> dict[str, Any]:
    """``vectors.npy`` (normalised rows) → ``out`` written as the FAISS index its size calls for; returns its manifest entry."""
    import faiss

    n, dim = npy_shape(vectors_npy)
    spec = choose(n, settings)
    index: faiss.Index
    if spec["type"] == "IndexFlatIP":
        index = faiss.IndexFlatIP(dim)
    else:
        index = faiss.index_factory(dim, spec["factory"], faiss.METRIC_INNER_PRODUCT)
        if "efConstruction" in spec["params"]:
            # index_factory returns the built class (downcast); typed as the base Index
            cast("faiss.IndexHNSW", index).hnsw.efConstruction = spec["params"]["efConstruction"]
        if not index.is_trained:
            index.train(_training_sample(vectors_npy, n, settings.train_sample))
    for block in npy_blocks(vectors_npy):
        index.add(np.ascontiguousarray(block))
    faiss.write_index(index, str(out))
    return {**spec, "n": int(index.ntotal), "dim": dim}


def _training_sample(vectors_npy: str | Path, n: int, size: int) -> np.ndarray:
    """Every (n / size)-th row, so training sees the whole collection and not only its first files."""
    step = max(1, n // size)
    parts, offset = [], 0
    for block in npy_blocks(vectors_npy):
        first = (-offset) % step
        parts.append(block[first::step])
        offset += len(block)
    return np.ascontiguousarray(np.concatenate(parts)[:size])


def open_faiss(path: str | Path, entry: dict[str, Any] | None) -> faiss.Index:
    """A FAISS file and its manifest entry → the index, search-time parameters applied (none: flat as built)."""
    import faiss

    index = faiss.read_index(str(path))
    params = (entry or {}).get("params", {})
    if "nprobe" in params:
        faiss.extract_index_ivf(index).nprobe = int(params["nprobe"])
    if "efSearch" in params:
        # efSearch is recorded for HNSW indexes only, which downcast_index returns as such (typed as Index)
        cast("faiss.IndexHNSW", faiss.downcast_index(index)).hnsw.efSearch = int(params["efSearch"])
    return index
