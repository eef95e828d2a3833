"""The offline engine's rules, task by task, through its ChatModel interface."""

from __future__ import annotations

import json

import pytest

from sleuth.agents.offline.engine import feedback_terms
from sleuth.agents.offline.writing import is_quotable
from sleuth.agents.structured import render_messages
from sleuth.agents.textmatch import direction, opposite_direction
from sleuth.prompts import load_prompt
from sleuth.tools.errors import ModelError
from sleuth.tools.llm import ChatModel, ChatRequest
from sleuth.wiring import offline_engine
from tests.graph.helpers import NOTES, SCHEMAS


def ask(task: str, **inputs: object):
    engine = offline_engine()
    messages = render_messages(task, load_prompt(task).text, inputs)
    response = engine.complete(ChatRequest(task=task, messages=messages, schema=SCHEMAS[task]))
    assert response.model == "offline" and response.usage.prompt_tokens == 0
    return SCHEMAS[task].model_validate_json(response.text)


def plan(question: str) -> list[str]:
    return [sq.question for sq in ask("planner", question=question, max_sub_questions=6).sub_questions]


def test_offline_engine_is_a_chat_model_and_refuses_unknown_tasks() -> None:
    engine = offline_engine()
    assert isinstance(engine, ChatModel) and engine.name == "offline"
    with pytest.raises(ModelError, match="cannot do the task 'poem'"):
        engine.complete(ChatRequest(task="poem", messages=[], schema=None))
    with pytest.raises(ModelError, match="cannot read the planner request"):
        engine.complete(
            ChatRequest(task="planner", messages=[{"role": "user", "content": "hi"}], schema=None)
        )


def test_planner_keeps_a_simple_question_whole() -> None:
    assert plan("what are the benefits and drawbacks of hybrid search") == [
        "What are the benefits and drawbacks of hybrid search?"
    ]


def test_planner_splits_compound_questions_and_resolves_the_pronoun() -> None:
    assert plan("What is HyDE and how does it improve retrieval?") == [
        "What is HyDE?",
        "How does HyDE improve retrieval?",
    ]
    assert plan("What is BM25? Why do dense retrievers fail on rare tokens?") == [
        "What is BM25?",
        "Why do dense retrievers fail on rare tokens?",
    ]
    assert plan("Define chunking; what is late chunking") == ["Define chunking?", "What is late chunking?"]


@pytest.mark.parametrize(
    "question",
    [
        "Compare BM25 and dense retrieval for rare terms",
        "BM25 vs dense retrieval for rare terms: which is better?",
        "What is the difference between BM25 and dense retrieval for rare terms?",
        "How does BM25 compare to dense retrieval for rare terms?",
    ],
)
def test_planner_turns_comparisons_into_one_question_per_item_plus_a_comparison(question: str) -> None:
    assert plan(question) == [
        "What are the strengths and weaknesses of BM25 for rare terms?",
        "What are the strengths and weaknesses of dense retrieval for rare terms?",
        "How do BM25 and dense retrieval compare for rare terms?",
    ]


def test_rewriter_gives_keyword_variants_missing_fact_queries_and_feedback_expansion() -> None:
    feedback = [
        {"ref": "E1", "text": NOTES["bm25"][1]},
        {"ref": "E2", "text": NOTES["bm25"][1] + " Saturation matters."},
    ]
    queries = ask(
        "rewriter",
        sub_question="What is BM25?",
        missing=["BM25 was built at City University London"],
        feedback=feedback,
        known_queries=[],
    ).queries
    assert queries[0] == "What is BM25?" and queries[1] == "bm25"
    assert "bm25 built city university london" in queries
    expanded = queries[-1].split()
    assert expanded[0] == "bm25" and len(expanded) > 1  # PRF adds terms the question lacked
    assert set(expanded[1:]) <= set(" ".join(f["text"] for f in feedback).lower().replace(".", " ").split())


def test_feedback_terms_need_support_from_several_passages() -> None:
    passages = ["zebra stripes confuse flies", "zebra stripes cool the body", "okapi"]
    assert feedback_terms("Why do zebras have stripes?", passages) == []  # every shared term was asked
    assert feedback_terms("Why do zebras exist?", passages) == ["stripes"]


def test_decision_skips_retrieval_only_with_enough_on_topic_coverage() -> None:
    evidence = [{"ref": f"E{i}", "title": "BM25", "text": NOTES["bm25"][1]} for i in range(3)]
    enough = ask(
        "decide",
        sub_question="What does BM25 score?",
        evidence=evidence,
        missing=[],
    )
    assert enough.retrieve is False
    too_few = ask(
        "decide",
        sub_question="What does BM25 score?",
        evidence=evidence[:2],
        missing=[],
    )
    assert too_few.retrieve is True
    gap = ask(
        "decide",
        sub_question="What does BM25 score?",
        evidence=evidence,
        missing=["BM25 was invented by Stephen Robertson at City University"],
    )
    assert gap.retrieve is True and "missing" in gap.reason


def test_writer_quotes_relevant_sentences_and_cites_where_each_came_from() -> None:
    evidence = [
        {"ref": f"E{i}", "title": NOTES[d][0], "text": NOTES[d][1]}
        for i, d in enumerate(["bm25", "bread", "dense"], 1)
    ]
    # E4 repeats E1 (as overlapping chunks do): its sentences must not be quoted twice
    evidence.append({"ref": "E4", "title": "BM25", "text": NOTES["bm25"][1]})
    draft = ask(
        "writer",
        question="q",
        sections=[{"id": "sq1", "question": "How does BM25 rank documents?", "evidence": evidence}],
    )
    claims = draft.sections[0].claims
    assert claims, "expected at least one claim"
    by_ref = {e["ref"]: e["text"] for e in evidence}
    for claim in claims:
        assert len(claim.citations) == 1 and claim.text in by_ref[claim.citations[0]]
    assert all(c.citations != ["E2"] for c in claims)  # the bread note is off-topic
    assert len({c.text for c in claims}) == len(claims)
    assert claims[0].text.startswith("BM25 is a lexical ranking function")


def test_writer_does_not_quote_fragments_or_formulas() -> None:
    assert is_quotable("BM25 is a lexical ranking function used by search engines.")
    assert not is_quotable("its scores are unbounded and depend on the query, so")
    assert not is_quotable("Its scores are unbounded and depend on the query, so")
    assert not is_quotable("Document A scores 1/61 + 1/63 = 0.0323 in the fused list.")


def verdicts(claims: list[dict], evidence: list[dict]) -> dict[str, dict]:
    out = ask("verifier", claims=claims, evidence=evidence)
    return {v.claim_id: v.model_dump() for v in out.verdicts}


def test_verifier_supports_quotes_and_rejects_claims_the_passage_does_not_make() -> None:
    evidence = [{"ref": "E1", "title": "BM25", "text": NOTES["bm25"][1]}]
    result = verdicts(
        [
            {"claim_id": "a", "text": "BM25 excels at exact matches on rare tokens.", "citations": ["E1"]},
            {"claim_id": "b", "text": "Sourdough starter needs daily flour feeding.", "citations": ["E1"]},
            {"claim_id": "c", "text": "BM25 excels at exact matches.", "citations": ["E9"]},
            {
                "claim_id": "d",
                "text": "BM25 does not excel at exact matches on rare tokens.",
                "citations": ["E1"],
            },
        ],
        evidence,
    )
    assert result["a"]["verdict"] == "supported"
    assert result["b"]["verdict"] == "unsupported" and "0%" in result["b"]["reason"]
    assert result["c"]["verdict"] == "unsupported" and "no passage" in result["c"]["reason"]
    assert result["d"]["verdict"] == "contradicted"


def test_verifier_reports_an_uncited_passage_that_says_the_opposite() -> None:
    evidence = [
        {
            "ref": "E1",
            "title": "A",
            "text": "Reciprocal rank fusion needs score normalisation before fusing.",
        },
        {
            "ref": "E2",
            "title": "B",
            "text": "Reciprocal rank fusion needs no score normalisation before fusing.",
        },
    ]
    claim = {
        "claim_id": "a",
        "text": "Reciprocal rank fusion needs score normalisation before fusing.",
        "citations": ["E1"],
    }
    result = verdicts([claim], evidence)["a"]
    assert result["verdict"] == "supported" and result["conflicting_refs"] == ["E2"]
    assert json.dumps(result)  # plain data


def test_verifier_reads_an_opposite_direction_as_a_contradiction_and_mixed_directions_as_none() -> None:
    passage = (
        "In the trial, statin therapy reduced the risk of stroke in older patients. "
        "Exercise increased and then lowered blood pressure during the session."
    )
    evidence = [{"ref": "E1", "title": "Trial", "text": passage}]
    result = verdicts(
        [
            {"claim_id": c, "text": t, "citations": ["E1"]}
            for c, t in (
                ("up", "Statin therapy increases the risk of stroke in older patients."),
                ("down", "Statin therapy lowers the risk of stroke in older patients."),
                ("mixed", "Exercise increased blood pressure during the session."),
            )
        ],
        evidence,
    )
    assert result["up"]["verdict"] == "contradicted" and "direction" in result["up"]["reason"]
    assert result["down"]["verdict"] == "supported"
    assert result["mixed"]["verdict"] == "supported"  # the sentence goes both ways: no direction to oppose


def test_direction_is_up_down_or_none() -> None:
    assert direction("Alirocumab reduced plasma Lp(a) by 18.7%.") == -1
    assert direction("ApoE4 neurons had higher levels of tau phosphorylation.") == 1
    assert direction("Exercise increased and then lowered blood pressure.") == 0
    assert direction("Aspirin improves outcomes.") == 0  # better/worse is not up/down
    assert opposite_direction("X increases Y.", "X decreases Y.") and not opposite_direction(
        "X", "X decreases Y."
    )


def test_a_statement_is_planned_as_itself_without_a_question_mark() -> None:
    claim = "Vitamin D supplementation lowers the risk of hip fractures in older adults."
    assert plan(claim) == [claim]
    assert plan("Define chunking; what is late chunking") == ["Define chunking?", "What is late chunking?"]


def test_a_unit_before_a_full_stop_ends_the_sentence() -> None:
    from sleuth.agents.textmatch import split_sentences

    text = "Samples were kept at 4 °C. Growth stopped after two days. Work by J. Smith confirmed it."
    assert [s.text for s in split_sentences(text)] == [
        "Samples were kept at 4 °C.",
        "Growth stopped after two days.",
        "Work by J. Smith confirmed it.",
    ]


def test_a_long_statement_still_gets_the_sentences_that_bear_on_it() -> None:
    statement = (
        "Daily vitamin D supplementation in community-dwelling older adults over seventy lowers the "
        "incidence of hip fractures compared with placebo."
    )
    evidence = [
        {
            "ref": "E1",
            "title": "Vitamin D and fractures",
            "text": "In this trial, vitamin D supplementation reduced hip fractures by a fifth. "
            "The participants lived in three cities.",
        }
    ]
    draft = ask("writer", question="q", sections=[{"id": "sq1", "question": statement, "evidence": evidence}])
    assert [c.text for c in draft.sections[0].claims] == [
        "In this trial, vitamin D supplementation reduced hip fractures by a fifth."
    ]
