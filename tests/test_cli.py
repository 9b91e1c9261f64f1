"""The CLI as a user runs it: real processes, the real default embedder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HF_HUB_OFFLINE": "1",
                                            "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
def test_build_seeds_then_nothing_to_do(seeds_copy: Path, tmp_path: Path) -> None:
    first = run("build", "seeds", "--index", "idx", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Documents: 5 (5 new" in first.stdout
    assert "Near-duplicate groups: 1" in first.stdout
    assert "seeds/000_f6f00be41a6e7fba.txt ≈ seeds/001_9f3d23d05c5affdf.txt" in first.stdout
    assert "Files skipped: 0" in first.stdout
    assert "Embedding" in first.stderr  # the progress bar
    second = run("build", "--index", "idx", cwd=tmp_path)  # paths come from the manifest
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout and "Texts embedded: 0" in second.stdout


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("build", "--index", "idx", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: no paths given") and "Traceback" not in result.stderr


def test_skipped_files_set_exit_code_1(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Ein Satz über Duisburg.", "utf-8")
    (tmp_path / "docs" / "b.txt").write_bytes(b"")
    result = run("build", "docs", "--index", "idx", "--embedder", "hashing:16", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "docs/b.txt: empty file" in result.stdout
