"""What a small real model got wrong, replayed with scripted models: a made-up claim its verifier passed,
plans far larger than the question, rounds that found nothing new, prompts too long for the context, a
dropped claim listed twice."""

from __future__ import annotations

from dataclasses import replace

from sleuth.agents.anchoring import MIN_PAIRS_IN_ORDER, anchor_claim, find_anchor, in_order_share
from sleuth.agents.context_fit import estimate_tokens
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.grounding import grounding_gap
from sleuth.agents.structured import SCHEMA_ALLOWANCE
from sleuth.graphs.research import build_graph
from sleuth.reports.render import render_markdown
from sleuth.wiring import limits_from_settings
from tests.graph.helpers import (
    ScriptedModel,
    TinyCorpus,
    first_sentence_writer,
    inputs_of,
    plan_of,
    queries_from_question,
    verdict_for_all,
)


def research(responders, question: str, **limits):
    model = ScriptedModel(responders)
    deps = ResearchDeps(model=model, search=TinyCorpus(), limits=replace(limits_from_settings(), **limits))
    return build_graph(deps).invoke({"question": question}), model


def writer_of(text: str):
    """Writes one claim with the given text for every section, citing its first passage."""

    def write(request):
        sections = inputs_of(request)["sections"]
        return {
            "sections": [
                {"id": s["id"], "claims": [{"text": text, "citations": [s["evidence"][0]["ref"]]}]}
                for s in sections
            ]
        }

    return write


def test_a_claim_its_passages_do_not_contain_never_passes_whatever_the_verifier_says() -> None:
    responders = {
        "planner": plan_of("What is BM25?"),  # the real run cited a note on HNSW
        "rewriter": queries_from_question,
        "writer": writer_of("The 2022 World Cup was won by France."),
        "verifier": verdict_for_all("supported"),  # a small model vouching for its own invention
    }
    state, _ = research(responders, "Who won the 2022 World Cup?", max_iterations=1)
    report = state["report"]
    assert report["verification"]["supported"] == 0 and report["verification"]["unsupported"] == 1
    [dropped] = report["dropped_claims"]
    assert dropped["reason"].startswith("not grounded: ")
    assert all(not s["claims"] for s in report["sections"])
    assert "France" not in render_markdown(report).split("## Claims dropped")[0]


def test_grounding_needs_the_content_words_and_every_number() -> None:
    passage = "BM25 was introduced in 1994 at City University as a probabilistic ranking function."
    assert grounding_gap("BM25 was introduced in 1994.", [passage], 0.5) is None
    assert "do not state 1998" in grounding_gap("BM25 was introduced in 1998.", [passage], 0.5)
    assert "content words" in grounding_gap("France won the football World Cup final.", [passage], 0.5)
    assert "cites no passage" in grounding_gap("Anything.", [], 0.5)


def test_a_two_part_question_gets_about_two_sub_questions_without_near_duplicates() -> None:
    six = plan_of(
        "What is BM25?",
        "What is the BM25 ranking?",
        "How does HyDE help retrieval?",
        "How does HyDE help dense retrieval?",
        "What are the limitations of HyDE?",
        "How can I implement HyDE in my own project?",
    )
    responders = {"planner": six, "rewriter": queries_from_question, "writer": first_sentence_writer}
    responders["verifier"] = verdict_for_all("supported")
    state, _ = research(responders, "What is BM25 and how does HyDE help retrieval?")
    questions = [sq["question"] for sq in state["plan"]]
    assert len(questions) <= 3, questions
    assert questions[:2] == ["What is BM25?", "How does HyDE help retrieval?"]


def test_a_round_that_finds_no_new_evidence_ends_the_sections_loop() -> None:
    responders = {
        "planner": plan_of("What is BM25?"),
        "rewriter": queries_from_question,  # the same query every round: the same passages
        "writer": first_sentence_writer,
        "verifier": verdict_for_all("unsupported"),  # never satisfied
        "decide": lambda request: {"retrieve": True, "reason": "not yet"},
    }
    state, model = research(responders, "What is BM25?", max_iterations=5)
    writes = [r for r in model.requests if r.task == "writer"]
    assert len(writes) == 2  # round 1, then one more round that found nothing new
    first, again = (inputs_of(w)["sections"][0] for w in writes)
    assert first["rejected"] == []
    assert [r["text"] for r in again["rejected"]] == [c["text"] for c in state["report"]["dropped_claims"]]
    assert again["rejected"] and all(r["reason"] for r in again["rejected"])  # rewrite from the evidence
    assert state["report"]["complete"]


def test_prompts_are_fitted_to_the_context_window_and_the_report_says_so() -> None:
    responders = {
        "planner": plan_of("What is BM25?", "What is dense retrieval?"),
        "rewriter": queries_from_question,
        "writer": lambda request: {"sections": []},
        "verifier": verdict_for_all("supported"),
        "decide": lambda request: {"retrieve": False, "reason": "enough"},
    }
    roomy, model = research(responders, "What is BM25 and what is dense retrieval?")
    full = next(r for r in model.requests if r.task == "writer")
    assert roomy["report"]["usage"]["evidence_dropped"] == 0
    needed = estimate_tokens(full.messages) + 1024 + SCHEMA_ALLOWANCE
    tight, model = research(
        responders, "What is BM25 and what is dense retrieval?", llm_context_tokens=needed - 150
    )
    fitted = next(r for r in model.requests if r.task == "writer")
    sent = [len(s["evidence"]) for s in inputs_of(fitted)["sections"]]
    before = [len(s["evidence"]) for s in inputs_of(full)["sections"]]
    first_write = next(r for r in tight["llm_usage"] if r["task"] == "writer")
    assert first_write["evidence_dropped"] == sum(before) - sum(sent) > 0
    assert estimate_tokens(fitted.messages) <= needed - 150 - 1024 - SCHEMA_ALLOWANCE
    dropped = tight["report"]["usage"]["evidence_dropped"]  # every call's: the rewriter's too
    assert dropped >= first_write["evidence_dropped"]
    assert f"{dropped} passages left out to fit the context window" in render_markdown(tight["report"])


def test_a_dropped_claim_is_not_also_listed_as_conflicting_with_its_own_source() -> None:
    def unsupported_with_own_conflict(request):
        claims = inputs_of(request)["claims"]
        return {
            "verdicts": [
                {
                    "claim_id": c["claim_id"],
                    "verdict": "unsupported",
                    "reason": "no",
                    "conflicting_refs": c["citations"],
                }
                for c in claims
            ]
        }

    responders = {
        "planner": plan_of("What is BM25?"),
        "rewriter": queries_from_question,
        "writer": first_sentence_writer,
        "verifier": unsupported_with_own_conflict,
    }
    state, _ = research(responders, "What is BM25?", max_iterations=1)
    assert len(state["report"]["dropped_claims"]) == 1 and state["report"]["conflicts"] == []


def test_a_report_with_passages_but_no_claim_is_marked_not_answered() -> None:
    responders = {
        "planner": plan_of("What is BM25?"),
        "rewriter": queries_from_question,
        "writer": lambda request: {"sections": []},  # the model found nothing that answers
        "verifier": verdict_for_all("supported"),
    }
    state, _ = research(responders, "What is BM25?", max_iterations=1)
    report = state["report"]
    assert report["complete"] and not report["answered"] and report["passages_found"] >= 1
    markdown = render_markdown(report)
    assert f"**Not answered:** {report['passages_found']} passages were found" in markdown
    assert "add documents" not in markdown


def test_an_ambiguous_question_states_the_reading_it_followed() -> None:
    def planner(request):
        return {
            "sub_questions": [{"question": "How is Java's garbage collection tuned?", "needs": ""}],
            "assumption": "Assuming Java the programming language.",
        }

    responders = {
        "planner": planner,
        "rewriter": queries_from_question,
        "writer": first_sentence_writer,
        "verifier": verdict_for_all("supported"),
    }
    state, _ = research(responders, "How do you tune Java?", max_iterations=1)
    assert state["report"]["assumption"] == "Assuming Java the programming language."
    assert "> **Assumed:** Assuming Java the programming language." in render_markdown(state["report"])


def test_a_loose_paraphrase_becomes_its_sources_own_words_and_needs_no_verifier_call() -> None:
    # "controls the saturation of term frequency": most words are in the k1 sentence, not all
    responders = {
        "planner": plan_of("What does the k1 parameter of BM25 do?"),
        "rewriter": queries_from_question,
        "writer": writer_of("The k1 parameter governs saturation of term frequency."),
        "verifier": verdict_for_all("unsupported"),  # must not be asked about a quote
    }
    state, model = research(responders, "What does the k1 parameter of BM25 do?", max_iterations=1)
    report = state["report"]
    [claim] = [c for s in report["sections"] for c in s["claims"]]
    assert claim["quoted"] and claim["verdict"] == "supported"
    assert (
        claim["text"]
        == "Its k1 parameter controls term-frequency saturation and b controls length normalisation."
    )
    source = next(s for s in report["sources"] if s["n"] == claim["quote"]["n"])
    assert source["text"][claim["quote"]["start"] : claim["quote"]["end"]] == claim["text"]
    assert claim["citations"] == [claim["quote"]["n"]]
    assert "verifier" not in [r["task"] for r in state["llm_usage"]]
    assert f"“{claim['text']}”" in render_markdown(report)


def test_a_claim_whose_words_are_all_in_one_sentence_keeps_them_and_is_verified() -> None:
    responders = {
        "planner": plan_of("What does the k1 parameter of BM25 do?"),
        "rewriter": queries_from_question,
        "writer": writer_of("The k1 parameter of BM25 controls term-frequency saturation."),
        "verifier": verdict_for_all("supported"),
    }
    state, _ = research(responders, "What does the k1 parameter of BM25 do?", max_iterations=1)
    [claim] = [c for s in state["report"]["sections"] for c in s["claims"]]
    assert claim["text"] == "The k1 parameter of BM25 controls term-frequency saturation."
    assert not claim["quoted"] and claim["reason"] == "scripted"
    source = next(s for s in state["report"]["sources"] if s["n"] == claim["quote"]["n"])
    assert source["text"][claim["quote"]["start"] : claim["quote"]["end"]].startswith("Its k1 parameter")
    assert "verifier" in [r["task"] for r in state["llm_usage"]]


def test_an_anchor_is_the_shortest_window_holding_most_of_the_claim() -> None:
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota."
    found = find_anchor("Delta and zeta and theta.", {"c": text})
    assert found is not None and (found.text, found.share) == ("Delta epsilon zeta. Eta theta iota.", 1.0)
    assert text[found.start : found.end] == found.text
    single = find_anchor("Epsilon zeta kappa.", {"c": text})
    assert single is not None and single.text == "Delta epsilon zeta." and round(single.share, 2) == 0.67
    assert find_anchor("of the and", {"c": text}) is None


def test_a_claim_is_never_quoted_into_a_sentence_with_other_numbers() -> None:
    evidence = {"c": {"text": "France won the World Cup in 2018. The final was played in Moscow."}}
    claim = {"text": "France won the World Cup in 2022.", "citations": ["c"], "sub_question_id": "s"}
    kept = anchor_claim(claim, evidence, 0.5)
    assert kept["text"] == claim["text"] and not kept["quoted"]  # the grounding rule rejects it
    assert grounding_gap(kept["text"], [evidence["c"]["text"]], 0.5) == "the cited passages do not state 2022"
    loose = anchor_claim({**claim, "text": "In 2018 the World Cup went to France."}, evidence, 0.5)
    assert loose["quoted"] and loose["text"] == "France won the World Cup in 2018."


def test_a_claim_kept_in_the_models_words_cites_only_the_passages_that_hold_it() -> None:
    evidence = {
        "a": {"text": "BM25 saturates term frequency with its k1 parameter."},
        "b": {"text": "Dense retrieval embeds queries and passages in one vector space."},
        "c": {"text": "In BM25, the k1 parameter saturates term frequency."},
    }
    claim = {
        "text": "BM25 saturates term frequency with k1.",
        "citations": ["b", "a", "c"],
        "sub_question_id": "s",
    }
    kept = anchor_claim(claim, evidence, 0.5)
    assert kept["text"] == claim["text"] and not kept["quoted"]
    assert kept["citations"] == ["a", "c"] and kept["citations_removed"] == ["b"]  # c says it too
    alone = anchor_claim({**claim, "citations": ["a"]}, evidence, 0.5)
    assert alone["citations"] == ["a"] and "citations_removed" not in alone


def test_a_claim_with_its_sources_words_in_another_order_becomes_the_quote() -> None:
    evidence = {"a": {"text": "Acme Corporation quietly acquired its rival Globex in 2019. Its shares rose."}}
    reversed_roles = {"text": "Globex acquired Acme Corporation in 2019.", "citations": ["a"]}
    quoted = anchor_claim(reversed_roles, evidence, 0.5)
    assert (
        quoted["quoted"] and quoted["text"] == "Acme Corporation quietly acquired its rival Globex in 2019."
    )
    assert quoted["drafted"] == reversed_roles["text"]
    assert in_order_share(reversed_roles["text"], evidence["a"]["text"]) < MIN_PAIRS_IN_ORDER
    in_order = {"text": "Acme Corporation acquired Globex in 2019.", "citations": ["a"]}
    assert in_order_share(in_order["text"], evidence["a"]["text"]) == 1.0  # "quietly", "its rival" skipped
    kept = anchor_claim(in_order, evidence, 0.5)
    assert kept["text"] == in_order["text"] and not kept["quoted"]
