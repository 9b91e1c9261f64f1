"""The README's library example runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SEEDS


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text("utf-8"), re.S)
    assert blocks, "the README shows a Python example"
    shutil.copytree(SEEDS, tmp_path / "seeds")
    script = tmp_path / "example.py"
    script.write_text(blocks[0], "utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
                                 "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert "Documents: 5" in result.stdout
    assert "Anton Grabmaier" in result.stdout and "[1]" in result.stdout
    assert re.search(r"^1 seeds/004_b2795a7f42533ec7.txt \d+ \d+$", result.stdout, re.M)
