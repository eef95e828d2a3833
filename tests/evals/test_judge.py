"""The report evals' citation judges: the lexical rule case by case (and where it parts ways with the
verifier node's offline rule), and the LLM judge / answer extractor over real HTTP to a scripted server."""

from __future__ import annotations

import json
import re

import pytest

from evals.judge import LexicalJudge, LLMAnswerExtractor, LLMJudge, load_eval_prompt
from sleuth.agents.offline.writing import verify_claims
from sleuth.tools.errors import OutputInvalid
from sleuth.tools.llm import OpenAIChatModel
from sleuth.wiring import limits_from_settings
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task, task_of
from tests.graph.llm_script import evidence_of, inputs_of

judge = LexicalJudge()
QUOTED = re.compile(r'<evidence ref="(?P<ref>[A-Z]\d+)"[^>]*>\n(?P<text>.*?)\n</evidence>', re.S)


def quoted(request: dict) -> dict[str, str]:
    user = next(m["content"] for m in request["messages"] if m["role"] == "user")
    return {m["ref"]: m["text"] for m in QUOTED.finditer(user)}


def test_a_claim_stated_in_one_sentence_is_supported() -> None:
    passage = "The tower opened to visitors in May. The Eiffel Tower was completed in 1889 for the fair."
    verdict = judge.judge("The Eiffel Tower was completed in 1889.", [passage])
    assert verdict.supported, verdict.reason


def test_initials_and_abbreviations_do_not_end_a_sentence() -> None:
    passage = 'Johnny Angel is a film directed by Edwin L. Marin from the novel "Mr. Angel Comes Aboard". It is noir.'
    claim = 'Johnny Angel is a film directed by Edwin L. Marin from the novel "Mr. Angel Comes Aboard".'
    assert judge.judge(claim, [passage]).supported


def test_inserted_words_are_tolerated() -> None:
    passage = "Marie Curie won the prestigious Nobel Prize in Physics in 1903, with Pierre Curie."
    assert judge.judge("Marie Curie won the Nobel Prize in Physics.", [passage]).supported


def test_a_paraphrase_is_not_found() -> None:
    verdict = judge.judge(
        "The medication lowered blood pressure.", ["The drug reduced hypertension in most patients."]
    )
    assert not verdict.supported
    assert "words" in verdict.reason


def test_a_negation_flip_is_refused_and_matching_polarity_accepted() -> None:
    passage = "In the trial, aspirin does not reduce the risk of stroke in young adults."
    flipped = judge.judge("Aspirin does reduce the risk of stroke in young adults.", [passage])
    assert not flipped.supported and "negation" in flipped.reason
    assert judge.judge("Aspirin doesn't reduce the risk of stroke in young adults.", [passage]).supported


def test_one_cited_passage_must_carry_the_claim_by_itself() -> None:
    capital, museum = "Paris is the capital of France.", "The Louvre museum is in Paris."
    assert judge.judge("The Louvre museum is in Paris.", [capital, museum]).supported  # the second one does
    spread = judge.judge("Paris is the capital of France and hosts the Louvre museum.", [capital, museum])
    assert not spread.supported  # each passage holds only part of it
    assert not judge.judge("The Louvre museum is in Paris.", []).supported


def offline_verifier_says(claim: str, passage: str) -> str:
    inputs = {
        "claims": [{"claim_id": "c1", "text": claim, "citations": ["E1"]}],
        "evidence": [{"ref": "E1", "title": "", "text": passage}],
    }
    return verify_claims(inputs, limits_from_settings().support_threshold)["verdicts"][0]["verdict"]


@pytest.mark.parametrize(
    ("claim", "passage"),
    [
        # the same stems, but the passage never says the trial proved it
        (
            "The trial proved that the drug improved survival.",
            "Whether the drug improves survival is unknown; the trial was designed to prove it.",
        ),
        # every content word is there, re-assembled into a different fact
        ("Paris is the capital of Italy.", "Rome is the capital of Italy and Paris lies in France."),
    ],
)
def test_it_disagrees_with_the_verifier_nodes_containment_rule(claim: str, passage: str) -> None:
    assert offline_verifier_says(claim, passage) == "supported"
    assert not judge.judge(claim, [passage]).supported


def judge_reply(request: dict) -> str:
    claim = inputs_of(request)["claim"]
    supported = any(claim in text for text in evidence_of(request).values())
    return json.dumps({"supported": supported, "reason": "quoted" if supported else "not in the passage"})


def model_for(server: ScriptedOpenAIServer) -> OpenAIChatModel:
    return OpenAIChatModel(server.base_url, None, "judge-model", retry_wait_s=(0.01, 0.05), timeout_s=5)


def test_llm_judge_sends_the_claim_and_cited_passages_and_reads_the_verdict() -> None:
    with ScriptedOpenAIServer(responder_by_task({"judge": judge_reply})) as server:
        llm = LLMJudge(model_for(server))
        yes = llm.judge("BM25 ranks by term frequency.", ["Intro. BM25 ranks by term frequency. More."])
        no = llm.judge("BM25 is a neural model.", ["BM25 ranks by term frequency."])
    server.assert_all_consumed()
    assert (yes.supported, no.supported) == (True, False) and no.reason == "not in the passage"
    first = server.requests[0].json
    assert task_of(first) == "judge" and load_eval_prompt("judge").text in first["messages"][0]["content"]
    assert '<evidence ref="E1"' in first["messages"][1]["content"]  # passages go in as quoted data
    assert len(llm.usage) == 2 and llm.usage[0]["prompt_id"] == "judge@v1"
    assert llm.name == "llm:openai:judge-model (judge@v1)"


def test_llm_judge_repairs_once_then_fails_loudly() -> None:
    replies = ["not json", json.dumps({"supported": True, "reason": "ok"}), "still not", "nope"]
    with ScriptedOpenAIServer(responder_by_task({"judge": replies})) as server:
        llm = LLMJudge(model_for(server))
        assert llm.judge("A claim here.", ["A claim here."]).supported
        with pytest.raises(OutputInvalid):
            llm.judge("A claim here.", ["A claim here."])
    server.assert_all_consumed()
    assert len(llm.usage) == 4  # the failed calls are counted too


def test_answer_extractor_answers_from_claims_only() -> None:
    def answer(request: dict) -> str:
        assert inputs_of(request)["question"] == "Who is older?"
        assert quoted(request) == {"C1": "Ann was born in 1950.", "C2": "Bob was born in 1960."}
        return json.dumps({"answer": "Ann"})

    with ScriptedOpenAIServer(responder_by_task({"answer": answer})) as server:
        extractor = LLMAnswerExtractor(model_for(server))
        assert extractor.answer("Who is older?", ["Ann was born in 1950.", "Bob was born in 1960."]) == "Ann"
        assert extractor.answer("Who is older?", []) == ""  # nothing to answer from: no call
    server.assert_all_consumed()
    assert len(server.requests) == 1 and len(extractor.usage) == 1
