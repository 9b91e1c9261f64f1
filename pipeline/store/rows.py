"""Vector rows on disk: ``.npy`` files written row by row as a build goes, read row by row with ``pread``.

A build never holds all vectors in memory (``RowFile``); a question reads only the rows it
needs (``RowReader``), one ``pread`` per run of consecutive rows, from a file it keeps open.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .checks import Digest
from .vectors import npy_header

# A float32 row normalised by ``embedding.normalize`` has |length² − 1| ≤ 5.4e-7 (measured worst
# over 16 to 1024 dimensions); 1e-3 leaves room for that and still sees almost any changed float.
UNIT_TOLERANCE = 1e-3


class RowDamage(ValueError):
    """Rows read from a vector file are not those the build wrote (cut short, or changed)."""


class RowReader:
    """Rows of a float32 ``.npy`` matrix read with ``pread``, for query time.

    Indexing the memory map with a list of rows made the process map in the whole file
    (measured: 100 rows of a 46 MB file raised RssFile by 42 MB; at 1M chunks the two vector
    files are 5.5 GB): a serving process reads the few rows it scores and nothing more.
    """

    def __init__(self, path: Path, unit_rows: bool = False) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        with open(path, "rb") as f:
            shape, _, _ = npy_header(f)
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
                raise RowDamage(
                    f"row {int(unique[off[0]])} no longer has the length 1 it was written with "
                    f"(its squared length is {float(squares[off[0]]):.6g})"
                )
        return block[np.searchsorted(unique, wanted)]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


class RowFile:
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
        header = {
            "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
            "fortran_order": False,
            "shape": (self.rows, self.dim),
        }
        digest = Digest()
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
