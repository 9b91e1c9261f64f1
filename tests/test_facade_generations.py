"""A running Index and new builds: it answers from the newest generation, and lets go of old ones."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from pipeline.embedding import HashingEmbedder
from pipeline.facade import open_index
from pipeline.indexing import build
from pipeline.settings import Settings

from conftest import ALWAYS_ANSWER, tiny_index


def open_files_under(folder: Path) -> list[str]:
    fds = Path("/proc/self/fd")
    out = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(folder)):
            out.append(target)
    return out


def test_a_running_index_answers_from_a_build_made_elsewhere(tmp_path: Path) -> None:
    index_dir = tiny_index(tmp_path, {"a.txt": "Aachen baut ein Glasfasernetz für alle Schulen der Stadt."})
    embedder = HashingEmbedder(32)
    index = open_index(index_dir, ALWAYS_ANSWER, embedder)
    first = index.reader.dir
    assert index.sources() == [str(tmp_path / "docs" / "a.txt")]
    # Another process (here: the same, through the library) adds a document and commits a generation.
    (tmp_path / "docs" / "b.txt").write_text("Bochum eröffnet im Mai ein Rechenzentrum am Hafen.", "utf-8")
    build([], index_dir, embedder=embedder, progress=False)
    hits = index.search("Rechenzentrum Bochum Hafen")
    assert any(h.source.endswith("b.txt") for h in hits)
    assert index.reader.dir != first
    assert open_files_under(first) == []  # the old generation is closed, nothing of it held open
    build([], index_dir, embedder=embedder, progress=False)  # the next build deletes it; nothing breaks
    assert index.ask("Wann eröffnet Bochum das Rechenzentrum?").citations


def test_a_question_in_flight_keeps_its_generation_until_it_is_answered(tmp_path: Path) -> None:
    index_dir = tiny_index(tmp_path, {"a.txt": "Aachen baut ein Glasfasernetz für alle Schulen der Stadt."})
    embedder = HashingEmbedder(32)
    index = open_index(index_dir, Settings(), embedder)
    with index._using() as generation:  # a question being answered from the first generation
        (tmp_path / "docs" / "b.txt").write_text("Bochum eröffnet im Mai ein Rechenzentrum am Hafen.", "utf-8")
        build([], index_dir, embedder=embedder, progress=False)
        assert index.refresh()
        assert generation.retired and open_files_under(generation.reader.dir)  # still open for that question
        assert generation.text_of(generation.reader.documents()[0].id).startswith("Aachen")
    gen_dir = generation.reader.dir
    del generation  # memory maps hold their file until the arrays are gone, as in a server after the answer
    gc.collect()
    assert open_files_under(gen_dir) == []
