"""The ``checkpointer`` setting on a real PostgreSQL server (tests/servers/postgres.py): `sleuth research`
and a chat follow-up keep their threads there (the kill -9 and resume case is in
tests/graph/test_kill_resume.py, run on both checkpointers); an unreachable server is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sleuth.chat import ChatSession
from sleuth.cli.main import app
from sleuth.graphs.checkpoint import open_checkpointer
from sleuth.research_app import default_deps
from sleuth.settings import Settings
from sleuth.tools.errors import ConfigError
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)
from tests.servers.postgres import free_port, postgres_checkpoints

runner = CliRunner()


@pytest.fixture
def settings(sample_data_dir: Path, tmp_path: Path, postgres_url: str) -> Settings:  # noqa: F811
    return private_copy(sample_data_dir, tmp_path / "data", checkpointer=postgres_url)


def test_research_checkpoints_to_postgres(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEUTH_CHECKPOINTER", settings.checkpointer)
    result = runner.invoke(
        app, ["research", "What is BM25?", "--data-dir", str(settings.data_dir), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    run_id = result.stderr.split("Run id ")[1].split()[0]
    assert postgres_checkpoints(settings.checkpointer, run_id) > 0
    assert not settings.checkpoint_path.exists()
    resumed = runner.invoke(app, ["research", "--thread", run_id, "--data-dir", str(settings.data_dir)])
    assert resumed.exit_code == 0 and "(resumed)" in resumed.stderr  # found again, in PostgreSQL


def test_a_chat_follow_up_on_postgres_keeps_the_thread_and_its_citation_numbers(settings: Settings) -> None:
    deps = default_deps(settings)
    try:
        with open_checkpointer(settings.checkpoint_location) as saver:
            chat = ChatSession(settings, deps, saver, auto_approve=True)
            first = chat.ask("What is HyDE?")
            numbers = {s["chunk_id"]: s["n"] for s in chat.last_report()["sources"]}
            thread_id = chat.thread_id
        with open_checkpointer(settings.checkpoint_location) as saver:  # a later session, a new connection
            chat = ChatSession(settings, deps, saver, thread_id=thread_id, auto_approve=True)
            assert "Continuing thread" in chat.continue_thread().text
            second = chat.ask("When does HyDE help?")
            report, turn = chat.last_report(), chat.values()["turn"]
    finally:
        deps.close()
    assert first.outcome == second.outcome == "report"
    assert turn == 2
    assert all(numbers.get(s["chunk_id"], s["n"]) == s["n"] for s in report["sources"])
    assert postgres_checkpoints(settings.checkpointer, thread_id) > 0


def test_an_unreachable_checkpoint_database_is_one_line() -> None:
    url = f"postgresql://sleuth:secret@127.0.0.1:{free_port()}/sleuth"
    with pytest.raises(ConfigError) as refused, open_checkpointer(url):
        pass
    message = str(refused.value)
    assert message.startswith("cannot reach the checkpoint database postgresql://sleuth@127.0.0.1:")
    assert "secret" not in message and "\n" not in message
