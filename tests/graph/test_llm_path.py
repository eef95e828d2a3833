"""The research graph with the real OpenAIChatModel against a scripted OpenAI-compatible server on
loopback: routing decisions, a 429 then success, malformed JSON then a repair, and budget exhaustion."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from sleuth.agents.deps import ResearchDeps
from sleuth.graphs.research import build_graph
from sleuth.reports.render import render_markdown
from sleuth.tools.llm import OpenAIChatModel
from sleuth.wiring import limits_from_settings
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task, task_of
from tests.graph.helpers import TinyCorpus
from tests.graph.llm_script import (
    all_supported,
    cooperative_model,
    inputs_of,
    plan,
    queries,
    quote_first_sentences,
    reply,
)

QUESTION = "What is BM25 and what is HyDE?"


def research(server: ScriptedOpenAIServer, **limits: object) -> dict:
    model = OpenAIChatModel(server.base_url, None, "scripted-model", retry_wait_s=(0.01, 0.05), timeout_s=5)
    graph = build_graph(
        ResearchDeps(model=model, search=TinyCorpus(), limits=replace(limits_from_settings(), **limits))
    )
    return graph.invoke({"question": QUESTION})


def tasks(server: ScriptedOpenAIServer) -> Counter:
    return Counter(task_of(r.json) for r in server.requests if r.json)


def retrievals(state: dict, sq: str) -> int:
    return sum(1 for e in state["trace"] if e["node"] == "retriever" and e["sub_question"] == sq)


def test_decision_skips_retrieval_when_evidence_suffices_and_retrieves_when_not() -> None:
    verifications = []

    def verifier(request):
        verifications.append(request)
        claims = inputs_of(request)["claims"]
        verdict = "unsupported" if len(verifications) == 1 else "supported"  # round 1: every claim fails
        return reply({"verdicts": [{"claim_id": c["claim_id"], "verdict": verdict} for c in claims]})

    def decide(request):
        asked = inputs_of(request)
        enough = "BM25" in asked["sub_question"]
        assert asked["evidence"] and asked["missing"]  # it sees what was found and what failed
        return reply({"retrieve": not enough, "reason": "covered" if enough else "HyDE details missing"})

    routes = {
        "planner": plan("What is BM25?", "What is HyDE?"),
        "rewriter": queries,
        "decide": decide,
        "writer": quote_first_sentences,
        "verifier": verifier,
    }
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server)
    server.assert_all_consumed()
    assert tasks(server) == {"planner": 1, "rewriter": 3, "decide": 2, "writer": 2, "verifier": 2}
    assert retrievals(state, "sq1") == 1 and retrievals(state, "sq2") == 2  # sq1 skipped its second search
    assert state["status"]["sq1"]["decision"] == "skip" and state["status"]["sq2"]["decision"] == "retrieve"
    assert state["report"]["complete"] and state["report"]["verification"]["supported"] == 2
    # 10 calls, 8 on the critical path: planner; round 1: both rewriters side by side, writer, verifier;
    # round 2: sq2's decide then rewriter (beside sq1's decide), writer, verifier
    assert state["report"]["usage"]["sequential_llm_rounds"] == 8


def test_a_429_is_retried_and_the_run_completes() -> None:
    routes = {
        "planner": [
            Reply.http_error(429, "slow down", headers={"Retry-After": "0"}),
            plan("What is BM25?")({}),
        ],
        "rewriter": queries,
        "writer": quote_first_sentences,
        "verifier": all_supported,
    }
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server)
    server.assert_all_consumed()
    assert tasks(server)["planner"] == 2
    assert (
        state["report"]["complete"] and state["report"]["usage"]["llm_calls"] == 4
    )  # the retry is not a new call
    usage = state["report"]["usage"]
    assert usage["prompt_tokens"] + usage["completion_tokens"] == usage["tokens"]
    assert (
        usage["prompt_tokens"] > usage["completion_tokens"] > 0
    )  # the server's counts, split as it gave them
    assert "_Written by scripted-model._" in render_markdown(state["report"])


def test_malformed_json_gets_one_repair_and_the_run_completes() -> None:
    answers = iter(['{"sections": [{"id": "sq1", "claims": [{"text": "BM25 is', None])

    def writer(request):
        first = next(answers)
        return first if first is not None else quote_first_sentences(request)

    routes = cooperative_model("What is BM25?", writer=writer)
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server)
    writer_requests = [r.json for r in server.requests if task_of(r.json) == "writer"]
    assert len(writer_requests) == 2
    repair = writer_requests[1]["messages"]
    assert repair[-2]["role"] == "assistant" and repair[-2]["content"].startswith('{"sections"')
    assert "not valid for the required JSON schema" in repair[-1]["content"]
    assert [u["task"] for u in state["llm_usage"]].count("writer") == 2
    assert state["report"]["usage"]["sequential_llm_rounds"] == 5  # the repair waited for its call
    assert state["report"]["complete"] and state["report"]["verification"]["supported"] == 1


def test_budget_exhaustion_ends_the_run_cleanly_with_a_partial_report_that_says_so() -> None:
    routes = {
        "planner": plan("What is BM25?", "What is HyDE?"),
        "rewriter": queries,
        "writer": quote_first_sentences,
    }
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server, max_llm_calls=4)  # planner, 2 rewriters, writer: the verifier gets nothing
    server.assert_all_consumed()
    assert tasks(server) == {"planner": 1, "rewriter": 2, "writer": 1}
    report = state["report"]
    assert not report["complete"] and report["verification"] == {
        "supported": 0,
        "unsupported": 0,
        "contradicted": 0,
        "unchecked": 2,
        "total": 2,
    }
    markdown = render_markdown(report)
    assert (
        "**Partial report:** the run stopped early because the LLM call budget (4 calls) was used up"
        in markdown
    )
    assert markdown.count("(not verified)") == 2  # what was found is kept, marked as unchecked
    assert (
        "0 of 0 claims supported by their cited passages; 2 not checked because the run stopped early."
        in markdown
    )
