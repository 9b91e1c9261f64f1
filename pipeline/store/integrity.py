"""The full check of an index (``python -m pipeline check``): every byte read, then the generation opened.

``checks`` does the reading; this adds what only opening finds (SQLite's counts, the BM25
matrix, FAISS when its file has no checksum) and the report a user reads.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from .checks import faiss_checksummed, full_read
from .errors import IndexCorrupt, IndexMissing, manifest_or_salvage, repair_command
from .layout import current_dir
from .reader import IndexReader


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
            return (
                f"Index {self.index_dir} ({self.gen_dir.name}) shows no damage, but was written before checksums: "
                f"headers, sizes, SQLite's quick_check and FAISS were checked ({read}), the bytes of the vector "
                f"and BM25 files could not be. Rebuild it to record checksums: "
                f"{repair_command(self.index_dir, self.gen_dir)}"
            )
        return f"Index {self.index_dir} ({self.gen_dir.name}) is intact: {read}, every byte as written at build time."

    def error(self) -> IndexCorrupt:
        """The first problem → the IndexCorrupt that names it and the repair (one line)."""
        more = f"; {len(self.problems) - 1} more listed above" if len(self.problems) > 1 else ""
        manifest, readable = manifest_or_salvage(self.gen_dir)
        return IndexCorrupt(self.gen_dir, self.problems[0] + more, manifest if readable else None, self.index_dir)


def check_generation(gen_dir: str | os.PathLike[str], index_dir: str | os.PathLike[str] | None = None) -> CheckReport:
    """A generation folder → every problem found by reading all of it (a CheckReport; no problems: intact).

    1.–3. ``checks.full_read``: the cheap checks, every byte against its SHA-256, SQLite's quick_check;
    4. opening the generation as a reader (sqlite counts, BM25 matrix) and, when its file has no
       checksum, loading FAISS.
    """
    t0 = time.perf_counter()
    gen = Path(gen_dir)
    shown = Path(index_dir) if index_dir is not None else gen.parent
    manifest, readable = manifest_or_salvage(gen)
    if not readable:
        try:
            (gen / "manifest.json").read_bytes().decode("utf-8")
            why = "not JSON"
        except OSError as err:
            why = err.strerror or str(err)
        except ValueError:
            why = "not UTF-8 text"
        return CheckReport(
            shown, gen, (f"manifest.json is unreadable or edited ({why})",), 0, 0, False, time.perf_counter() - t0
        )
    found = full_read(gen, manifest)
    problems = list(found.problems)
    if not problems:
        try:
            reader = IndexReader(gen)
        except IndexCorrupt as err:
            problems.append(err.what)
        else:
            try:
                if not faiss_checksummed(manifest):
                    _ = reader.faiss_index  # reads the whole file: what can be checked without a checksum
            except IndexCorrupt as err:
                problems.append(err.what)
            finally:
                reader.close()
    return CheckReport(shown, gen, tuple(problems), found.files, found.bytes, found.checksums, time.perf_counter() - t0)


def verify_generation(gen_dir: str | os.PathLike[str]) -> list[str]:
    """A generation folder → the problems a full read finds, one line each starting with the file ([]: intact)."""
    return list(check_generation(gen_dir).problems)


def check_index(index_dir: str | os.PathLike[str]) -> CheckReport:
    """An index directory → the full check of its live generation (IndexMissing if nothing was built)."""
    gen = current_dir(index_dir)
    if gen is None:
        raise IndexMissing(
            f"no index at {index_dir}; build one first: python -m pipeline build FOLDER_OR_FILE ... --index {index_dir}"
        )
    return check_generation(gen, index_dir)
