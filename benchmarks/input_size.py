"""Input size: cleaning and chunking time against input size, for the shapes that once hung a build.

    .venv/bin/python benchmarks/input_size.py                 # 1, 5, 50 MB (prose to 5 MB), ~1-2 minutes
    .venv/bin/python benchmarks/input_size.py --prose-max 50  # prose to 50 MB as well (~4 more minutes)
    .venv/bin/python benchmarks/input_size.py --sizes 0.1,0.4,1.6

Shapes (sizes in millions of characters):

- one line, no whitespace: base64 with dots (a blob, minified data); the sentence repairs once
  searched r"(\\S+)\\.$" over the whole merged line at every break (5 MB never finished);
- one line of words: words and quotations, no sentence end; every break once copied the rest
  of the line and scanned every quotation in it (quadratic);
- prose, repeated: the seed articles over and over (paragraphs, pysbd on every one);
- markdown data-URI: a short article with one inline base64 image of that size (23 s for 500 KB).

Each shape is measured at every size in one run, side by side. Times are CPU seconds of this
process (the machine is shared: wall time moved by a factor of two between runs, CPU time hardly),
the best of up to three runs while they are short. ``ratio`` is time per character divided by time
per character at the smallest size: linear time shows as ratios near 1, quadratic as ratios that
grow with the size (about 5 and 50 at 5 and 50 times the smallest).
"""

from __future__ import annotations

import argparse
import base64
import gc
import random
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SEEDS, git_commit, machine, table  # noqa: E402

from pipeline.text.chunking import chunk_document  # noqa: E402
from pipeline.text.cleaning import clean  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from pipeline.types import Document, SourceText  # noqa: E402

MB = 1_000_000


def no_whitespace(n: int) -> str:
    """n → one line of n characters without whitespace: base64 of random bytes, ``/`` made ``.``."""
    raw = random.Random(1).randbytes(n * 3 // 4 + 3)
    return base64.b64encode(raw).decode("ascii").replace("/", ".")[:n]


def words(n: int) -> str:
    """n → one line of about n characters of words and quotations, without a sentence end."""
    vocab = (
        '„der Ausbau“ des "Glasfasernetzes" in Kassel wird von NordNetz und der Stadt gemeinsam geplant '
        "und gebaut sagt die Sprecherin (Stadtwerke) ausbau netz glasfaser haushalte"
    ).split()
    piece = " ".join(random.Random(2).choices(vocab, k=MB // 7))  # ~1 MB, repeated: generating is not measured
    return ((piece + " ") * (n // len(piece) + 1))[:n].rstrip()


def prose(n: int) -> str:
    """n → the seed articles, repeated to n characters (paragraphs separated by blank lines)."""
    corpus = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))
    return (corpus * (n // len(corpus) + 1))[:n]


def data_uri(n: int) -> str:
    """n → a Markdown article with one inline base64 PNG of about n characters."""
    blob = base64.b64encode(random.Random(3).randbytes(n * 3 // 4)).decode("ascii")
    return (
        "# Glasfaser für ganz Kassel\n\n"
        "Die Stadt und NordNetz bauen das Netz gemeinsam aus. Der Ausbau beginnt im Mai.\n\n"
        f"![Karte des Ausbaugebiets](data:image/png;base64,{blob})\n\n"
        "Bis 2027 sollen alle Haushalte angeschlossen sein.\n"
    )


SHAPES: dict[str, tuple[Callable[[int], str], str]] = {
    "one line, no whitespace": (no_whitespace, "text"),
    "one line of words": (words, "text"),
    "prose, repeated": (prose, "text"),
    "markdown data-URI": (data_uri, "markdown"),
}


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """A call → (CPU seconds, result): the best of up to three runs while they are short (< 1 s in all)."""
    best, result, spent = float("inf"), None, 0.0
    for _ in range(3):
        gc.collect()
        start = time.process_time()
        result = fn()
        elapsed = time.process_time() - start
        best, spent = min(best, elapsed), spent + elapsed
        if spent > 1.0:
            break
    return best, result


def measure(shape: str, n: int, settings: Settings) -> dict[str, object]:
    """A shape and a size → the row: seconds to clean and to chunk, and how many chunks came out."""
    make, fmt = SHAPES[shape]
    text = make(n)
    src = SourceText(source=f"gen.{'md' if fmt == 'markdown' else 'txt'}", text=text, sha256="x",
                     encoding="utf-8", format=fmt)
    t_clean, doc = timed(lambda: clean(src, settings.cleaning))
    assert isinstance(doc, Document)
    t_chunk, chunks = timed(lambda: chunk_document(doc, settings.chunking))
    return {"shape": shape, "MB": n / MB, "chars": len(text), "clean s": t_clean, "chunk s": t_chunk,
            "chunks": len(chunks)}  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,50", help="sizes in millions of characters (default 1,5,50)")
    parser.add_argument("--prose-max", type=float, default=5.0,
                        help="largest prose size in MB (default 5: pysbd reads ~200k characters a second)")
    args = parser.parse_args()
    sizes = sorted(int(float(s) * MB) for s in args.sizes.split(","))
    settings = Settings()
    clean(SourceText(source="warm.txt", text="Ein Satz. Noch ein Satz.", sha256="x", encoding="utf-8",
                     format="text"), settings.cleaning)  # loads the language model: not part of any row

    print(f"# Input size: time against size\n\n{machine()}, commit {git_commit()}\n")
    rows: list[dict[str, object]] = []
    for shape in SHAPES:
        first: dict[str, object] | None = None
        for n in sizes:
            if shape == "prose, repeated" and n > args.prose_max * MB:
                continue
            row = measure(shape, n, settings)
            first = first or row
            for key in ("clean", "chunk"):
                per_char = row[f"{key} s"] / row["chars"]  # type: ignore[operator]
                base = first[f"{key} s"] / first["chars"]  # type: ignore[operator]
                row[f"{key} ratio"] = per_char / base if base > 0 else None
            total = row["clean s"] + row["chunk s"]  # type: ignore[operator]
            base_total = (first["clean s"] + first["chunk s"]) / first["chars"]  # type: ignore[operator]
            row["total s"] = total
            row["total ratio"] = total / row["chars"] / base_total  # type: ignore[operator]
            rows.append(row)
            print(f"  {shape:26s} {row['MB']:6g} MB  clean {row['clean s']:7.3f} s  chunk {row['chunk s']:7.3f} s"
                  f"  ratio {row['total ratio']:.2f}", file=sys.stderr, flush=True)
    print(table(rows, ["shape", "MB", "clean s", "clean ratio", "chunk s", "chunk ratio", "total s", "total ratio",
                       "chunks"]))


if __name__ == "__main__":
    main()
