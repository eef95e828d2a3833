"""Reranking in the research graph and in one sliding-window pass, with the real OpenAIChatModel
against a scripted OpenAI-compatible server: the model's order decides, calls are budgeted and counted,
and a reranker that fails leaves the fused order with the reason in the trace. Both ways of asking:
first-token log-probabilities where the server gives them, and a generated permutation where it
answers as llama-cpp-python does without ``logits_all`` (HTTP 500), which is then remembered."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

from sleuth.agents.budget import Ledger
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.rerank import LLMReranker
from sleuth.graphs.research import build_graph
from sleuth.tools.llm import OpenAIChatModel
from sleuth.wiring import limits_from_settings
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task, task_of
from tests.graph.helpers import TinyCorpus
from tests.graph.llm_script import cooperative_model, inputs_of, reply, user_text

QUESTION = "What is BM25 and what is dense retrieval?"
_PASSAGE = re.compile(r'<evidence ref="(?P<ref>\w+)"[^>]*>\n(?P<text>.*?)\n</evidence>', re.S)
NO_LOGPROBS = Reply.http_error(500, "logprobs is not supported for models created with logits_all=False")


def without_logprobs(responder):  # noqa: ANN001, ANN201
    """A responder as llama-cpp-python's server without logits_all: a logprobs request is a 500."""
    return lambda request: NO_LOGPROBS if request.get("logprobs") else responder(request)


def permutations(server: ScriptedOpenAIServer) -> list[dict]:
    return [r.json for r in server.requests if task_of(r.json) == "reranker" and not r.json.get("logprobs")]


def candidates(request: dict) -> list[tuple[str, str]]:
    return [(m["ref"], m["text"]) for m in _PASSAGE.finditer(user_text(request))]


def reverse_ranking(request: dict) -> str:
    return reply({"ranking": [ref for ref, _ in reversed(candidates(request))]})


def model(server: ScriptedOpenAIServer) -> OpenAIChatModel:
    return OpenAIChatModel(server.base_url, None, "scripted-model", retry_wait_s=(0.01, 0.05), timeout_s=5)


def research(server: ScriptedOpenAIServer) -> dict:
    limits = replace(limits_from_settings(), reranker="llm", rerank_depth=6, rerank_window=10)
    graph = build_graph(ResearchDeps(model=model(server), search=TinyCorpus(), limits=limits))
    return graph.invoke({"question": QUESTION})


def test_the_models_order_ranks_the_evidence_and_its_calls_are_counted() -> None:
    routes = cooperative_model(
        "What is BM25?", "What is dense retrieval?", reranker=without_logprobs(reverse_ranking)
    )
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server)
    asked_logprobs = [r for r in server.requests if r.json and r.json.get("logprobs")]
    assert len(asked_logprobs) == 1  # refused once, then remembered for the endpoint
    rerank_requests = permutations(server)
    assert len(rerank_requests) == 2  # one per sub-question's retrieval, not one per query
    asked = sorted(inputs_of(r)["query"] for r in rerank_requests)
    assert asked == ["What is BM25?", "What is dense retrieval?"]
    for request in rerank_requests:
        shown = candidates(request)
        assert [ref for ref, _ in shown] == [str(n) for n in range(1, len(shown) + 1)] and len(shown) > 2
        assert "quoted data" in user_text(request)  # passages go in as data, as for every node
    retrievals = [e for e in state["trace"] if e["node"] == "retriever"]
    assert all(e["reranked"] > 2 and e["reranker"] == "llm:openai:scripted-model" for e in retrievals)
    assert Counter(r["task"] for r in state["llm_usage"])["reranker"] == 2
    # each section's evidence follows the reversed candidate order, carrying the reranker's score
    by_text = {}
    for request in rerank_requests:
        order = [text for _, text in reversed(candidates(request))]
        by_text.update(
            {text.split("\n", 1)[-1]: (inputs_of(request)["query"], i) for i, text in enumerate(order)}
        )
    for sq in ("sq1", "sq2"):
        evidence = [e for e in state["evidence"].values() if sq in e["sub_questions"]]
        assert evidence and all(e["rerank_score"] is not None for e in evidence)
        ranked = sorted(evidence, key=lambda e: -e["sq_scores"][sq])
        places = [by_text[e["text"][:400]][1] for e in ranked if e["text"][:400] in by_text]
        assert places == sorted(places)
    assert state["report"]["complete"]


def test_a_reranker_that_keeps_failing_leaves_the_fused_order_and_says_why() -> None:
    routes = cooperative_model(
        "What is BM25?",
        "What is dense retrieval?",
        reranker=without_logprobs(lambda request: Reply(content="no json here")),
    )
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        state = research(server)
    retrievals = [e for e in state["trace"] if e["node"] == "retriever"]
    assert retrievals and all("did not match its schema" in e["rerank_skipped"] for e in retrievals)
    assert state["report"]["complete"] and state["report"]["verification"]["supported"] >= 2
    assert Counter(r["task"] for r in state["llm_usage"])["reranker"] == 4  # each: the call and one repair


def test_sliding_windows_carry_a_bottom_passage_to_the_top() -> None:
    texts = [f"passage number {i}" for i in range(12)]

    def prefer_eleven(request: dict) -> str:
        shown = candidates(request)
        first = [ref for ref, text in shown if text.endswith("number 11")]
        return reply({"ranking": first + [ref for ref, _ in shown if ref not in first]})

    with ScriptedOpenAIServer(responder_by_task({"reranker": without_logprobs(prefer_eleven)})) as server:
        reranker = LLMReranker(model(server), Ledger(limits_from_settings()), window=5, step=3)
        scores = reranker.score("which passage?", texts)
    assert reranker.first_token is False
    windows = [candidates(r) for r in permutations(server)]
    assert len(windows) == 4  # rows 7-11, 4-8, 1-5, 0-4
    assert [len(w) for w in windows] == [5, 5, 5, 5]
    assert max(range(12), key=scores.__getitem__) == 11
    order = sorted(range(12), key=lambda i: -scores[i])
    assert order[1:] == [i for i in range(11)]  # the others keep their order
    assert len(reranker.usage) == 4 and all(u["task"] == "reranker" for u in reranker.usage)


def test_first_token_logprobs_order_each_window_in_one_output_token() -> None:
    texts = [f"passage number {i}" for i in range(12)]

    def logprobs_by_number(request: dict) -> Reply:
        assert request["max_tokens"] == 1 and request["logprobs"] and request["top_logprobs"] == 5
        assert "response_format" not in request
        shown = candidates(request)
        assert [ref for ref, _ in shown] == list("ABCDE")
        # the model "prefers" higher passage numbers: the best label first, the rest by number
        ranked = sorted(shown, key=lambda item: -int(item[1].rsplit(" ", 1)[1]))
        tokens = [(f" {label}" if n == 1 else label, -0.1 - n) for n, (label, _) in enumerate(ranked)]
        return Reply(content=ranked[0][0], logprobs=tokens[:4], usage=(120, 1))  # E left out of the top 4

    with ScriptedOpenAIServer(responder_by_task({"reranker": logprobs_by_number})) as server:
        reranker = LLMReranker(model(server), Ledger(limits_from_settings()), window=5, step=3)
        scores = reranker.score("which passage?", texts)
    assert reranker.first_token is True and len(server.requests) == 4  # one call per window, no JSON
    order = sorted(range(12), key=lambda i: -scores[i])
    assert order[0] == 11  # carried to the top through the windows
    assert all(
        u["structured_output"] == "first_token" and u["completion_tokens"] == 1 for u in reranker.usage
    )
