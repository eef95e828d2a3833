"""Sleuth as a LangGraph Server citizen: `langgraph dev` with no flags, driven by langgraph_sdk. Schemas
are published; a run pauses for plan approval, resumes with an edited plan and writes the report; the
run is recorded like a CLI run (run id = thread id, report file, research_runs row); the report is also
the assistant's message; a second turn from a chat client's message does not pause again and keeps the
citation numbers; a run configured to another engine uses it. The server keeps its threads in the
``checkpointer`` setting's store (langgraph.json names sleuth.server_graph.server_checkpointer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from langgraph_sdk import get_sync_client

from sleuth.tools.db.runs import RunLog
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task
from tests.graph.llm_script import cooperative_model
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)
from tests.servers.langgraph_dev import langgraph_dev

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
QUESTION = "What is HyDE and when does it help?"


@pytest.fixture(scope="module")
def server(sample_data_dir: Path, tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path):  # noqa: F811
    root = tmp_path_factory.mktemp("langgraph-dev")
    data_dir = private_copy(sample_data_dir, root / "data").data_dir
    with langgraph_dev(data_dir, root, {"SLEUTH_MODEL_CACHE_DIR": str(model_cache_dir)}) as url:
        yield get_sync_client(url=url), data_dir


def research_assistant(client) -> str:  # type: ignore[no-untyped-def]
    return next(a["assistant_id"] for a in client.assistants.search() if a["graph_id"] == "research")


def test_schemas_are_published(server) -> None:  # type: ignore[no-untyped-def]
    client, _ = server
    schemas = client.assistants.get_schemas(research_assistant(client))
    for key in ("input_schema", "output_schema", "state_schema", "config_schema"):
        assert schemas[key], key
    assert {"question", "approve_plan", "messages"} <= set(schemas["input_schema"]["properties"])
    assert {"llm_model", "llm_base_url", "web", "max_llm_calls", "max_wall_s"} <= set(
        schemas["config_schema"]["properties"]
    )


def test_plan_approval_edit_report_record_and_a_second_turn(server) -> None:  # type: ignore[no-untyped-def]
    client, data_dir = server
    assistant = research_assistant(client)
    thread = client.threads.create()["thread_id"]
    client.runs.wait(thread, assistant, input={"question": QUESTION, "approve_plan": True})
    paused = client.threads.get_state(thread)
    assert paused["next"] == ["approve_plan"]
    assert [sq["question"] for sq in paused["interrupts"][0]["value"]["plan"]]

    edited = ["What is HyDE?", "Who wrote the HyDE paper?"]
    values = client.runs.wait(thread, assistant, command={"resume": {"action": "edit", "plan": edited}})
    report = values["report"]
    assert [s["question"] for s in report["sections"]] == edited and report["complete"]
    assert values["run_id"] == thread
    answer = values["messages"][-1]
    assert answer["type"] == "ai" and "**Verification:**" in answer["content"]
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]

    run = RunLog(data_dir / "sleuth.duckdb").get(thread)
    assert run["status"] == "completed" and run["question"] == QUESTION
    with sqlite3.connect(data_dir / "checkpoints.sqlite") as con:  # the checkpointer setting's store
        saved = con.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", [thread]).fetchone()[0]
    assert saved > 0
    assert Path(run["report_path"]).is_file() and run["claims_total"] == report["verification"]["total"]

    first_numbers = {s["chunk_id"]: s["n"] for s in report["sources"]}
    streamed = list(
        client.runs.stream(
            thread,
            assistant,
            input={"messages": [{"role": "user", "content": "When does HyDE help?"}]},
            stream_mode=["messages", "updates"],
        )
    )
    state = client.threads.get_state(thread)
    assert state["next"] == []  # approval was asked for the first turn only
    second = state["values"]["report"]
    assert second["question"] == "When does HyDE help?" and second["complete"]
    assert all(first_numbers.get(s["chunk_id"], s["n"]) == s["n"] for s in second["sources"])
    said = [c.data for c in streamed if c.event == "messages/complete"]
    assert any(m[-1]["type"] == "ai" and "When does HyDE help?" in m[-1]["content"] for m in said)
    assert RunLog(data_dir / "sleuth.duckdb").get(thread)["attempts"] >= 1


def test_a_run_configured_to_another_engine_uses_it(server) -> None:  # type: ignore[no-untyped-def]
    client, data_dir = server
    routes = cooperative_model("What is HyDE?")
    with ScriptedOpenAIServer(responder_by_task(routes)) as llm:
        thread = client.threads.create()["thread_id"]
        configurable = {"llm_model": "scripted-model", "llm_base_url": llm.base_url, "max_llm_calls": 12}
        values = client.runs.wait(
            thread, research_assistant(client), input={"question": "What is HyDE?"},
            config={"configurable": configurable},
        )  # fmt: skip
        assert values["report"]["engine_label"] == "Written by scripted-model"
        assert len(llm.requests) >= 3
    assert RunLog(data_dir / "sleuth.duckdb").get(thread)["engine"] == "openai:scripted-model"
