"""A research run killed with SIGKILL mid-way resumes from its checkpoint on the same thread and
finishes without redoing the steps that had completed (counted as LLM requests per task)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from sleuth.agents.deps import ResearchDeps
from sleuth.research_app import run_research
from sleuth.settings import load_settings
from sleuth.tools.db.runs import RunLog
from sleuth.tools.llm import OpenAIChatModel
from sleuth.wiring import limits_from_settings
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task, task_of
from tests.graph.helpers import TinyCorpus
from tests.graph.llm_script import cooperative_model, quote_first_sentences
from tests.servers.postgres import postgres_checkpoints

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is BM25 and what is HyDE?"
DRIVER = """
import sys
from sleuth.agents.deps import ResearchDeps
from sleuth.research_app import run_research
from sleuth.settings import load_settings
from sleuth.wiring import limits_from_settings
from tests.graph.helpers import TinyCorpus
from sleuth.tools.llm import OpenAIChatModel
model = OpenAIChatModel(sys.argv[1], None, "scripted-model", timeout_s=120, max_retries=1)
deps = ResearchDeps(model=model, search=TinyCorpus(), limits=limits_from_settings())
run_research(load_settings(), sys.argv[3], thread_id=sys.argv[2], deps=deps)
"""


@pytest.fixture(params=["sqlite", "postgres"])
def checkpointer(request: pytest.FixtureRequest) -> str:
    """The ``checkpointer`` setting: "" for the SQLite file, or a fresh database on a real PostgreSQL."""
    return "" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def test_kill_9_during_the_writer_then_resume_finishes_without_redoing_earlier_steps(
    tmp_path: Path, checkpointer: str
) -> None:
    writer_called, release = threading.Event(), threading.Event()
    writer_calls = {"n": 0}

    def writer(request):
        writer_calls["n"] += 1
        if writer_calls["n"] == 1:  # the first writer call hangs until the process that made it is dead
            writer_called.set()
            release.wait(60)
        return quote_first_sentences(request)

    routes = cooperative_model("What is BM25?", "What is HyDE?", writer=writer)
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "SLEUTH_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
        "SLEUTH_CHECKPOINTER": checkpointer,
    }
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, server.base_url, "run-1", QUESTION],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            assert writer_called.wait(60), proc.communicate(timeout=5)[0].decode()[-2000:]
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            release.set()
            proc.kill()
        before = Counter(task_of(r.json) for r in server.requests)
        assert before == {"planner": 1, "rewriter": 2, "writer": 1}
        settings = load_settings(data_dir=data_dir, checkpointer=checkpointer)
        killed = RunLog(settings.duckdb_path).get("run-1")  # the next command closes the dead process's run
        assert killed["status"] == "interrupted" and "resume it with --thread" in killed["error"]

        model = OpenAIChatModel(server.base_url, None, "scripted-model", timeout_s=10)
        result = run_research(
            settings,
            None,
            thread_id="run-1",
            deps=ResearchDeps(model=model, search=TinyCorpus(), limits=limits_from_settings()),
        )

    after = Counter(task_of(r.json) for r in server.requests)
    assert after == {
        "planner": 1,
        "rewriter": 2,
        "writer": 2,
        "verifier": 1,
    }  # only the killed step ran again
    assert result.resumed and result.report["complete"] and result.report["question"] == QUESTION
    assert result.report["verification"]["supported"] == 2
    run = RunLog(settings.duckdb_path).get("run-1")
    assert (
        run["status"] == "completed"
        and run["attempts"] == 2
        and run["report_path"] == str(result.report_path)
    )
    assert result.report_path.read_text().startswith(f"# {QUESTION}")
    if checkpointer:  # the run and its resume went through PostgreSQL, not a SQLite file beside them
        assert postgres_checkpoints(checkpointer, "run-1") > 0 and not settings.checkpoint_path.exists()
