"""docs/library.md runs as written: every Python block, in order, as one script."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS
from openai_stub import stub_server


@pytest.mark.slow
def test_library_guide_runs(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "library.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) >= 5, "the guide shows its examples as Python blocks"
    shutil.copytree(SEEDS, tmp_path / "seeds")
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "qa_seeds.jsonl", tmp_path / "benchmarks")
    script = "\n".join(blocks)
    with stub_server([{"content": "Unterzeichnet haben Oberbürgermeister Sören Link und Ernest Zhang [1][2]."}]) as server:
        # The guide's server URL, pointed at the scripted OpenAI-compatible stub.
        (tmp_path / "guide.py").write_text(script.replace("http://127.0.0.1:8000/v1", server.base_url), "utf-8")
        result = subprocess.run([sys.executable, "guide.py"], cwd=tmp_path, capture_output=True, text=True,
                                timeout=900, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                                                  "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(server.requests) == 1
    out = result.stdout
    assert "5 documents," in out and "Anton Grabmaier" in out
    assert "True Die Quellen enthalten dazu keine Angaben." in out
    assert "('memo.txt',) 5" in out and "\nmemo.txt\n" in out and "text:note-1" in out
    assert re.search(r"^[123] seeds/004_b2795a7f42533ec7.txt \d+ \d+ ", out, re.M)
    assert "\n384\n" in out and "llm Unterzeichnet haben" in out
