"""Report evals: the scoring of one hand-made report (no data needed), then end to end on a tiny HotpotQA
corpus (5 questions' own paragraphs, indexed once per module) with the offline engine and with the LLM
that the settings configure, served by the scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.datasets import DEFAULT_DATA_DIR, HOTPOTQA_DIR, HOTPOTQA_FILE, load_hotpotqa
from evals.hotpot_eval import sample_questions
from evals.report import render, report_eval_table
from evals.report_eval import NO_LLM, main, run_hotpotqa_reports
from evals.report_scoring import ReportCase, Scorers, score_report, summarise
from sleuth.cli.main import app
from sleuth.wiring import limits_from_settings, offline_engine
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task, task_of
from tests.graph.llm_script import all_supported, evidence_of, inputs_of, queries, reply

needs_hotpotqa = pytest.mark.skipif(
    not (DEFAULT_DATA_DIR / HOTPOTQA_DIR / HOTPOTQA_FILE).is_file(), reason="HotpotQA data not present"
)
QUESTIONS = 5


def hand_made_state() -> dict[str, Any]:
    evidence = {
        "c1": {"chunk_id": "c1", "doc_id": "d1", "title": "", "score": 0.9,
               "text": "Vitamin D does not reduce fracture risk in older adults."},
        "c2": {"chunk_id": "c2", "doc_id": "d2", "title": "", "score": 0.4,
               "text": "Calcium intake was recorded by questionnaire."},
    }  # fmt: skip
    claims = [
        {
            "text": "Vitamin D does not reduce fracture risk in older adults.",
            "citations": [1],
            "quoted": True,
        },
        {"text": "Vitamin D cures fractures in older adults.", "citations": [1]},
    ]
    report = {
        "complete": True,
        "stop_reason": None,
        "sections": [{"claims": claims}],
        "sources": [{"n": 1, "chunk_id": "c1", "doc_id": "d1"}],
    }
    usage = [{"task": "planner", "model": "offline", "prompt_tokens": 0, "completion_tokens": 0}]
    return {"report": report, "evidence": evidence, "llm_usage": usage}


def test_scoring_one_report_and_the_verdict_on_the_claim_itself() -> None:
    scorers = Scorers.for_model(offline_engine(), limits_from_settings())
    claim = ReportCase("7", "Vitamin D reduces fracture risk in older adults.", ("d1", "d9"), "CONTRADICT")
    row = score_report(claim, hand_made_state(), 0.5, scorers, "scifact")
    assert (row["cited_gold"], row["gathered_gold"]) == (0.5, 0.5)
    assert (row["judged"], row["supported"]) == (2, 1)  # the lexical judge refuses "cures fractures"
    assert row["verdict"] == "CONTRADICT"  # the offline verifier: same words, opposite polarity
    assert (row["model_calls"], row["llm_calls"]) == (1, 0)
    assert row["quoted_claims"] == 1

    empty = {"report": {"complete": True, "sections": [], "sources": []}, **{"evidence": {}, "llm_usage": []}}
    nei = score_report(
        ReportCase("8", "Aspirin prevents migraines.", (), "NEI"), empty, 0.1, scorers, "scifact"
    )
    summary = summarise([row, nei], scorers, "scifact")
    assert summary["reports"]["quoted_share"] == 0.5  # 1 of the 2 reports' 2 claims
    assert summary["evidence_recall"]["questions"] == 1  # the NEI claim has no gold documents
    assert summary["evidence_recall"]["cited"] == {"gold_share": 0.5, "all_gold": 0.0, "any_gold": 1.0}
    assert summary["citation_precision"]["precision"] == 0.5
    agreement = summary["verdict_agreement"]
    assert agreement["accuracy"] == 1.0 and agreement["by_gold_label"]["SUPPORT"]["claims"] == 0
    assert agreement["confusion_gold_to_predicted"]["CONTRADICT"] == {"SUPPORT": 0, "CONTRADICT": 1, "NEI": 0}
    assert summary["cost_per_report"]["seconds"] == {"mean": 0.3, "p50": 0.3, "max": 0.5, "reports": 2}
    logged_earlier = {k: v for k, v in nei.items() if k != "sequential_llm_rounds"}  # an older row log
    rounds = summarise([row, logged_earlier], scorers, "scifact")["cost_per_report"]["sequential_llm_rounds"]
    assert rounds["reports"] == 1  # left out, not counted as 0


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index of the 5 questions' paragraphs for both runs."""
    return tmp_path_factory.mktemp("report-eval-cache")


def assert_consistent(result: dict[str, Any]) -> None:
    assert set(result) >= {"config", "dataset_sha256", "git_commit", "results", "wall_seconds", "peak_rss_mb"}
    assert len(result["dataset_sha256"][HOTPOTQA_FILE]) == 64 and result["peak_rss_mb"] > 0
    results, reports = result["results"], result["reports"]
    assert result["config"]["questions"] == len(reports) == QUESTIONS
    recall = results["evidence_recall"]
    for where in ("cited", "gathered"):
        assert all(0.0 <= v <= 1.0 for v in recall[where].values()), recall
        assert recall[where]["all_gold"] <= recall[where]["gold_share"] <= recall[where]["any_gold"]
    assert recall["cited"]["gold_share"] <= recall["gathered"]["gold_share"]
    assert recall["gathered"]["any_gold"] > 0
    for row in reports:
        assert row["cited_gold"] <= row["gathered_gold"] and len(row["gold_docs"]) == 2
    precision = results["citation_precision"]
    assert precision["claims"] == sum(r["claims"] for r in reports) > 0
    assert 0.0 <= precision["precision"] <= 1.0
    assert results["reports"]["count"] == QUESTIONS
    assert all(results["cost_per_report"][k]["max"] >= 0 for k in results["cost_per_report"])


@needs_hotpotqa
def test_offline_run_writes_a_consistent_result(cache_root: Path, tmp_path: Path) -> None:
    path = run_hotpotqa_reports(
        None, QUESTIONS, own_paragraphs=True, cache_root=cache_root, results_dir=tmp_path
    )
    result = json.loads(path.read_text())
    assert path.name == f"report-hotpotqa-{QUESTIONS}-own.json"
    assert (result["config"]["engine"], result["config"]["judge"]) == ("offline", "lexical.v1")
    assert_consistent(result)
    assert result["results"]["answer_em_f1"] == NO_LLM
    assert result["results"]["cost_per_report"]["llm_calls"]["max"] == 0
    assert result["results"]["cost_per_report"]["model_calls"]["mean"] > 0  # offline engine calls
    assert "citation_precision_lexical" not in result["results"]
    table = render(tmp_path)
    assert f"### report-hotpotqa-{QUESTIONS}-own" in table and "| cited by the report |" in table
    assert f"| answer EM / F1 | {NO_LLM} |" in table


def write_first_sentences(request: dict[str, Any]) -> str:
    texts = evidence_of(request)
    sections = [
        {"id": s["id"], "claims": [{"text": texts[e["ref"]].split(". ")[0] + ".", "citations": [e["ref"]]}]}
        for s in inputs_of(request)["sections"]
        for e in s["evidence"][:1]
    ]
    return reply({"sections": sections})


@needs_hotpotqa
def test_llm_run_computes_answer_em_f1_and_uses_the_llm_judge(
    cache_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gold = {q.question: q.answer for q in sample_questions(load_hotpotqa().questions, QUESTIONS)}
    answered: list[str] = []
    judged: list[bool] = []

    def answer(request: dict[str, Any]) -> str:  # right on every other question, "noanswer" otherwise
        answered.append(inputs_of(request)["question"])
        return reply({"answer": gold[answered[-1]] if len(answered) % 2 else "noanswer"})

    def judge(request: dict[str, Any]) -> str:  # every third claim unsupported
        judged.append(len(judged) % 3 != 2)
        return reply({"supported": judged[-1], "reason": "scripted"})

    routes = {
        "planner": lambda r: reply(
            {"sub_questions": [{"question": inputs_of(r)["question"], "needs": "facts"}]}
        ),
        "decide": lambda r: reply({"retrieve": False, "reason": "enough"}),
        "rewriter": queries,
        "writer": write_first_sentences,
        "verifier": all_supported,
        "judge": judge,
        "answer": answer,
    }
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        monkeypatch.setenv("SLEUTH_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("SLEUTH_LLM_MODEL", "scripted-model")
        path = run_hotpotqa_reports(
            None, QUESTIONS, own_paragraphs=True, cache_root=cache_root, results_dir=tmp_path
        )
    server.assert_all_consumed()
    result = json.loads(path.read_text())
    results = result["results"]
    assert result["config"]["engine"] == "openai:scripted-model" and result["config"]["engine_kind"] == "LLM"
    assert_consistent(result)

    assert judged and results["citation_precision"]["judge"].startswith("llm:openai:scripted-model")
    assert results["citation_precision"]["precision"] == round(sum(judged) / len(judged), 4)
    assert results["citation_precision_lexical"]["claims"] == len(judged)

    expected_em = sum(1 for i in range(len(answered)) if i % 2 == 0) / QUESTIONS
    overall = results["answer_em_f1"]["overall"]
    assert answered and overall["em"] == overall["f1"] == round(expected_em, 4)  # "noanswer" F1 is 0
    types = [k for k in results["answer_em_f1"] if k != "overall"]
    assert set(types) <= {"bridge", "comparison"}
    assert sum(results["answer_em_f1"][t]["questions"] for t in types) == QUESTIONS

    tasks = [task_of(r.json) for r in server.requests if r.json]
    eval_calls = results["eval_calls"]
    assert eval_calls["calls"] == eval_calls["llm_calls"] == tasks.count("judge") + tasks.count("answer")
    cost = results["cost_per_report"]
    assert cost["llm_calls"]["mean"] > 0 and cost["prompt_tokens"]["mean"] > 0
    research_calls = len(tasks) - eval_calls["calls"]
    assert cost["llm_calls"]["mean"] * QUESTIONS == pytest.approx(research_calls)
    assert path.name == f"report-hotpotqa-{QUESTIONS}-own-scripted-model.json"
    assert result["resumed_rows"] == 0

    # started again with the same settings, the run resumes: every report is already scored and kept
    with ScriptedOpenAIServer(responder_by_task(routes)) as again:
        monkeypatch.setenv("SLEUTH_LLM_BASE_URL", again.base_url)
        resumed = run_hotpotqa_reports(
            None, QUESTIONS, own_paragraphs=True, cache_root=cache_root, results_dir=tmp_path
        )
        assert not [r for r in again.requests if r.json]
    again_result = json.loads(resumed.read_text())
    assert again_result["results"] == results and again_result["resumed_rows"] == QUESTIONS
    assert "5 rows resumed from earlier runs" in report_eval_table(again_result)


def test_missing_data_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scifact", "--data-dir", str(tmp_path), "--questions", "3"]) == 2
    assert capsys.readouterr().err.startswith("dataset not found:")


def test_sleuth_eval_reports_launches_the_report_eval(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["eval", "reports", "hotpotqa", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        "dataset not found:" in capfd.readouterr().err
    )  # written by the launched python -m evals.report_eval
    refused = CliRunner().invoke(app, ["eval", "reports", "trivia"])
    assert refused.exit_code == 2 and "choose hotpotqa or scifact" in refused.output


def test_a_rerank_result_renders_as_its_own_table(tmp_path: Path) -> None:
    result = {
        "eval": "rerank-scifact-50-llm-d20-x",
        "created_at": "2026-12-01T00:00:00+00:00",
        "git_commit": "0" * 40,
        "config": {
            "dataset": "scifact",
            "queries": 50,
            "seed": 7,
            "reranker": "llm:x",
            "depth": 20,
            "window": 10,
            "step": 5,
        },
        "results": {"hybrid ndcg@10": 0.6728, "queries better / worse / same": [1, 2, 47]},
        "wall_seconds": 12.0,
        "peak_rss_mb": 400.0,
        "cpus": 2,
    }
    (tmp_path / "rerank-scifact-50-llm-d20-x.json").write_text(json.dumps(result))
    table = render(tmp_path)
    assert "### rerank-scifact-50-llm-d20-x" in table and "depth 20, window 10, step 5" in table
    assert "| hybrid ndcg@10 | 0.673 |" in table and "| queries better / worse / same | 1 / 2 / 47 |" in table
