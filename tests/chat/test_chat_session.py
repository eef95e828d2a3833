"""The chat session in-process (sleuth/chat.py) and the graph pieces under it: the plan-approval interrupt
used programmatically, a cancelled run keeping its thread, follow-up turns, commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from typer.testing import CliRunner

from sleuth.agents.common import NEW_TURN
from sleuth.agents.planner import recall_evidence, revise_plan
from sleuth.agents.report import SourceTable
from sleuth.chat import ChatSession
from sleuth.cli.main import app
from sleuth.graphs.checkpoint import open_checkpointer, thread_config
from sleuth.graphs.research import build_graph
from sleuth.graphs.state import first_reason, keep_numbers
from sleuth.research_app import default_deps
from sleuth.settings import Settings
from sleuth.tools.db.runs import RunLog
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task, task_of
from tests.fixtures.exports import exported_text
from tests.graph.llm_script import all_supported, plan, queries, quote_first_sentences, reply
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)

runner = CliRunner()


@pytest.fixture
def settings(sample_data_dir: Path, tmp_path: Path) -> Settings:  # noqa: F811
    return private_copy(sample_data_dir, tmp_path / "data")


@pytest.fixture
def session_factory(settings: Settings) -> Iterator:
    deps = default_deps(settings)
    with open_checkpointer(settings.checkpoint_path) as saver:

        def make(**kwargs: Any) -> ChatSession:
            return ChatSession(settings, deps, saver, **kwargs)

        yield make
    deps.close()


def test_plan_approval_is_an_interrupt_resumed_with_edit_or_cancel(settings: Settings) -> None:
    deps = default_deps(settings)
    with open_checkpointer(settings.checkpoint_path) as saver:
        graph = build_graph(deps, checkpointer=saver)
        edited, cancelled = thread_config("edited"), thread_config("cancelled")
        for config in (edited, cancelled):
            graph.invoke({"question": "What is BM25?", "run_id": "t", "approve_plan": True}, config)
            paused = graph.get_state(config)
            assert paused.next == ("approve_plan",) and "report" not in paused.values
            assert [sq["question"] for sq in paused.interrupts[0].value["plan"]] == ["What is BM25?"]
        answer = {"action": "edit", "plan": ["What is BM25?", "What is TF-IDF?"]}
        done = graph.invoke(Command(resume=answer), edited)
        assert [(sq["id"], sq["question"]) for sq in done["plan"]] == [
            ("sq1", "What is BM25?"),
            ("sq2", "What is TF-IDF?"),
        ]
        assert [s["question"] for s in done["report"]["sections"]] == ["What is BM25?", "What is TF-IDF?"]
        stopped = graph.invoke(Command(resume={"action": "cancel"}), cancelled)
        assert stopped["cancelled"] and "report" not in stopped and not stopped.get("evidence")
    deps.close()


def test_a_cancelled_run_keeps_its_thread_and_the_next_question_starts_a_clean_turn(
    session_factory, settings: Settings
) -> None:
    seen: list[str] = []

    def ctrl_c_at_the_writer(event: dict[str, Any]) -> None:
        seen.append(event["node"])
        if event["node"] == "writer" and seen.count("writer") == 1:
            raise KeyboardInterrupt  # what the SIGINT handler raises in the main thread

    chat = session_factory(auto_approve=True, on_event=ctrl_c_at_the_writer)
    reply = chat.handle("What is reciprocal rank fusion?")
    assert reply.text.startswith(f"Run cancelled; thread {chat.thread_id} keeps what was done")
    kept = chat.values()
    assert kept["evidence"] and kept["stop_reason"] == "cancelled by the user"
    assert RunLog(settings.duckdb_path).get(chat.thread_id)["status"] == "cancelled"

    answer = chat.handle("How is reciprocal rank fusion computed?")
    assert answer.markdown and "## Sources" in answer.text
    state = chat.values()
    assert state["turn"] == 2 and state["report"]["complete"] and state["stop_reason"] is None
    assert RunLog(settings.duckdb_path).get(chat.thread_id)["status"] == "completed"


def test_commands_and_their_usage_lines(session_factory, tmp_path: Path) -> None:
    chat = session_factory(auto_approve=True)
    assert "/save PATH" in chat.handle("/help").text
    assert chat.handle("/report").text == "no report yet" and "ask a question" in chat.handle("/sources").text
    assert "no web search configured" in chat.handle("/web on").text
    assert chat.handle("/web maybe").text.startswith("usage: /web on|off")
    assert chat.handle("What is HyDE?").markdown
    assert "save as one of md, json, html, pdf, docx" in chat.handle(f"/save {tmp_path / 'r.txt'}").text
    assert chat.handle(f"/save {tmp_path / 'r.json'}").text == f"saved to {tmp_path / 'r.json'}"
    assert json.loads((tmp_path / "r.json").read_text())["question"] == "What is HyDE?"
    for shared in ("r.pdf", "r.docx", "r.html"):  # the formats people send on
        assert chat.handle(f"/save {tmp_path / shared}").text == f"saved to {tmp_path / shared}"
        assert "What is HyDE?" in exported_text(tmp_path / shared)
    (tmp_path / "a-file").write_text("x")
    refused = chat.handle(f"/save {tmp_path / 'a-file' / 'r.md'}").text  # its parent is a file
    assert (
        refused.startswith(f"cannot save to {tmp_path / 'a-file' / 'r.md'}: ")
        and "try another path" in refused
    )
    assert chat.last_report()["question"] == "What is HyDE?"  # the session goes on, report kept
    first_thread = chat.thread_id
    assert first_thread in chat.handle("/threads").text
    chat.handle("/new")
    assert chat.thread_id is None and chat.handle("/plan").text.startswith("no plan yet")
    assert chat.handle("/QUIT").quit


def test_follow_up_numbers_sub_questions_after_the_thread_and_recalls_evidence() -> None:
    evidence = {
        "a": {
            "chunk_id": "a",
            "title": "BM25",
            "text": "BM25 saturates term frequency with k1.",
            "score": 0.4,
        },
        "b": {"chunk_id": "b", "title": "HyDE", "text": "Hypothetical documents for queries.", "score": 0.9},
    }
    plan = [{"id": "sq3", "question": "How does BM25 use k1?"}]
    recalled = recall_evidence(evidence, plan, limit=8)
    assert list(recalled) == ["a"] and recalled["a"]["sub_questions"] == ["sq3"]
    revised = revise_plan(plan, ["How does BM25 use k1", "What is b in BM25?"], used_ids=3, limit=6)
    assert [sq["id"] for sq in revised] == ["sq3", "sq4"]


def test_citation_numbers_stay_stable_within_a_thread() -> None:
    evidence = {cid: {"chunk_id": cid, "title": cid} for cid in ("a", "b", "c")}
    table = SourceTable(evidence, {"a": 1, "b": 2})
    assert table.cite(["c", "b"]) == [3, 2]
    assert [s["n"] for s in table.sources()] == [2, 3]  # only what this report cites, by number
    assert keep_numbers({"a": 1}, {"a": 5, "c": 3}) == {"a": 1, "c": 3}
    assert first_reason("budget", NEW_TURN) is None and first_reason("budget", "later") == "budget"


def test_piped_input_works_without_a_terminal_and_an_unknown_thread_is_refused(settings: Settings) -> None:
    piped = runner.invoke(
        app, ["chat", "--yes", "--data-dir", str(settings.data_dir)], input="\nWhat is BM25?\n/bogus\n"
    )
    assert piped.exit_code == 0, piped.output
    assert piped.stdout.count("sleuth> ") == 4 and "# What is BM25?" in piped.stdout  # Markdown source
    assert "unknown command /bogus" in piped.stdout and "continue with `sleuth chat --thread" in piped.stderr
    missing = runner.invoke(app, ["chat", "--thread", "nope", "--data-dir", str(settings.data_dir)], input="")
    assert missing.exit_code == 1 and "no chat thread 'nope'" in missing.stderr


def follow_up_script(planned: Iterator) -> Any:
    """A scripted LLM that plans from ``planned`` (one plan per turn) and judges the thread's
    evidence enough for every follow-up."""
    return responder_by_task(
        {
            "planner": lambda request: next(planned)(request),
            "decide": lambda request: reply({"retrieve": False, "reason": "the thread's passages answer it"}),
            "rewriter": queries,
            "writer": quote_first_sentences,
            "verifier": all_supported,
        }
    )


def test_with_an_llm_the_plan_prompt_and_a_follow_up_that_makes_do_with_the_thread_evidence(
    settings: Settings,
) -> None:
    planned = iter([plan("What is HyDE?"), plan("When does HyDE help?")])
    with ScriptedOpenAIServer(follow_up_script(planned)) as server:
        llm = settings.model_copy(update={"llm_model": "scripted-model", "llm_base_url": server.base_url})
        deps = default_deps(llm)
        with open_checkpointer(llm.checkpoint_path) as saver:
            chat = ChatSession(llm, deps, saver)
            assert "[1] What is HyDE?" in chat.handle("What is HyDE?").text and chat.awaiting_plan
            assert (
                "[1] What is HyDE?" in chat.handle("/plan").text and chat.awaiting_plan
            )  # commands work here
            first = chat.handle("y")
            assert "_Written by scripted-model._" in first.text and "[1]" in first.text
            chat.handle("When does HyDE help?")
            follow_up = chat.handle("accept")
            state = chat.values()
        deps.close()
        tasks = [task_of(r.json) for r in server.requests]
    assert "_Written by scripted-model._" in follow_up.text and state["turn"] == 2
    decided = [e for e in state["trace"] if e["node"] == "decide" and e["sub_question"] == "sq2"]
    assert decided and decided[0]["retrieval"] == "none"  # the model judged the recalled evidence enough
    # no query rewriting (nor retrieval) for the follow-up
    assert tasks.count("rewriter") == 1 and tasks.count("planner") == 2
    assert state["report"]["sources"] and all(
        state["source_numbers"][s["chunk_id"]] == s["n"] for s in state["report"]["sources"]
    )


def test_call_budgets_count_per_turn_so_a_long_thread_keeps_working(settings: Settings) -> None:
    planned = iter([plan("What is HyDE?"), plan("When does HyDE help?"), plan("Who proposed HyDE?")])
    with ScriptedOpenAIServer(follow_up_script(planned)) as server:
        llm = settings.model_copy(
            update={"llm_model": "scripted-model", "llm_base_url": server.base_url, "max_llm_calls": 5}
        )
        deps = default_deps(llm)
        with open_checkpointer(llm.checkpoint_path) as saver:
            chat = ChatSession(llm, deps, saver, auto_approve=True)
            reports = []
            for question in ("What is HyDE?", "When does HyDE help?", "Who proposed HyDE?"):
                chat.handle(question)
                reports.append(chat.values()["report"])
        deps.close()
    assert len(server.requests) >= 12  # three turns of 4 calls: far past a thread-wide budget of 5
    for report in reports:
        assert report["complete"] and report["stop_reason"] is None
        assert report["usage"]["llm_calls"] == 4  # planner, rewriter or decide, writer, verifier


def test_the_plan_prompt_shows_the_reading_of_an_ambiguous_question(settings: Settings) -> None:
    def ambiguous(request):  # type: ignore[no-untyped-def]
        return json.dumps(
            {
                "sub_questions": [{"question": "What is HyDE in retrieval?", "needs": ""}],
                "assumption": "Assuming HyDE the retrieval method, not the Jekyll character.",
            }
        )

    with ScriptedOpenAIServer(follow_up_script(iter([ambiguous]))) as server:
        llm = settings.model_copy(update={"llm_model": "scripted-model", "llm_base_url": server.base_url})
        deps = default_deps(llm)
        with open_checkpointer(llm.checkpoint_path) as saver:
            chat = ChatSession(llm, deps, saver)
            prompt = chat.handle("What is Hyde?").text
            assert (
                "Assuming HyDE the retrieval method, not the Jekyll character. Not what you meant?" in prompt
            )
            report = chat.handle("y").text
        deps.close()
    assert "> **Assumed:** Assuming HyDE the retrieval method" in report
