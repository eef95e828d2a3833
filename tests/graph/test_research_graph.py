"""The research graph end to end over a tiny in-memory corpus: offline engine and scripted models."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sleuth.agents.deps import ResearchDeps
from sleuth.agents.relevance import is_relevant
from sleuth.graphs.checkpoint import open_checkpointer, thread_config
from sleuth.graphs.research import build_graph
from sleuth.reports.render import render_markdown
from sleuth.tools.errors import ModelError, ModelUnavailable
from sleuth.tools.records import Passage
from sleuth.wiring import limits_from_settings, offline_engine
from tests.graph.helpers import (
    NOTES,
    ScriptedModel,
    TinyCorpus,
    first_sentence_writer,
    inputs_of,
    plan_of,
    queries_from_question,
    verdict_for_all,
)


def run(model, question: str = "What is BM25 and how does reciprocal rank fusion work?", **limits):
    corpus = TinyCorpus()
    graph = build_graph(
        ResearchDeps(model=model, search=corpus, limits=replace(limits_from_settings(), **limits))
    )
    return graph.invoke({"question": question}), corpus


def nodes(state: dict, name: str, sq: str | None = None) -> list[dict]:
    return [e for e in state["trace"] if e["node"] == name and (sq is None or e.get("sub_question") == sq)]


def test_offline_run_cites_only_retrieved_passages_that_contain_each_claim() -> None:
    state, corpus = run(offline_engine())
    report = state["report"]
    assert [s["question"] for s in report["sections"]] == [
        "What is BM25?",
        "How does reciprocal rank fusion work?",
    ]
    sources = {s["n"]: s for s in report["sources"]}
    claims = [c for s in report["sections"] for c in s["claims"]]
    assert len(claims) >= 2
    for claim in claims:
        assert claim["citations"] and claim["verdict"] == "supported"
        for n in claim["citations"]:
            assert claim["text"] in corpus.get(sources[n]["chunk_id"]).text
    assert "bread" not in {s["doc_id"] for s in sources.values()}
    assert not any(p["doc_id"] == "bread" for p in state["evidence"].values())  # cut off before the writer
    markdown = render_markdown(report)
    assert "_Written by the offline engine (no LLM)._" in markdown
    assert (
        f"**Verification:** {len(claims)} of {len(claims)} claims supported by their cited passages."
        in markdown
    )
    assert (report["usage"]["llm_calls"], report["usage"]["tokens"]) == (0, 0) and report["complete"]


def test_relevance_cutoff_needs_similarity_or_a_top_lexical_rank_and_an_on_topic_term() -> None:
    limits = replace(limits_from_settings(), relevance_min_cosine=0.25, relevance_min_score_ratio=0.3)

    def passage(text: str, score: float, dense: float | None, lexical_rank: int | None) -> Passage:
        return Passage("c", "d", "t", "s", 0, 1, text, score, dense_score=dense, lexical_rank=lexical_rank)

    topic = "How does BM25 saturate term frequency?"
    assert is_relevant(passage("BM25 saturates term frequency.", 1.0, 0.6, 1), 1.0, topic, limits)
    assert not is_relevant(passage("BM25 saturates.", 0.2, 0.6, 1), 1.0, topic, limits)  # far below the best
    assert not is_relevant(
        passage("BM25 saturates.", 1.0, 0.1, 9), 1.0, topic, limits
    )  # dissimilar, low BM25 rank
    assert is_relevant(passage("BM25 saturates.", 1.0, 0.1, 2), 1.0, topic, limits)  # top BM25 hit
    assert not is_relevant(passage("Bread rises.", 1.0, 0.3, None), 1.0, topic, limits)  # no topical term
    assert is_relevant(passage("Okapi weighting.", 1.0, 0.55, None), 1.0, topic, limits)  # strongly similar


def test_writer_citations_outside_the_sections_evidence_are_removed_and_uncited_claims_dropped() -> None:
    def writer(request):
        refs = [e["ref"] for e in inputs_of(request)["sections"][0]["evidence"]]
        return {
            "sections": [
                {
                    "id": "sq1",
                    "claims": [
                        {"text": "BM25 is a lexical ranking function.", "citations": [refs[0], "E99"]},
                        {"text": "Invented fact with a made-up source.", "citations": ["E42"]},
                    ],
                },
                {"id": "sq7", "claims": [{"text": "A section nobody planned.", "citations": [refs[0]]}]},
            ]
        }

    model = ScriptedModel(
        {
            "planner": plan_of("What is BM25?"),
            "rewriter": queries_from_question,
            "writer": writer,
            "verifier": verdict_for_all("supported"),
        }
    )
    state, _ = run(model)
    claims = state["claims"]["sq1"]
    assert [c["text"] for c in claims] == ["BM25 is a lexical ranking function."]
    assert (
        claims[0]["citations"] == [next(iter(claims[0]["citations"]))]
        and claims[0]["citations"][0] in state["evidence"]
    )
    assert nodes(state, "writer")[0]["dropped_uncited"] == 2
    assert state["report"]["engine_label"] == "Written by scripted"


def test_unsupported_claims_send_only_their_section_back_for_another_round() -> None:
    rounds = {"n": 0}

    def verifier(request):
        rounds["n"] += 1
        verdicts = []
        for claim in inputs_of(request)["claims"]:
            bad = rounds["n"] == 1 and "BM25" in claim["text"]
            verdicts.append({"claim_id": claim["claim_id"], "verdict": "unsupported" if bad else "supported"})
        return {"verdicts": verdicts}

    decisions = []

    def decide(request):
        decisions.append(inputs_of(request))
        return {"retrieve": True, "reason": "missing facts"}

    model = ScriptedModel(
        {
            "planner": plan_of("What is BM25?", "What is reciprocal rank fusion?"),
            "rewriter": queries_from_question,
            "decide": decide,
            "writer": first_sentence_writer,
            "verifier": verifier,
        }
    )
    state, _ = run(model)
    assert len(nodes(state, "retriever", "sq1")) == 2 and len(nodes(state, "retriever", "sq2")) == 1
    first_bm25_sentence = NOTES["bm25"][1].split(". ")[0] + "."
    assert [d["missing"] for d in decisions] == [[first_bm25_sentence]]
    writer_sections = [inputs_of(r)["sections"] for r in model.requests if r.task == "writer"]
    assert [[s["id"] for s in sections] for sections in writer_sections] == [["sq1", "sq2"], ["sq1"]]
    assert state["iteration"] == 2 and state["report"]["verification"]["supported"] == 2


def test_after_the_last_iteration_unsupported_claims_are_dropped_from_the_answer_but_listed() -> None:
    model = ScriptedModel(
        {
            "planner": plan_of("What is BM25?"),
            "rewriter": queries_from_question,
            "writer": first_sentence_writer,
            "verifier": verdict_for_all("unsupported"),
        }
    )
    state, _ = run(model, max_iterations=1)
    report = state["report"]
    assert report["sections"][0]["claims"] == [] and len(report["dropped_claims"]) == 1
    assert report["verification"] == {
        "supported": 0,
        "unsupported": 1,
        "contradicted": 0,
        "unchecked": 0,
        "total": 1,
    }
    assert "0 of 1 claims supported" in render_markdown(report) and "## Claims dropped" in render_markdown(
        report
    )


def test_a_spent_call_budget_ends_the_run_with_a_partial_report_that_keeps_the_evidence() -> None:
    model = ScriptedModel(
        {
            "planner": plan_of("What is BM25?", "What is HyDE?"),
            "rewriter": queries_from_question,
            "writer": first_sentence_writer,
            "verifier": verdict_for_all("supported"),
        }
    )
    state, _ = run(model, max_llm_calls=3)  # planner + two rewriters; nothing left for the writer
    report = state["report"]
    assert not report["complete"] and "LLM call budget (3 calls)" in report["stop_reason"]
    assert [r.task for r in model.requests] == ["planner", "rewriter", "rewriter"]
    assert all(not s["written"] and s["unwritten_evidence"] for s in report["sections"])
    markdown = render_markdown(report)
    assert (
        "**Partial report:** the run stopped early because the LLM call budget (3 calls) was used up"
        in markdown
    )
    assert "Evidence found for it: [1]" in markdown


def test_a_failed_run_resumes_from_its_checkpoint_without_redoing_finished_nodes(tmp_path) -> None:
    def broken_writer(request):
        raise ModelUnavailable("LLM endpoint down")

    responders = {
        "planner": plan_of("What is BM25?", "What is HyDE?"),
        "rewriter": queries_from_question,
        "writer": broken_writer,
        "verifier": verdict_for_all("supported"),
    }
    model = ScriptedModel(responders)
    corpus = TinyCorpus()
    with open_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
        graph = build_graph(
            ResearchDeps(model=model, search=corpus, limits=limits_from_settings()), checkpointer=saver
        )
        with pytest.raises(ModelUnavailable):
            graph.invoke({"question": "BM25 and HyDE"}, thread_config("t1"))
    assert [r.task for r in model.requests] == ["planner", "rewriter", "rewriter", "writer"]
    searches = len(corpus.queries)

    responders["writer"] = first_sentence_writer
    with open_checkpointer(tmp_path / "checkpoints.sqlite") as saver:
        graph = build_graph(
            ResearchDeps(model=model, search=corpus, limits=limits_from_settings()), checkpointer=saver
        )
        state = graph.invoke(None, thread_config("t1"))
    assert [r.task for r in model.requests] == [
        "planner",
        "rewriter",
        "rewriter",
        "writer",
        "writer",
        "verifier",
    ]
    assert len(corpus.queries) == searches  # no search was repeated
    assert state["report"]["complete"] and state["report"]["verification"]["supported"] == 2


def test_a_model_error_in_one_node_leaves_a_partial_report_that_names_it() -> None:
    def context_overflow(request):
        raise ModelError("LLM endpoint http://x/v1 returned 400 Bad Request: context length exceeded")

    responders = {
        "planner": plan_of("What is BM25?"),
        "rewriter": queries_from_question,
        "writer": context_overflow,
        "verifier": verdict_for_all("supported"),
    }
    state = build_graph(
        ResearchDeps(model=ScriptedModel(responders), search=TinyCorpus(), limits=limits_from_settings())
    ).invoke({"question": "What is BM25?"})
    report = state["report"]
    assert not report["complete"]
    assert report["stop_reason"].startswith("the writer step failed: LLM endpoint http://x/v1 returned 400")
    assert "the writer step failed" in render_markdown(report)
    assert state["evidence"], "the evidence gathered before the failure is kept"
