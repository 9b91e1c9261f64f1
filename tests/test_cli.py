"""The CLI as a user runs it: real processes, the real default embedder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

# Every test here runs `python -m pipeline` processes as a user does (a second or more each, most of it
# start-up): `make test` runs them, `make test-fast` leaves them out.
pytestmark = pytest.mark.slow


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "HF_HUB_OFFLINE": "1",
                                            "PYTHONPATH": str(ROOT)})


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


def test_ask_json_and_many_questions(seeds_index: Path, tmp_path: Path) -> None:
    import json

    one = run("ask", "--index", str(seeds_index), "--json", "who signed the Duisburg declaration?", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    data = json.loads(one.stdout)
    assert "Anton Grabmaier" in data["answer"] and data["citations"][0]["n"] == 1
    qfile = tmp_path / "q.jsonl"
    qfile.write_text('{"id": "a", "question": "Wer ist Bürgermeister von Raunheim?"}\n'
                     '{"id": "b", "question": "Wie viele Einwohner hat Duisburg?"}\n'
                     '{"id": "c", "question": "   "}\n', "utf-8")
    many = run("ask", "--index", str(seeds_index), "--questions", str(qfile), cwd=tmp_path)
    assert many.returncode == 1, many.stderr  # answered, but one question was refused
    lines = [json.loads(line) for line in many.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b", "c"]
    assert "Thomas Jühe" in lines[0]["answer"] and lines[1]["abstained"] and "error" in lines[2]
    text = run("ask", "--index", str(seeds_index), "Wer ist Bürgermeister von Raunheim?", cwd=tmp_path)
    assert "Thomas Jühe" in text.stdout and "[1] " in text.stdout and "characters" in text.stdout


def test_eval_prints_the_metrics(seeds_index: Path, tmp_path: Path) -> None:
    result = run("eval", str(ROOT / "benchmarks" / "qa_seeds.jsonl"), "--index", str(seeds_index), "--details",
                 cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for key in ("hit@1", "hit@5", "mrr", "answer_accuracy", "citation_validity", "citation_support",
                "abstention_precision", "abstention_recall", "latency_p50_ms", "latency_p95_ms"):
        assert key in result.stdout


def test_bad_questions_get_a_clear_error(tmp_path: Path) -> None:
    built = run("build", str(ROOT / "seeds"), "--index", "idx", "--embedder", "hashing:16", "--quiet", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    for args in (["ask", "--index", "idx", ""], ["ask", "--index", "idx", "x" * 100_000],
                 ["ask", "--index", "nowhere", "hi"], ["eval", "missing.jsonl", "--index", "idx"]):
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_rebuild_without_embedder_flag_keeps_the_index_embedder(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("Ein Satz über Duisburg.", "utf-8")
    first = run("build", "docs", "--index", "idx", "--embedder", "hashing:16", "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = run("build", "docs", "--index", "idx", "--quiet", cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout and "Full rebuild" not in again.stdout


def test_a_damaged_index_is_a_clear_error_not_a_wrong_answer(tmp_path: Path) -> None:
    built = run("build", str(ROOT / "seeds"), "--index", "idx", "--embedder", "hashing:16", "--quiet", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    gen = (tmp_path / "idx" / "current").resolve()
    (gen / "vectors.faiss").write_bytes((gen / "vectors.faiss").read_bytes()[:100])
    result = run("ask", "--index", "idx", "Wer hat unterzeichnet?", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "vectors.faiss is truncated or damaged" in result.stderr and "python -m pipeline build" in result.stderr


def test_add_remove_and_list_sources(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Duisburg unterzeichnete 2018 eine Absichtserklärung mit Huawei.", "utf-8")
    (tmp_path / "b.txt").write_text("Gelsenkirchen arbeitet mit ZTE zusammen.", "utf-8")
    assert run("build", "docs", "--index", "idx", "--embedder", "hashing:16", "--quiet", cwd=tmp_path).returncode == 0
    added = run("add", "b.txt", "--index", "idx", "--quiet", "--json", cwd=tmp_path)
    assert added.returncode == 0 and json.loads(added.stdout)["added"] == ["b.txt"]
    listed = run("sources", "--index", "idx", cwd=tmp_path).stdout.splitlines()
    assert [line.split("\t")[0] for line in listed] == ["b.txt", "docs/a.txt"]
    removed = run("remove", "docs/a.txt", "--index", "idx", "--quiet", cwd=tmp_path)
    assert removed.returncode == 0 and "1 removed" in removed.stdout
    assert run("build", "--index", "idx", "--quiet", cwd=tmp_path).stdout.startswith("Index idx is up to date")
    assert [line.split("\t")[0] for line in run("sources", "--index", "idx", cwd=tmp_path).stdout.splitlines()] == ["b.txt"]
    missing = run("remove", "nope.txt", "--index", "idx", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.txt" in missing.stderr and "Traceback" not in missing.stderr


def test_output_into_a_closed_pipe_ends_quietly(seeds_index: Path, tmp_path: Path) -> None:
    """``belegt ask … | head -1``: the reader leaves early; no "Broken pipe" error, SIGPIPE's status."""
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "ask", "Wer hat die Absichtserklärung unterzeichnet?",
                             "--index", str(seeds_index), "--json"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                         "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the answer is written (head after its line, or at once)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 141 and "Broken pipe" not in err and "Traceback" not in err, err


def test_asking_an_empty_index_says_it_is_empty(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    assert run("build", "docs", "--index", "idx", cwd=tmp_path).returncode == 0
    out = run("ask", "Who signed?", "--index", "idx", "--json", cwd=tmp_path)
    data = json.loads(out.stdout)
    assert data["abstained"] and data["abstain_reason"] == "empty_index" and "index is empty" in data["answer"]


def test_remove_succeeds_beside_a_file_the_build_skips(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Duisburg unterzeichnete 2018 eine Absichtserklärung mit Huawei.", "utf-8")
    (docs / "b.txt").write_text("Gelsenkirchen arbeitet mit ZTE zusammen.", "utf-8")
    (docs / "empty.txt").write_text("", "utf-8")  # skipped by every build of docs/, with its reason
    built = run("build", "docs", "--index", "idx", "--embedder", "hashing:16", "--quiet", cwd=tmp_path)
    assert built.returncode == 1 and "empty.txt" in built.stdout
    removed = run("remove", "docs/a.txt", "--index", "idx", "--quiet", cwd=tmp_path)
    assert removed.returncode == 0 and "1 removed" in removed.stdout and "empty.txt" in removed.stdout
