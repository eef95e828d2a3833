"""`sleuth chat` driven through a pseudo-terminal as a user would: plan approval, cited answers, a
follow-up that reuses the thread's evidence with stable citation numbers, /save, quit and resume, and
bad input (empty lines, unknown commands, a very long paste, Ctrl-C at the prompt and mid-run, Ctrl-D)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from sleuth.graphs.checkpoint import thread_config
from tests.chat.terminal import Terminal
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task
from tests.graph.llm_script import cooperative_model, quote_first_sentences
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)

PROMPT, PLAN_PROMPT = "sleuth> ", "plan> "


@pytest.fixture
def data_dir(sample_data_dir: Path, tmp_path: Path) -> Path:  # noqa: F811
    return private_copy(sample_data_dir, tmp_path / "data").data_dir


@pytest.fixture
def chat(data_dir: Path, model_cache_dir: Path) -> Iterator:
    """Start `sleuth chat ARGS...` on a terminal; every terminal started is killed at the end."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TERM": "dumb",  # prompt_toolkit and rich without cursor games: plain text to match
        "COLUMNS": "250",
        "LINES": "50",
        "SLEUTH_DATA_DIR": str(data_dir),
        "SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir),
    }
    started: list[Terminal] = []

    def start(*args: str, **extra_env: str) -> Terminal:
        term = Terminal([sys.executable, "-m", "sleuth", "chat", *args], env | extra_env)
        started.append(term)
        return term

    yield start
    for term in started:
        term.close()


def thread_values(data_dir: Path, thread_id: str) -> dict:
    conn = sqlite3.connect(data_dir / "checkpoints.sqlite")
    try:
        saved = SqliteSaver(conn).get_tuple(thread_config(thread_id))
    finally:
        conn.close()
    assert saved is not None, f"no checkpoint for thread {thread_id}"
    return saved.checkpoint["channel_values"]


def printed_sources(output: str) -> dict[str, int]:
    """chunk id -> citation number, from the sources list of a report shown in the terminal."""
    return {chunk: int(n) for n, chunk in re.findall(r"\[(\d+)\] .*?\(chunk ([0-9a-f]+),", output)}


@pytest.mark.slow
def test_ask_approve_follow_up_save_quit_and_resume(chat, data_dir: Path, tmp_path: Path) -> None:
    term = chat()
    term.expect("Ask a question", timeout=30)
    term.expect(PROMPT)
    term.send("What is BM25?")
    plan = term.expect(PLAN_PROMPT)
    assert "Plan:" in plan and "[1] What is BM25?" in plan
    term.send("+ How does BM25 differ from TF-IDF?")
    assert "[2] How does BM25 differ from TF-IDF?" in term.expect(PLAN_PROMPT)
    term.send("y")
    first = term.expect(PROMPT, timeout=20)
    assert "sq1 retriever:" in first and "sq2 retriever:" in first  # live progress
    assert "Verification:" in first and re.search(r"\.\s*\[1\]", first)  # a cited answer
    numbers_turn1 = printed_sources(first)
    assert numbers_turn1

    term.send("What are the parameters k1 and b in BM25?")
    term.expect(PLAN_PROMPT)
    term.send("yes")
    follow_up = term.expect(PROMPT, timeout=20)
    assert "Verification:" in follow_up
    for chunk, n in printed_sources(follow_up).items():  # a chunk keeps its number within the thread
        assert numbers_turn1.get(chunk, n) == n
    term.send(f"/save {tmp_path / 'out' / 'answer.md'}")
    assert "saved to" in term.expect(PROMPT)
    term.send(f"/save {tmp_path / 'answer.json'}")
    assert "saved to" in term.expect(PROMPT)
    term.send("/quit")
    thread_id = term.expect("`\n").split("sleuth chat --thread ")[1].split("`")[0]
    assert term.wait_exit() == 0

    state = thread_values(data_dir, thread_id)
    assert state["turn"] == 2 and [sq["id"] for sq in state["plan"]] == ["sq3"]
    reused = [p for p in state["evidence"].values() if {"sq1", "sq2"} & set(p["sub_questions"])]
    assert any("sq3" in p["sub_questions"] for p in reused), "the follow-up did not reuse turn 1's evidence"
    recalled = [e for e in state["trace"] if e["node"] == "planner" and e.get("recalled")]
    assert recalled and recalled[-1]["recalled"] > 0
    report = json.loads((tmp_path / "answer.json").read_text())
    assert report["question"] == "What are the parameters k1 and b in BM25?" and report["sources"]
    assert all(state["source_numbers"][s["chunk_id"]] == s["n"] for s in report["sources"])
    assert "What is BM25?" in (data_dir / "chat_history").read_text()  # prompt_toolkit's line history
    markdown = (tmp_path / "out" / "answer.md").read_text()
    assert markdown.startswith("# What are the parameters k1 and b in BM25?") and "## Sources" in markdown

    resumed = chat("--thread", thread_id, "--yes")
    assert "What are the parameters k1 and b in BM25?" in resumed.expect(PROMPT, timeout=30)
    resumed.send("/sources")
    sources = resumed.expect(PROMPT)
    assert all(f"[{s['n']}] {s['title']}" in sources for s in report["sources"])
    resumed.send("/report")
    assert "Verification:" in resumed.expect(PROMPT)
    resumed.write("\x04")  # Ctrl-D
    assert resumed.wait_exit() == 0


@pytest.mark.slow
def test_bad_input_empty_lines_unknown_commands_long_paste_ctrl_c_and_ctrl_d(chat) -> None:
    term = chat()
    term.expect(PROMPT, timeout=30)
    for blank in ("", "   "):
        term.send(blank)
        assert term.expect(PROMPT).strip(" \n") == PROMPT.strip()  # nothing but the prompt again
    term.send("/frobnicate now")
    assert "unknown command /frobnicate; /help lists the commands" in term.expect(PROMPT)

    paste = "What is hybrid search and why does it help? " + "Please explain every detail. " * 200
    term.send(paste)
    plan = term.expect(PLAN_PROMPT, timeout=20)
    assert f"question truncated from {len(paste.strip())} to 2000 characters" in plan
    term.send("-9")
    assert "no sub-question 9" in term.expect(PLAN_PROMPT)
    term.send("n")
    assert "Plan cancelled" in term.expect(PROMPT, timeout=10)

    term.write("\x03", at_prompt=False)  # Ctrl-C at the prompt: the line is dropped, the chat stays
    term.expect(PROMPT)
    term.write("\x04")  # Ctrl-D
    term.expect("continue with `sleuth chat --thread")
    assert term.wait_exit() == 0


@pytest.mark.slow
def test_ctrl_c_during_a_slow_model_call_cancels_the_run_and_the_thread_keeps_its_plan(chat) -> None:
    # a model that takes a minute to write: Ctrl-C lands mid-run however loaded the machine is (an offline
    # run can end before the keystroke arrives)
    slow_writer = lambda request: Reply.slow(60, quote_first_sentences(request))  # noqa: E731
    routes = cooperative_model("What is BM25?", "What is dense retrieval?", writer=slow_writer)
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        term = chat(SLEUTH_LLM_BASE_URL=server.base_url, SLEUTH_LLM_MODEL="scripted-model")
        term.expect(PROMPT, timeout=30)
        term.send("How do BM25 and dense retrieval differ?")
        term.expect(PLAN_PROMPT, timeout=20)
        term.send("y")
        term.expect("retriever:", timeout=30)
        term.write("\x03", at_prompt=False)  # Ctrl-C while the writer's call is out
        cancelled = term.expect(PROMPT, timeout=20)
        assert "Run cancelled; thread" in cancelled and "Verification:" not in cancelled
        term.send("/plan")
        assert "[2] What is dense retrieval?" in term.expect(PROMPT)  # the thread kept the plan
        term.write("\x04")
        term.expect("continue with `sleuth chat --thread")
        assert term.wait_exit() == 0
