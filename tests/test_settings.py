"""Settings: the config file and the environment, and errors that name the setting and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.apps.cli import main as cli_main
from pipeline.settings import Settings, SettingsError, describe


def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "belegt.toml"
    path.write_text(text, "utf-8")
    monkeypatch.setenv("BELEGT_CONFIG", str(path))
    return path


def test_file_then_environment_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config(tmp_path, monkeypatch, "[retrieval]\ntop_k = 7\nrrf_k = 30\n\n[chunking]\nmax_chars = 500\n")
    monkeypatch.setenv("BELEGT_RETRIEVAL__TOP_K", "3")
    s = Settings(chunking={"max_chars": 400})
    assert (s.retrieval.top_k, s.retrieval.rrf_k, s.chunking.max_chars) == (3, 30, 400)


def test_a_misspelt_setting_is_an_error_that_lists_the_right_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELEGT_RETRIEVAL__TOPK", "3")
    with pytest.raises(ValidationError) as err:
        Settings()
    message = describe(err.value)
    assert "retrieval.topk is unknown" in message and "BELEGT_RETRIEVAL__TOPK" in message
    assert "top_k" in message.split("settings are:")[1]


def test_a_bad_value_names_the_field_the_value_and_where_to_set_it(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, monkeypatch, '[retrieval]\ntop_k = "many"\n')
    with pytest.raises(ValidationError) as err:
        Settings()
    message = describe(err.value)
    assert message.startswith("setting retrieval.top_k:") and "'many'" in message
    assert f"[retrieval] top_k in {path}" in message and "BELEGT_RETRIEVAL__TOP_K" in message


def test_broken_toml_and_unknown_sections_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = config(tmp_path, monkeypatch, "[retrieval\ntop_k = 3\n")
    with pytest.raises(SettingsError, match=f"{path}: not valid TOML"):
        Settings()
    config(tmp_path, monkeypatch, "[retreival]\ntop_k = 3\n")
    with pytest.raises(SettingsError, match=r"unknown section \[retreival\].*\[retrieval\]"):
        Settings()


def test_cli_prints_one_clear_error_and_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BELEGT_RETRIEVAL__TOP_K", "abc")
    assert cli_main(["ask", "who signed?", "--index", str(tmp_path / "idx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: setting retrieval.top_k:") and "Traceback" not in err
    monkeypatch.delenv("BELEGT_RETRIEVAL__TOP_K")
    config(tmp_path, monkeypatch, "[retreival]\n")
    assert cli_main(["ask", "who signed?", "--index", str(tmp_path / "idx")]) == 2
    assert "unknown section [retreival]" in capsys.readouterr().err
