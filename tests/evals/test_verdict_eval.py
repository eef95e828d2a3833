"""The verifier eval on a tiny SciFact folder made here (three claims, one of each gold label): the offline
engine end to end, then an LLM served by the scripted OpenAI-compatible server on loopback, which must be
shown exactly the claim and its qrels abstracts, and a second run that resumes without a call."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evals.report import render
from evals.verdict_eval import main, run_verdicts
from sleuth.cli.main import app
from sleuth.prompts import load_prompt
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task
from tests.graph.llm_script import evidence_of, inputs_of, reply

ABSTRACTS = {
    "d1": "Vitamin D supplementation does not reduce fracture risk in older adults.",
    "d2": "Regular aspirin use lowers the risk of colorectal cancer in adults.",
    "d3": "Sleep duration was recorded by questionnaire in a cohort of nurses.",
    "d4": "Coffee drinkers reported fewer headaches in a small survey.",
}
CLAIMS = {  # id: (claim, qrels docs, evidence label or None for NEI)
    "1": ("Vitamin D supplementation reduces fracture risk in older adults.", ["d1"], "CONTRADICT"),
    "2": ("Regular aspirin use lowers the risk of colorectal cancer.", ["d2"], "SUPPORT"),
    "3": ("Short sleep causes obesity in nurses.", ["d3", "d4"], None),
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "beir_scifact"
    (folder / "qrels").mkdir(parents=True)
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(
            json.dumps({"_id": d, "title": f"Study {d}", "text": t}) + "\n" for d, t in ABSTRACTS.items()
        )
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as f:
        for q, (text, docs, label) in CLAIMS.items():
            metadata = {docs[0]: [{"sentences": [0], "label": label}]} if label else {}
            f.write(json.dumps({"_id": q, "text": text, "metadata": metadata}) + "\n")
    rows = [f"{q}\t{d}\t1" for q, (_, docs, _) in CLAIMS.items() for d in docs]
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(rows) + "\n")
    return folder.parent


def test_offline_engine_on_oracle_abstracts(data_dir: Path, tmp_path: Path) -> None:
    path = run_verdicts(data_dir, per_label=1, results_dir=tmp_path)
    result = json.loads(path.read_text())
    assert path.name == "verdict-scifact-test-3-offline.json" and result["config"]["prompt"] == "none (rules)"
    assert result["config"]["gold_labels"] == {"SUPPORT": 1, "CONTRADICT": 1, "NEI": 1}
    verdicts = {r["id"]: r["verdict"] for r in result["rows"]}
    assert verdicts["1"] == "CONTRADICT"  # same words, opposite polarity
    assert verdicts["2"] == "SUPPORT" and verdicts["3"] == "NEI"
    agreement = result["results"]["verdict_agreement"]
    assert agreement["accuracy"] == 1.0 and agreement["passages"].startswith("the claim's qrels abstracts")
    assert all(r["verdict_reason"] for r in result["rows"]) and result["results"]["calls_repaired"] == 0
    table = render(tmp_path)
    assert "### verdict-scifact-test-3-offline" in table
    assert "| Sleuth's verdict | 1.000 | 1.000 | 1.000 | 1.000 |" in table


def test_llm_sees_the_claim_and_its_abstracts_and_a_second_run_resumes(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: dict[str, list[str]] = {}

    def verify(request: dict[str, Any]) -> str:
        claim = inputs_of(request)["claims"][0]
        shown[claim["text"]] = sorted(evidence_of(request).values())
        verdict = "contradicted" if "Vitamin" in claim["text"] else "supported"
        return reply(
            {"verdicts": [{"claim_id": claim["claim_id"], "reason": "scripted", "verdict": verdict}]}
        )

    with ScriptedOpenAIServer(responder_by_task({"verifier": verify})) as server:
        monkeypatch.setenv("SLEUTH_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("SLEUTH_LLM_MODEL", "scripted-model")
        path = run_verdicts(data_dir, n_claims=3, results_dir=tmp_path)
        result = json.loads(path.read_text())
    assert (
        path.name
        == f"verdict-scifact-test-3-scripted-model-{load_prompt('verifier').id.replace('@', '-')}.json"
    )
    assert shown == {text: sorted(ABSTRACTS[d] for d in docs) for text, docs, _ in CLAIMS.values()}
    accuracy = {  # the model calls the NEI claim supported; the grounding rule overrules it
        which: {label: s["accuracy"] for label, s in result["results"][which]["by_gold_label"].items()}
        for which in ("verdict_agreement", "model_verdict_agreement")
    }
    assert accuracy["verdict_agreement"] == {"SUPPORT": 1.0, "CONTRADICT": 1.0, "NEI": 1.0}
    assert accuracy["model_verdict_agreement"] == {"SUPPORT": 1.0, "CONTRADICT": 1.0, "NEI": 0.0}
    nei = next(r for r in result["rows"] if r["id"] == "3")
    assert nei["verdict_reason"].startswith("not grounded: only")
    assert result["results"]["tokens_per_claim"]["prompt_tokens"] > 0

    with ScriptedOpenAIServer(responder_by_task({})) as again:  # any call would be unexpected
        monkeypatch.setenv("SLEUTH_LLM_BASE_URL", again.base_url)
        resumed = json.loads(run_verdicts(data_dir, n_claims=3, results_dir=tmp_path).read_text())
        assert not [r for r in again.requests if r.json]
    assert resumed["results"] == result["results"]


def test_missing_data_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data-dir", str(tmp_path)]) == 2
    assert "dataset not found" in capsys.readouterr().err


def test_sleuth_eval_verdicts_launches_the_verifier_eval(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(app, ["eval", "verdicts", "--data-dir", str(tmp_path), "--per-label", "2"])
    assert result.exit_code == 2
    assert (
        "dataset not found:" in capfd.readouterr().err
    )  # written by the launched python -m evals.verdict_eval
