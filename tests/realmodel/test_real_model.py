"""The agentic path against a real model: opt-in, because a real model is slow and not in CI.

Runs when ``SLEUTH_TEST_LLM_URL`` (an OpenAI-compatible base URL on this machine) and
``SLEUTH_TEST_LLM_MODEL`` are set, for example with the shared Qwen2.5-Coder 1.5B::

    bash ../shared/llm/setup.sh 1.5b && bash ../shared/llm/start.sh 1.5b 8088
    SLEUTH_TEST_LLM_URL=http://127.0.0.1:8088/v1 SLEUTH_TEST_LLM_MODEL=qwen2.5-coder-1.5b-instruct \\
        .venv/bin/python -m pytest tests/realmodel -v

Nothing here asserts a model's wording: only what must hold whatever the model writes (a report is
written, every citation resolves to a retrieved passage, every shown claim is grounded in it, numbers stay
stable across a chat turn, a killed run resumes).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sleuth.agents.grounding import grounding_gap
from sleuth.settings import load_settings
from sleuth.tools.db.connection import open_duckdb

URL, MODEL = os.environ.get("SLEUTH_TEST_LLM_URL"), os.environ.get("SLEUTH_TEST_LLM_MODEL")
pytestmark = [
    pytest.mark.realmodel,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(
        not (URL and MODEL),
        reason="set SLEUTH_TEST_LLM_URL and SLEUTH_TEST_LLM_MODEL to run against a real model (../shared/llm)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is reciprocal rank fusion?"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test's private data dir with the sample corpus, and the real model as the configured LLM."""
    monkeypatch.setenv("SLEUTH_LLM_BASE_URL", URL or "")
    monkeypatch.setenv("SLEUTH_LLM_MODEL", MODEL or "")
    monkeypatch.setenv("SLEUTH_MAX_WALL_S", "1800")  # a loaded 2-core machine; the budget is not the test
    variables = dict(os.environ)
    sleuth(["ingest", "--sample"], variables)
    return variables


def sleuth(args: list[str], env: dict[str, str], timeout: float = 1800) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "sleuth", *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"sleuth {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done


def check_report(report: dict, evidence_text: dict[str, str]) -> None:
    """What holds whatever the model wrote: claims cite sources of this run, and what they say is there."""
    by_number = {s["n"]: s for s in report["sources"]}
    shown = [c for section in report["sections"] for c in section["claims"]]
    assert report["engine"] == f"openai:{MODEL}"
    for claim in shown:
        assert claim["citations"], claim
        assert all(n in by_number for n in claim["citations"]), claim
        if claim["verdict"] == "supported":
            cited = [evidence_text[by_number[n]["chunk_id"]] for n in claim["citations"]]
            assert grounding_gap(claim["text"], cited, 0.5) is None, claim
        if claim.get("quote"):  # the quote resolves into its source's text
            quote = claim["quote"]
            words = by_number[quote["n"]]["text"][quote["start"] : quote["end"]]
            assert words.strip() and quote["n"] in claim["citations"], claim
            if claim["quoted"]:
                plain = " ".join(words.replace("**", "").replace("`", "").split())
                assert claim["text"] == plain, claim


def chunk_texts(data_dir: Path) -> dict[str, str]:
    with open_duckdb(data_dir / "sleuth.duckdb") as con:
        return dict(con.execute("SELECT chunk_id, text FROM chunks").fetchall())


def test_research_on_the_sample_corpus(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    started = time.monotonic()
    sleuth(["research", QUESTION, "--format", "json", "--out", str(out)], env)
    report = json.loads(out.read_text())
    check_report(report, chunk_texts(Path(env["SLEUTH_DATA_DIR"])))
    assert any(section["claims"] for section in report["sections"]), "no section got a claim"
    assert report["usage"]["llm_calls"] >= 3
    assert 3 <= report["usage"]["sequential_llm_rounds"] <= report["usage"]["llm_calls"]
    print(
        f"\nresearch: {time.monotonic() - started:.0f} s, usage {report['usage']}, complete={report['complete']}"
    )


def test_a_chat_follow_up_keeps_citation_numbers(env: dict[str, str]) -> None:
    from sleuth.chat import ChatSession
    from sleuth.graphs.checkpoint import open_checkpointer
    from sleuth.research_app import default_deps

    settings = load_settings()
    deps = default_deps(settings)
    with open_checkpointer(settings.checkpoint_path) as saver:
        chat = ChatSession(settings, deps, saver, auto_approve=True)
        chat.handle(QUESTION)
        first = chat.values()["report"]
        chat.handle("How does it differ from score fusion?")
        second = chat.values()["report"]
    deps.close()
    texts = chunk_texts(settings.data_dir)
    for report in (first, second):
        check_report(report, texts)
    numbers = {s["chunk_id"]: s["n"] for s in first["sources"]}
    assert all(numbers.get(s["chunk_id"], s["n"]) == s["n"] for s in second["sources"])


def test_a_scheduled_run(env: dict[str, str]) -> None:
    sleuth(["schedule", "add", "rrf-weekly", QUESTION, "--cron", "0 7 * * MON"], env)
    sleuth(["schedule", "run", "rrf-weekly"], env)
    history = sleuth(["schedule", "history", "rrf-weekly"], env).stdout
    assert "completed" in history or "partial" in history, history


def test_a_run_killed_with_sigkill_resumes_from_its_checkpoint(env: dict[str, str], tmp_path: Path) -> None:
    checkpoints = Path(env["SLEUTH_DATA_DIR"]) / "checkpoints.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleuth", "research", QUESTION, "--thread", "killed-run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline and proc.poll() is None:  # wait for the planner's checkpoint
        if checkpoints.exists() and planner_done(checkpoints):
            break
        time.sleep(2)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    out = tmp_path / "resumed.json"
    sleuth(["research", "--thread", "killed-run", "--format", "json", "--out", str(out)], env)
    report = json.loads(out.read_text())
    check_report(report, chunk_texts(Path(env["SLEUTH_DATA_DIR"])))
    planner_calls = [r for r in report_usage(checkpoints) if r["task"] == "planner"]
    assert len(planner_calls) == 1, "the resumed run planned again"


def planner_done(checkpoints: Path) -> bool:
    with sqlite3.connect(checkpoints) as con:
        try:
            rows = con.execute(
                "SELECT count(*) FROM writes WHERE thread_id = 'killed-run' AND channel = 'plan'"
            )
        except sqlite3.OperationalError:
            return False
        return rows.fetchone()[0] > 0


def report_usage(checkpoints: Path) -> list[dict]:
    from sleuth.graphs.checkpoint import open_checkpointer, thread_config

    with open_checkpointer(checkpoints) as saver:
        state = saver.get(thread_config("killed-run"))
    return list(state["channel_values"].get("llm_usage", [])) if state else []


def test_a_langgraph_server_run_configured_to_the_real_model(env: dict[str, str], tmp_path: Path) -> None:
    """The server's per-run configuration reaches the real model: the offline engine is the server's
    default here, the run asks for the model in ``configurable``."""
    from langgraph_sdk import get_sync_client

    from tests.servers.langgraph_dev import langgraph_dev

    data_dir = Path(env["SLEUTH_DATA_DIR"])
    server_env = {k: v for k, v in env.items() if k not in ("SLEUTH_LLM_BASE_URL", "SLEUTH_LLM_MODEL")}
    os.environ.pop("SLEUTH_LLM_MODEL", None)  # langgraph_dev starts from os.environ
    os.environ.pop("SLEUTH_LLM_BASE_URL", None)
    with langgraph_dev(data_dir, tmp_path, server_env) as url:
        client = get_sync_client(url=url, timeout=1800)
        thread = client.threads.create()["thread_id"]
        values = client.runs.wait(
            thread,
            "research",
            input={"question": QUESTION},
            config={"configurable": {"llm_model": MODEL, "llm_base_url": URL}},
        )
    report = values["report"]
    check_report(report, chunk_texts(data_dir))
    assert report["usage"]["llm_calls"] >= 3 and values["messages"][-1]["type"] == "ai"
