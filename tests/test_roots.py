"""Roots: what a build walks and keeps — the cwd never matters, nothing is removed by accident."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline.embedding import HashingEmbedder
from pipeline.indexing import RemovalRefused, add_files, build, remove_documents
from pipeline.settings import Settings
from pipeline.store import IndexReader


def sources(index: Path) -> set[str]:
    reader = IndexReader.open(index)
    try:
        return set(reader.sources())
    finally:
        reader.close()


FIVE = {
    "a.txt": "Aachen baut ein Glasfasernetz für alle Schulen der Stadt.",
    "b.txt": "Bonn digitalisiert das Bürgeramt bis zum Ende des Jahres.",
    "c.txt": "Dortmund testet autonome Busse im Hafen und in der Nordstadt.",
    "d.txt": "Essen eröffnet ein neues Bürgerbüro in Altenessen.",
    "e.txt": "Gelsenkirchen plant ein offenes Funknetz in der Innenstadt.",
}


@pytest.fixture
def five_docs(tmp_path: Path) -> Path:
    """tmp_path/seeds with five one-sentence documents: what is kept or removed depends on the folders and
    files, not on their text, and they build in a fraction of the time the seeds take."""
    folder = tmp_path / "seeds"
    folder.mkdir()
    for name, text in FIVE.items():
        (folder / name).write_text(text, "utf-8")
    return folder


@pytest.fixture
def in_dir(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Change the current directory for the rest of the test (undone afterwards)."""
    return monkeypatch.chdir


def test_roots_are_recorded_absolute(five_docs: Path, tmp_path: Path, hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    reader = IndexReader.open(tmp_path / "idx")
    try:
        assert reader.manifest.roots == (str(five_docs),)
        # Sources keep the form given (citations show them), the manifest knows where they are.
        assert all(s.startswith("seeds/") for s in reader.sources())
        assert all(os.path.isabs(p) for p in reader.manifest.paths.values())
    finally:
        reader.close()


def test_a_plain_build_from_another_directory_keeps_everything(five_docs: Path, tmp_path: Path,
                                                              hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    before = sources(tmp_path / "idx")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    in_dir(elsewhere)
    report = build([], tmp_path / "idx", embedder=hashing, progress=False)
    assert report.up_to_date and report.removed == () and report.documents == 5
    assert sources(tmp_path / "idx") == before


def test_an_upload_from_another_directory_keeps_the_folders(five_docs: Path, tmp_path: Path,
                                                            hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    upload = tmp_path / "note.md"
    upload.write_text("# Notiz\n\nDer Stadtrat tagt am Montag im Rathaus.\n", "utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    in_dir(elsewhere)
    report, rejected = add_files([upload], tmp_path / "idx", Settings(), hashing)
    assert rejected == () and report.removed == () and report.documents == 6
    # The uploads folder is a root of its own: a build of the first folder alone keeps the upload.
    in_dir(tmp_path)
    report = build(["seeds"], "idx", embedder=hashing, progress=False)
    assert report.up_to_date and report.documents == 6


def test_a_mistyped_path_removes_nothing(five_docs: Path, tmp_path: Path, hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    gen = IndexReader.open(tmp_path / "idx").dir
    with pytest.raises(RemovalRefused, match=r"remove 5 of the 5 documents.*not found: seedz.*--prune"):
        build(["seedz"], "idx", embedder=hashing, progress=False)
    assert IndexReader.open(tmp_path / "idx").dir == gen and len(sources(tmp_path / "idx")) == 5
    # So does the right folder named from another directory.
    in_dir(five_docs)
    with pytest.raises(RemovalRefused, match="not found: seeds"):
        build(["seeds"], tmp_path / "idx", embedder=hashing, progress=False)


def test_paths_given_replace_the_roots_but_not_the_uploads(five_docs: Path, tmp_path: Path,
                                                            hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Gelsenkirchen plant ein neues Rechenzentrum im Hafen.", "utf-8")
    build(["seeds", "other"], "idx", embedder=hashing, progress=False)
    upload = tmp_path / "note.md"
    upload.write_text("# Notiz\n\nDer Stadtrat tagt am Montag im Rathaus.\n", "utf-8")
    add_files([upload], "idx", Settings(), hashing)
    report = build(["seeds"], "idx", embedder=hashing, progress=False)
    assert report.removed == ("other/x.txt",) and report.documents == 6
    assert IndexReader.open(tmp_path / "idx").manifest.roots == (str(five_docs), str(tmp_path / "idx" / "uploads"))


def test_a_folder_that_is_gone_keeps_its_documents_until_pruned(five_docs: Path, tmp_path: Path,
                                                                hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("Gelsenkirchen plant ein neues Rechenzentrum im Hafen.", "utf-8")
    build(["seeds", "other"], "idx", embedder=hashing, progress=False)
    moved = tmp_path / "moved"
    other.rename(moved)
    report = build([], "idx", embedder=hashing, progress=False)
    assert report.documents == 6 and report.removed == ()
    assert any(s.path == str(other) and "stay in the index" in s.reason for s in report.skipped)
    report = build([], "idx", embedder=hashing, progress=False, prune=True)
    assert report.removed == ("other/x.txt",) and report.documents == 5
    assert IndexReader.open(tmp_path / "idx").manifest.roots == (str(five_docs),)


def test_removing_most_documents_needs_prune(five_docs: Path, tmp_path: Path, hashing: HashingEmbedder,
                                             in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    gen = IndexReader.open(tmp_path / "idx").dir
    names = sorted(five_docs.iterdir())
    for p in names[:3]:
        p.unlink()
    with pytest.raises(RemovalRefused, match=r"remove 3 of the 5 documents.*--prune"):
        build([], "idx", embedder=hashing, progress=False)
    assert IndexReader.open(tmp_path / "idx").dir == gen and len(sources(tmp_path / "idx")) == 5
    report = build([], "idx", embedder=hashing, progress=False, prune=True)
    assert len(report.removed) == 3 and report.documents == 2
    # Fewer than half: removed as before, and said so.
    names[3].unlink()
    report = build([], "idx", embedder=hashing, progress=False)
    assert report.removed == (f"seeds/{names[3].name}",)


def test_removing_a_root_folder_drops_it_and_its_documents(five_docs: Path, tmp_path: Path,
                                                           hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    report = remove_documents(["seeds"], "idx", Settings(), hashing)
    assert report.documents == 0 and len(report.removed) == 5
    assert IndexReader.open(tmp_path / "idx").manifest.roots == ()


def test_an_index_built_before_roots_were_absolute_still_finds_them(five_docs: Path, tmp_path: Path,
                                                                   hashing: HashingEmbedder, in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    manifest_path = tmp_path / "idx" / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["roots"] = ["seeds"]  # as older builds wrote them
    del manifest["paths"]
    manifest_path.write_text(json.dumps(manifest))
    in_dir(tmp_path / "seeds")  # neither root nor sources resolve from here; the index's parent does
    report = build([], tmp_path / "idx", embedder=hashing, progress=False)
    assert report.removed == () and report.documents == 5


def test_the_index_folder_inside_an_indexed_folder_is_not_indexed(tmp_path: Path, hashing: HashingEmbedder,
                                                                   in_dir) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# Aachen\n\nAachen baut ein Glasfasernetz für alle Schulen.\n", "utf-8")
    (docs / "b.html").write_text("<html><body><p>Bonn digitalisiert das Bürgeramt vollständig.</p></body></html>",
                                 "utf-8")
    in_dir(tmp_path)
    first = build(["docs"], "docs/idx", embedder=hashing, progress=False)
    assert first.documents == 2
    again = build(["docs"], "docs/idx", embedder=hashing, progress=False)
    assert again.up_to_date and again.added == () and again.removed == ()
    assert not any("/gen-" in s for s in sources(docs / "idx"))
    # Another index's generations inside the folder are not read either.
    other = build(["docs"], "other-idx", embedder=hashing, progress=False)
    assert other.documents == 2


def test_a_bad_file_name_is_one_skipped_file(tmp_path: Path, hashing: HashingEmbedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Essen eröffnet ein neues Bürgerbüro in Altenessen.", "utf-8")
    bad = os.path.join(os.fsencode(docs), b"bad\xffname.txt")
    with open(bad, "wb") as f:
        f.write(b"Dortmund testet autonome Busse im Hafen.")
    report = build([docs], tmp_path / "idx", embedder=hashing, progress=False)
    assert report.documents == 1
    assert [(Path(s.path).name, "not valid UTF-8" in s.reason) for s in report.skipped] == [("bad\\xffname.txt", True)]
    report.summary().encode("utf-8")  # printable


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifos_and_devices_are_named_not_read(tmp_path: Path, hashing: HashingEmbedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("Essen eröffnet ein neues Bürgerbüro in Altenessen.", "utf-8")
    os.mkfifo(docs / "pipe.txt")
    os.symlink("/dev/zero", docs / "zero.txt")
    report = build([docs], tmp_path / "idx", embedder=hashing, progress=False)  # used to hang for good
    assert report.documents == 1
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "FIFO" in reasons["pipe.txt"] and "device" in reasons["zero.txt"]


def test_a_file_that_takes_too_long_is_skipped_and_the_build_goes_on(tmp_path: Path, hashing: HashingEmbedder,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import pipeline.text.reading as reading

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Essen eröffnet ein neues Bürgerbüro in Altenessen.", "utf-8")
    (docs / "slow.txt").write_text("Diese Datei hängt den Parser auf.", "utf-8")
    (docs / "z.txt").write_text("Zwickau baut einen neuen Busbahnhof am Markt.", "utf-8")
    real = reading.read_file

    def stuck(path: str, source: str, settings: Settings):  # type: ignore[no-untyped-def]
        if path.endswith("slow.txt"):
            time.sleep(3600)  # a parser that never returns: only stopping its process ends it
        return real(path, source, settings)

    monkeypatch.setattr(reading, "read_file", stuck)  # the worker is forked, so it runs this too
    settings = Settings()
    settings = settings.model_copy(update={"sources": settings.sources.model_copy(update={"read_timeout_s": 2.0})})
    report = build([docs], tmp_path / "idx", settings, hashing, progress=False)
    assert report.documents == 2
    assert [(Path(s.path).name, "took longer than 2 s" in s.reason) for s in report.skipped] == [("slow.txt", True)]


def test_rejected_uploads_are_not_kept_and_a_removed_upload_can_come_back(tmp_path: Path,
                                                                          hashing: HashingEmbedder) -> None:
    index = tiny_index_of(tmp_path, hashing)
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "empty.txt").write_bytes(b"")
    (incoming / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (incoming / "tool.exe").write_bytes(b"MZ")
    note = incoming / "note.md"
    note.write_text("# Notiz\n\nDer Stadtrat tagt am Montag im Rathaus.\n", "utf-8")
    report, rejected = add_files(sorted(incoming.iterdir()), index, Settings(), hashing)
    assert sorted(s.path for s in rejected) == ["binary.txt", "empty.txt", "tool.exe"]  # names, no server paths
    assert sorted(p.name for p in (index / "uploads").iterdir()) == ["note.md"]
    # A later upload does not list the earlier rejects again.
    (incoming / "second.md").write_text("# Zweite\n\nDie Bibliothek öffnet sonntags.\n", "utf-8")
    report, rejected = add_files([incoming / "second.md"], index, Settings(), hashing)
    assert rejected == () and report.skipped == ()
    uploaded = [s for s in sources(index) if s.endswith("note.md")]
    remove_documents(uploaded, index, Settings(), hashing)
    assert not [s for s in sources(index) if s.endswith("note.md")]
    report, rejected = add_files([note], index, Settings(), hashing)
    assert [s for s in sources(index) if s.endswith("note.md")] and len(report.added) == 1


def tiny_index_of(tmp_path: Path, hashing: HashingEmbedder) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Aachen baut ein Glasfasernetz für alle Schulen der Stadt.", "utf-8")
    build([docs], tmp_path / "idx", embedder=hashing, progress=False)
    return tmp_path / "idx"


def test_a_moved_folder_is_not_a_mass_removal(five_docs: Path, tmp_path: Path, hashing: HashingEmbedder,
                                              in_dir) -> None:
    in_dir(tmp_path)
    build(["seeds"], "idx", embedder=hashing, progress=False)
    five_docs.rename(tmp_path / "renamed")
    report = build(["renamed"], "idx", embedder=hashing, progress=False)  # the same texts: nothing is lost
    assert len(report.removed) == 5 and len(report.added) == 5 and report.documents == 5
