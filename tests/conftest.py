"""Shared fixtures: the seeds, settings, and a fast model-free embedder."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pytest

from pipeline.embedding import HashingEmbedder
from pipeline.settings import AnswerSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(autouse=True)
def _no_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see defaults only: no belegt.toml, no BELEGT_ variables from the caller's shell."""
    import os

    for key in list(os.environ):
        if key.startswith("BELEGT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("BELEGT_CONFIG", str(tmp_path / "no-such-config.toml"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of seeds/ (tests edit and delete files in it)."""
    dst = tmp_path / "seeds"
    shutil.copytree(SEEDS, dst)
    return dst


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder(64)


@pytest.fixture(scope="session")
def seeds_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeds indexed once per session with the real default embedder (slow tests only)."""
    from pipeline.indexing import build

    index = tmp_path_factory.mktemp("seeds-index") / "index"
    build([str(SEEDS)], index, settings=Settings(), progress=False)
    return index


@pytest.fixture(scope="session")
def seeds_open(seeds_index: Path):  # type: ignore[no-untyped-def]
    from pipeline.facade import open_index

    return open_index(seeds_index, Settings())


def copy_index(index: Path, to: Path) -> Path:
    """An index → a copy of it at ``to``, for a test that changes or rebuilds an index a module built once (its
    ``current`` link is relative: the copy reads its own generation)."""
    shutil.copytree(index, to, symlinks=True)
    return to


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The model-free embedder's similarities are hashes, not meaning: the fitted selector would refuse
# at random. Tests of mechanics (citations, generations, fallbacks) answer with every best sentence.
ALWAYS_ANSWER = Settings(answer=AnswerSettings(abstain_below=0.0))


def tiny_index(tmp_path: Path, files: dict[str, str]) -> Path:
    """A few small documents → an index built with the model-free embedder (fast)."""
    from pipeline.indexing import build

    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    for name, text in files.items():
        (docs / name).write_text(text, "utf-8")
    build([docs], tmp_path / "idx", embedder=HashingEmbedder(32), progress=False)
    return tmp_path / "idx"


@contextlib.contextmanager
def serving(index_dir: Path, **launch: object):  # type: ignore[no-untyped-def]
    """The chat app on a free port of 127.0.0.1 → its URL, for the duration of the block."""
    from pipeline.apps import chat as chat_app

    app = chat_app.make_app(str(index_dir))
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, **launch)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
