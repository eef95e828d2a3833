"""Scheduled runs of the real research app (offline engine): reports archived as md + json, the "what
changed since the last run" section on a changed corpus, and a job whose LLM endpoint is down."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sleuth.scheduler import Scheduler
from sleuth.settings import Settings, load_settings
from sleuth.tools.db.schedules import Job, ScheduleStore
from tests.scheduler.conftest import FakeClock, write_docs

QUESTION = "What is BM25 and what is HyDE?"
MONDAY_7 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_runs_on_a_changed_corpus_report_what_changed(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    docs = write_docs(tmp_path / "docs")
    store = ScheduleStore(settings.duckdb_path)
    store.add(
        Job(name="weekly", question=QUESTION, cron="0 7 * * MON", ingest_dir=str(docs), next_run_at=MONDAY_7)
    )
    clock = FakeClock(MONDAY_7)
    scheduler = Scheduler(settings, clock=clock)

    [first] = scheduler.run_due(clock.now())
    assert first.status == "completed", first.error
    assert first.report_md == str(settings.data_dir / "schedules/weekly/20261130T070000Z.md")
    assert "_First run of this job: nothing to compare with yet._" in Path(first.report_md).read_text()
    before = json.loads(Path(first.report_json).read_text())
    cited = {Path(s["source"]).name for s in before["sources"]}
    assert {"bm25.md", "hyde.md"} <= cited and before["changes_since_last_run"] is None

    # a week later: bm25.md edited, hyde.md moved to hyde-notes.md (one source gone, one new)
    (docs / "bm25.md").write_text((docs / "bm25.md").read_text().replace("BM25", "Okapi BM25"))
    (docs / "hyde.md").rename(docs / "hyde-notes.md")
    clock.t = MONDAY_7 + timedelta(days=7)
    [second] = scheduler.run_due(clock.now())
    assert second.status == "completed", second.error

    changes = json.loads(Path(second.report_json).read_text())["changes_since_last_run"]
    new_sources = [Path(s["source"]).name for s in changes["new_sources"]]
    assert "hyde-notes.md" in new_sources and not cited & set(new_sources)  # new = not cited last time
    assert [(Path(s["source"]).name, s["why"]) for s in changes["disappeared_sources"]] == [
        ("hyde.md", "removed from the corpus")
    ]
    assert [Path(s["source"]).name for s in changes["changed_sources"]] == ["bm25.md"]
    new = [c["text"] for c in changes["new_claims"]]
    gone = [c["text"] for c in changes["unsupported_claims"]]
    assert any("Okapi BM25" in text for text in new)  # from the edited bm25.md
    assert not any("HyDE" in text for text in new)  # the moved HyDE text says the same as before
    assert gone and not any("Okapi" in text or "HyDE" in text for text in gone)
    assert {text.replace("Okapi BM25", "BM25") for text in new} & set(gone)

    markdown = Path(second.report_md).read_text()
    section = markdown.split("## What changed since the last run")[1]
    assert "Compared with the run of 2026-11-30 07:00 UTC" in section
    assert "### New sources" in section and "hyde-notes.md" in section.split("### Sources that")[0]
    assert "hyde.md (removed from the corpus)" in section
    assert "### Sources whose cited passage changed" in section
    assert markdown.index("## Sources") < markdown.index(
        "## What changed since the last run"
    )  # it ends the report


def test_a_job_whose_llm_endpoint_is_down_is_recorded_failed_and_the_next_job_still_runs(
    tiny_settings: Settings,
) -> None:
    store = ScheduleStore(tiny_settings.duckdb_path)
    down = f"http://127.0.0.1:{closed_port()}/v1"
    store.add(
        Job(
            name="a-llm-down",
            question=QUESTION,
            cron="0 7 * * *",
            llm_model="some-model",
            llm_base_url=down,
            retries=1,
            retry_after_s=900,
            next_run_at=MONDAY_7,
        )
    )
    store.add(Job(name="b-offline", question=QUESTION, cron="0 7 * * *", next_run_at=MONDAY_7))
    clock = FakeClock(MONDAY_7)

    failed, ok = Scheduler(tiny_settings, clock=clock).run_due(clock.now())

    assert (failed.job, failed.status, failed.engine) == ("a-llm-down", "failed", "openai:some-model")
    assert failed.error and "\n" not in failed.error and failed.report_md is None
    assert (ok.job, ok.status, ok.engine) == ("b-offline", "completed", "offline")
    assert Path(ok.report_md).is_file() and Path(ok.report_json).is_file()
    assert store.require("a-llm-down").next_run_at == MONDAY_7 + timedelta(minutes=15)  # retried per policy
