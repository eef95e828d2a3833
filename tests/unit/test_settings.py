"""Configuration precedence: overrides > SLEUTH_* env > config file > defaults; OPENAI_* fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleuth.settings import load_settings
from tools.errors import ConfigError


def test_config_file_then_env_then_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLEUTH_DATA_DIR")
    (tmp_path / "sleuth.toml").write_text(
        'data_dir = "/from/file"\nchunk_chars = 700\nllm_model = "file-model"\n'
    )
    s = load_settings()
    assert (s.data_dir, s.chunk_chars, s.llm_model) == (Path("/from/file"), 700, "file-model")
    monkeypatch.setenv("SLEUTH_CHUNK_CHARS", "800")
    assert load_settings().chunk_chars == 800
    assert load_settings(chunk_chars=900).chunk_chars == 900


def test_openai_variables_fill_llm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_MODEL", "m")
    s = load_settings()
    assert (s.llm_base_url, s.llm_model, s.llm_api_key.get_secret_value()) == (
        "http://127.0.0.1:9/v1",
        "m",
        "sk-test",
    )
    monkeypatch.setenv("SLEUTH_LLM_MODEL", "mine")
    assert load_settings().llm_model == "mine"


def test_bad_config_is_a_one_line_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sleuth.toml").write_text("chunk_chars = [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings()
    (tmp_path / "sleuth.toml").write_text('chunk_chars = "many"\n')
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "\n" not in str(err.value)
    monkeypatch.setenv("SLEUTH_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not a file"):
        load_settings()
