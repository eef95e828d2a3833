"""`sleuth research` end to end: progress, the report on stdout and on disk, the run in DuckDB, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sleuth.cli.main import app
from sleuth.tools.db.runs import RunLog
from tests.fakes.openai_server import Reply, ScriptedOpenAIServer, responder_by_task
from tests.fixtures.exports import exported_text, squash
from tests.graph.llm_script import cooperative_model
from tests.graph.sample_corpus import private_copy, sample_data_dir  # noqa: F401  (session fixture)

runner = CliRunner()


def sleuth(*args: str):
    return runner.invoke(app, list(args))


@pytest.fixture
def data_dir(sample_data_dir: Path, tmp_path: Path) -> Path:  # noqa: F811
    return private_copy(sample_data_dir, tmp_path / "data").data_dir


@pytest.mark.slow
def test_offline_research_prints_progress_writes_the_report_and_records_the_run(
    data_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    result = sleuth(
        "research", "What is HyDE and when does it help?", "--data-dir", str(data_dir), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "planner: 2 sub-question(s)" in result.stderr and "retriever:" in result.stderr
    assert f"written to {out}" in result.stderr and "Written by the offline engine (no LLM)" in result.stderr
    report = out.read_text()
    assert result.stdout.strip() == report.strip()
    assert report.startswith("# What is HyDE and when does it help?") and "## Sources" in report
    assert "[1]" in report and "claims supported by their cited passages." in report
    run_id = result.stderr.split("Run id ")[1].split()[0]
    run = RunLog(data_dir / "sleuth.duckdb").get(run_id)
    assert run["status"] == "completed" and run["engine"] == "offline" and run["report_path"] == str(out)
    assert run["claims_total"] >= 2 and run["ended_at"] >= run["started_at"]


@pytest.mark.slow
def test_json_format_gives_claims_citations_and_verdicts(data_dir: Path) -> None:
    result = sleuth(
        "research", "What is reciprocal rank fusion?", "--data-dir", str(data_dir), "--format", "json"
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    claims = report["sections"][0]["claims"]
    assert claims and all(c["citations"] and c["verdict"] == "supported" for c in claims)
    assert {s["n"] for s in report["sources"]} == {n for c in claims for n in c["citations"]}
    assert Path(report["sources"][0]["source"]).name.endswith(".md")


@pytest.mark.slow
def test_an_llm_endpoint_writes_the_report_and_is_named(data_dir: Path) -> None:
    routes = cooperative_model("What is HyDE?")
    with ScriptedOpenAIServer(responder_by_task(routes)) as server:
        result = sleuth(
            "research",
            "What is HyDE?",
            "--data-dir",
            str(data_dir),
            "--llm",
            "scripted-model",
            "--base-url",
            server.base_url,
        )
    assert result.exit_code == 0, result.output
    assert "_Written by scripted-model._" in result.stdout and "Written by scripted-model" in result.stderr
    run_id = result.stderr.split("Run id ")[1].split()[0]
    run = RunLog(data_dir / "sleuth.duckdb").get(run_id)
    assert run["engine"] == "openai:scripted-model" and run["llm_calls"] == 4 and run["tokens"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["research", ""], "no question given"),
        (["research", "q?", "--format", "xml"], "unknown --format 'xml'"),
        (["research", "--thread", "nope"], "no research run with thread 'nope' to resume"),
    ],
)
def test_errors_are_one_line_with_exit_code_1(args: list[str], message: str) -> None:
    result = sleuth(*args)
    assert result.exit_code == 1, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_failing_llm_endpoint_is_one_line_and_the_run_is_recorded_as_failed(tmp_path: Path) -> None:
    with ScriptedOpenAIServer([Reply.http_error(401, "bad key")]) as server:
        result = sleuth(
            "research", "What is BM25?", "--llm", "m", "--base-url", server.base_url, "--thread", "t1"
        )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: LLM endpoint")
        and "401 Unauthorized (check the API key)" in result.stderr
    )
    run = RunLog(tmp_path / "sleuth-data" / "sleuth.duckdb").get("t1")
    assert run["status"] == "failed" and "401" in run["error"]


@pytest.mark.parametrize("where", ["missing", "file-parent"])
def test_an_unwritable_out_path_is_refused_before_the_run(data_dir: Path, tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = tmp_path / "no" / "such" / "dir" / "r.md" if where == "missing" else blocker / "r.md"
    result = sleuth("research", "What is BM25?", "--data-dir", str(data_dir), "--out", str(out))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().startswith(f"error: cannot write the report to {out}:")
    assert RunLog(data_dir / "sleuth.duckdb").recent() == []  # refused before any work


def test_the_run_id_and_the_resume_command_are_printed_when_the_run_starts(data_dir: Path) -> None:
    result = sleuth("research", "What is BM25?", "--data-dir", str(data_dir), "--thread", "r-42")
    assert result.exit_code == 0
    first = result.stderr.splitlines()[0]
    assert first == "Run r-42 started; if it stops, resume it with `sleuth research --thread r-42`"


@pytest.mark.parametrize("command", [[], ["research"], ["ingest"], ["schedule", "history"], ["chat"]])
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    result = sleuth(*command, "--help")
    assert result.exit_code == 0 and "--help" in result.output
    assert "<bool>" not in result.output  # a flag takes no value


@pytest.mark.parametrize("fmt", ["html", "pdf", "docx"])
def test_research_exports_a_shareable_report(data_dir: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    result = sleuth(
        "research", "What is HyDE?", "--data-dir", str(data_dir), "--format", fmt, "--out", str(target)
    )
    assert result.exit_code == 0, result.output
    assert "# What is HyDE?" not in result.stdout  # a binary or HTML report is a file, not terminal output
    json_result = sleuth("research", "What is HyDE?", "--data-dir", str(data_dir), "--format", "json")
    report = json.loads(json_result.stdout)
    text = squash(exported_text(target))
    assert report["engine_label"] in text and "claims supported by their cited passages" in text
    claims = [c for s in report["sections"] for c in s["claims"]]
    assert claims
    for claim in claims:
        assert squash(claim["text"]) in text
    for source in report["sources"]:
        assert f"[{source['n']}]" in text and squash(source["text"])[:60] in text  # the cited span is quoted
