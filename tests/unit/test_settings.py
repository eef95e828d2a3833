"""Configuration precedence: overrides > SLEUTH_* env > config file > defaults; OPENAI_* fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from sleuth.settings import load_settings
from sleuth.tools.errors import ConfigError


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


def test_an_unknown_key_in_the_config_file_is_refused_naming_the_closest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sleuth.toml").write_text("max_iteratons = 9\n")
    with pytest.raises(
        ConfigError, match=r"unknown setting 'max_iteratons' \(did you mean 'max_iterations'\?\)"
    ):
        load_settings()
    (tmp_path / "sleuth.toml").write_text("[sleuth]\nzzz_nothing_like_it = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'zzz_nothing_like_it'; `sleuth config` lists"):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        (
            "SLEUTH_CHUNK_OVERLAP_CHARS",
            "2000",
            "chunk_overlap_chars (2000) must be smaller than chunk_chars (1000)",
        ),
        (
            "SLEUTH_EMBEDDING_BATCH_SIZE",
            "0",
            "embedding_batch_size: Input should be greater than or equal to 1",
        ),
        ("SLEUTH_CHUNK_CHARS", "-5", "chunk_chars: Input should be greater than or equal to 1"),
        ("SLEUTH_MAX_SUB_QUESTIONS", "0", "max_sub_questions: Input should be greater than or equal to 1"),
        ("SLEUTH_RERANKER", "llm", 'reranker "llm" needs an LLM'),
        ("SLEUTH_RERANKER", "endpoint", 'reranker "endpoint" needs rerank_base_url'),
        ("SLEUTH_RERANKER", "cohere", "reranker: Input should be 'none', 'llm' or 'endpoint'"),
        ("SLEUTH_RERANK_WINDOW", "30", "rerank_window: Input should be less than or equal to 20"),
    ],
)
def test_settings_that_cannot_be_honoured_are_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_the_cli_refuses_a_bad_setting_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from sleuth.cli.main import app

    monkeypatch.setenv("SLEUTH_CHUNK_OVERLAP_CHARS", "2000")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\nSome text.\n")
    result = CliRunner().invoke(app, ["ingest", str(tmp_path / "docs")])
    assert result.exit_code == 1
    assert "chunk_overlap_chars (2000) must be smaller" in result.output
    assert "Traceback" not in result.output
