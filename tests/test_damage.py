"""A damaged index: every file of a generation, every kind of damage → a clear error or the same answers, never a
traceback or a silently different answer; the full check finds it, and a build repairs it.

One small index (the seeds, model-free embedder) is built per module and copied per case. Kinds of damage
(the issue's six, plus one the open-time check cannot see):

- ``zero``, ``half``: truncated to 0 bytes, to half its size;
- ``middle``, ``start``: 64 random bytes written at the middle, at the start;
- ``deleted``; ``directory``: replaced by a directory;
- ``past_head``: 64 random bytes beyond the first 4 KiB that opening hashes (files larger than that only):
  what a bad sector in a 1.5 GB ``vectors.npy`` looks like. Only the full check (``build``, ``check``)
  reads there; a question finds it only if it reads the changed rows.
"""

from __future__ import annotations


import json
import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.store import bm25 as lexicalindex
from pipeline.apps.cli import main as cli_main
from pipeline.embedding import HashingEmbedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.manifest import IndexManifest
from pipeline.store import HEAD_BYTES, IndexCorrupt, IndexReader, check_index, current_dir, read_manifest

from conftest import SEEDS

DIM = 64  # vectors.npy 15.7 KB, sentence_vectors.npy 28 KB: the middle of each lies past the hashed first 4 KiB
QUESTIONS = [
    "Wer hat die Absichtserklärung unterzeichnet?",
    "Was plant Duisburg mit Huawei?",
    "Welche Rolle spielt die IHK?",
    "Smart City Gelsenkirchen",
]
FILES = ["manifest.json", "index.sqlite3", "vectors.npy", "sentence_vectors.npy", "vectors.faiss",
         *(f"{lexicalindex.DIR}/{name}" for name in lexicalindex.FILES)]
KINDS = ["zero", "half", "middle", "start", "deleted", "directory"]
# Damage that changes bytes inside a file, past what opening reads: a question may not notice it.
INSIDE = {"middle", "past_head"}


def _embedder() -> HashingEmbedder:
    return HashingEmbedder(DIM)


def _answers(index: Path) -> list[dict[str, Any]]:
    """An index → the answers to QUESTIONS as JSON (timings dropped: they are all that may differ)."""
    idx = open_index(index, embedder=_embedder())
    try:
        return [{k: v for k, v in idx.ask(q).to_dict().items() if k != "timings_ms"} for q in QUESTIONS]
    finally:
        idx.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The seeds indexed once → (index directory, its answers to QUESTIONS)."""
    index = tmp_path_factory.mktemp("damage") / "index"
    build([str(SEEDS)], index, embedder=_embedder(), progress=False)
    return index, _answers(index)


def _copy(index: Path, tmp_path: Path) -> Path:
    """An index → a copy of it (its ``current`` link stays relative, so the copy points at its own generation)."""
    copy = tmp_path / "index"
    shutil.copytree(index, copy, symlinks=True)
    return copy


def _damaged_copy(index: Path, tmp_path: Path, name: str, kind: str) -> Path:
    """An index → a copy whose generation file ``name`` is damaged the given way."""
    copy = _copy(index, tmp_path)
    gen = current_dir(copy)
    assert gen is not None
    damage(gen / name, kind)
    return copy


def damage(path: Path, kind: str) -> None:
    """A file → damaged in the given way; random bytes are seeded by the file and kind (the same every run)."""
    rng = random.Random(f"{path.name}:{kind}")
    size = path.stat().st_size
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "half":
        with open(path, "r+b") as f:
            f.truncate(size // 2)
    elif kind in ("middle", "start", "past_head"):
        at = {"middle": size // 2, "start": 0, "past_head": HEAD_BYTES + (size - HEAD_BYTES - 64) // 2}[kind]
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(rng.randbytes(64))
    elif kind == "deleted":
        path.unlink()
    elif kind == "directory":
        path.unlink()
        path.mkdir()
    else:
        raise ValueError(kind)


# Files larger than 8 KiB at DIM = 64: their middle, too, lies past the first 4 KiB that opening hashes.
LARGE = ["index.sqlite3", "vectors.npy", "sentence_vectors.npy", "vectors.faiss", "bm25/vocab.index.json"]
# Larger than the hashed 4 KiB + 64 bytes: past_head is possible.
PAST_HEAD = [*LARGE, "bm25/data.csc.index.npy", "bm25/indices.csc.index.npy", "bm25/indptr.csc.index.npy"]
CASES = [(name, kind) for name in FILES for kind in KINDS] + [(name, "past_head") for name in PAST_HEAD]
# Builds are slow (a worker process reads the files): rebuilding is checked for every damage that opening
# cannot see — only the full check a build runs finds it — and for each other kind once (opening finds those).
BUILD_CASES = ([(name, "middle") for name in LARGE] + [(name, "past_head") for name in PAST_HEAD]
               + [("vectors.npy", kind) for kind in KINDS if kind != "middle"] + [("manifest.json", "zero")])


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{name}-{kind}" for name, kind in cases]


# Each repair is a full build of the seeds: `make test` runs all nineteen, `make test-fast` one damage that only
# a build's full check can find (test_store.py rebuilds after damage that opening finds).
FAST_REPAIR = ("vectors.npy", "past_head")
REPAIRS = [pytest.param(name, kind, id=f"{name}-{kind}", marks=() if (name, kind) == FAST_REPAIR else pytest.mark.slow)
           for name, kind in BUILD_CASES]


def test_the_cases_cover_every_file_of_a_generation(built: tuple[Path, list[dict[str, Any]]]) -> None:
    index, _ = built
    gen = current_dir(index)
    assert gen is not None
    names = sorted(p.relative_to(gen).as_posix() for p in gen.rglob("*") if p.is_file())
    assert names == sorted(FILES)
    for name in FILES[1:]:  # the manifest is read whole at every open; it lists the others
        size = (gen / name).stat().st_size
        assert (size >= 2 * HEAD_BYTES) == (name in LARGE), (name, size)
        assert (size > HEAD_BYTES + 64) == (name in PAST_HEAD), (name, size)
    manifest = json.loads((gen / "manifest.json").read_text("utf-8"))
    assert sorted(manifest["files"]) == sorted(n for n in FILES if n != "manifest.json")


@pytest.mark.parametrize(("name", "kind"), CASES, ids=_ids(CASES))
def test_damage_is_reported_or_harmless(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path, name: str, kind: str
) -> None:
    base, expected = built
    index = _damaged_copy(base, tmp_path, name, kind)
    gen = current_dir(index)
    assert gen is not None

    # Asking: the same answers, or IndexCorrupt naming the file and the repair. Any other exception fails here.
    try:
        got = _answers(index)
    except IndexCorrupt as err:
        message = str(err)
        assert "\n" not in message
        assert f"({gen.name}/{name} " in message, message
        assert "rebuild it with: python -m pipeline build " in message and f"--index {index}" in message
        if name != "manifest.json":
            # The manifest is intact: build --index DIR (roots from the manifest) is the whole command.
            assert message.endswith(f"rebuild it with: python -m pipeline build --index {index}"), message
    else:
        # Changed silently: only bytes inside a file, past what opening reads; the full check of a build must
        # find it, and test_a_build_repairs_damage shows it does.
        assert got == expected or (name, kind) in BUILD_CASES, f"{name} {kind}: answers changed without an error"

    # The full check finds every kind of damage and names the file first.
    report = check_index(index)
    assert report.problems and report.problems[0].startswith(name + " "), report.problems
    assert f"damaged: {gen.name}/{name} " in report.summary()
    assert str(report.error()).startswith(f"the index at {index} is damaged ({gen.name}/{name} ")


@pytest.mark.parametrize(("name", "kind"), REPAIRS)
def test_a_build_repairs_damage(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path, name: str, kind: str
) -> None:
    base, expected = built
    index = _damaged_copy(base, tmp_path, name, kind)
    report = build([str(SEEDS)], index, embedder=_embedder(), progress=False)
    # Rebuilt, never "up to date"; the answers are those of the intact index again.
    assert not report.up_to_date and "previous index was damaged" in report.full_rebuild_reason
    assert name in report.full_rebuild_reason
    assert _answers(index) == expected
    assert not check_index(index).problems


def test_an_intact_index_checks_clean(built: tuple[Path, list[dict[str, Any]]]) -> None:
    index, _ = built
    report = check_index(index)
    assert report.problems == () and report.checksums and report.files == len(FILES) - 1
    assert "is intact" in report.summary()


def test_a_zero_length_vector_file_is_one_error_line_with_the_repair(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The issue's EOFError: ``ask`` on an index whose vectors.npy is empty."""
    index = _copy(built[0], tmp_path)
    gen = current_dir(index)
    assert gen is not None
    size = (gen / "vectors.npy").stat().st_size
    damage(gen / "vectors.npy", "zero")
    monkeypatch.chdir(tmp_path)
    assert cli_main(["ask", "--index", "index", "Wer hat unterzeichnet?"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: the index at index is damaged ({gen.name}/vectors.npy is truncated or damaged: "
                   f"size 0, expected {size} bytes); rebuild it with: python -m pipeline build --index index\n")


def test_a_damaged_manifest_names_the_roots_it_still_shows(built: tuple[Path, list[dict[str, Any]]],
                                                           tmp_path: Path) -> None:
    index = _copy(built[0], tmp_path)
    gen = current_dir(index)
    assert gen is not None
    damage(gen / "manifest.json", "start")  # the opening brace is gone, the roots are still there
    with pytest.raises(IndexCorrupt, match="manifest.json") as err:
        IndexReader.open(index)
    assert str(err.value).endswith(f"rebuild it with: python -m pipeline build {SEEDS} --index {index} "
                                   f"--embedder hashing:{DIM}")
    salvaged = read_manifest(index)
    assert salvaged.salvaged and salvaged.roots == (str(SEEDS),) and salvaged.embedder.spec == f"hashing:{DIM}"
    assert salvaged.embedder.id == "" and salvaged.chunks == 0  # nothing else is claimed
    # Nothing left to read: the sources have to be named.
    damage(gen / "manifest.json", "zero")
    with pytest.raises(IndexCorrupt) as err:
        IndexReader.open(index)
    assert (f"rebuild it with: python -m pipeline build FOLDER_OR_FILE ... --index {index}, naming the folders and "
            "files it was built from (its manifest, which lists them, is damaged)") in str(err.value)
    assert read_manifest(index) == IndexManifest(salvaged=True)


def test_an_index_written_before_checksums_opens_with_the_cheap_checks(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    index = _copy(built[0], tmp_path)
    gen = current_dir(index)
    assert gen is not None
    path = gen / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    del manifest["files"]
    path.write_text(json.dumps(manifest), "utf-8")
    assert _answers(index) == built[1]
    report = check_index(index)
    assert report.problems == () and not report.checksums and "written before checksums" in report.summary()
    # Headers still guard it: the zero-length vector file, a truncated SQLite file, FAISS cut short.
    for name, kind in (("vectors.npy", "zero"), ("index.sqlite3", "half"), ("vectors.faiss", "half")):
        case = _copy(index, tmp_path / name.replace(".", "_"))
        gen_case = current_dir(case)
        assert gen_case is not None
        damage(gen_case / name, kind)
        with pytest.raises(IndexCorrupt, match=f"{gen_case.name}/{name} is truncated or damaged"):
            open_index(case, embedder=_embedder())
        assert check_index(case).problems[0].startswith(name)


def test_a_damaged_sqlite_page_met_by_a_question_is_index_corrupt(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """The issue's sqlite3.DatabaseError: the damage is met by a query after a clean open."""
    index = _copy(built[0], tmp_path)
    gen = current_dir(index)
    assert gen is not None
    idx = open_index(index, embedder=_embedder())
    try:
        # Every page after the first overwritten while the index is open (the first 4 KiB stay: a later open
        # would not see it either).
        with open(gen / "index.sqlite3", "r+b") as f:
            size = f.seek(0, 2)
            f.seek(HEAD_BYTES)
            f.write(random.Random(1).randbytes(size - HEAD_BYTES))
        with pytest.raises(IndexCorrupt, match=rf"\({gen.name}/index.sqlite3 is damaged \(DatabaseError: "):
            idx.ask(QUESTIONS[0])
    finally:
        idx.close()


def test_a_changed_vector_row_is_found_when_a_question_reads_it(
    built: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    """Random bytes in vectors.npy, past the hashed head: silent before; now the row's length gives it away."""
    index = _copy(built[0], tmp_path)
    gen = current_dir(index)
    assert gen is not None
    reader = IndexReader.open(index)
    rows, data = reader.vectors.shape[0], reader.vectors.nbytes
    reader.close()
    offset = (gen / "vectors.npy").stat().st_size - data
    with open(gen / "vectors.npy", "r+b") as f:  # one float of every row, past the first 4 KiB
        for row in range(rows):
            at = offset + (row * DIM + 2) * 4
            if at >= HEAD_BYTES:
                f.seek(at)
                f.write(random.Random(row).randbytes(4))
    with pytest.raises(IndexCorrupt, match=rf"{gen.name}/vectors.npy is damaged \(row \d+ no longer has the length 1"):
        _answers(index)
