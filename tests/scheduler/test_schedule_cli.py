"""`sleuth schedule` commands: add (cron validated, duplicates refused), list, pause/resume, remove, history."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sleuth.cli.main import app
from sleuth.tools.db.schedules import ScheduleStore

runner = CliRunner()


def sleuth(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["schedule", *args])


def test_add_list_pause_resume_history_remove(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    added = sleuth(
        "add", "weekly-rag", "What is  BM25?", "--cron", "0 7 * * MON", "--no-web", "--retries", "1", *data
    )
    assert added.exit_code == 0, added.output
    assert "Added job weekly-rag: next run" in added.stdout
    job = ScheduleStore(tmp_path / "data" / "sleuth.duckdb").require("weekly-rag")
    assert (job.question, job.cron, job.web, job.retries, job.paused) == (
        "What is BM25?",
        "0 7 * * MON",
        "off",
        1,
        False,
    )
    assert job.next_run_at.weekday() == 0 and (job.next_run_at.hour, job.next_run_at.minute) == (7, 0)

    duplicate = sleuth("add", "weekly-rag", "again", "--cron", "0 7 * * MON", *data)
    assert duplicate.exit_code == 1
    assert "error: a scheduled job named 'weekly-rag' already exists" in duplicate.stderr
    bad = sleuth("add", "other", "q", "--cron", "0 25 * * MON", *data)
    assert bad.exit_code == 1 and "error: invalid cron expression '0 25 * * MON'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

    assert "weekly-rag" in sleuth("list", *data).stdout
    assert sleuth("pause", "weekly-rag", *data).exit_code == 0
    assert "paused" in sleuth("list", *data).stdout
    resumed = sleuth("resume", "weekly-rag", *data)
    assert resumed.exit_code == 0 and "Resumed job weekly-rag: next run" in resumed.stdout
    assert "has not run yet" in sleuth("history", "weekly-rag", *data).stdout

    assert sleuth("remove", "weekly-rag", *data).exit_code == 0
    missing = sleuth("history", "weekly-rag", *data)
    assert missing.exit_code == 1 and "no scheduled job named 'weekly-rag'" in missing.stderr


def test_a_cron_that_never_fires_is_refused_in_one_line() -> None:
    result = sleuth("add", "never", "What is BM25?", "--cron", "0 0 31 2 *")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip() == (
        "error: cron expression '0 0 31 2 *' never fires (no such date); check the day and month"
    )
    assert "never" not in sleuth("list").stdout


def test_history_in_80_columns_cuts_neither_statuses_nor_paths(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sleuth.settings import load_settings
    from sleuth.tools.db.schedules import Job, JobRun, ScheduleStore

    store = ScheduleStore(load_settings().duckdb_path)
    now = datetime.now(UTC)
    store.add(
        Job(name="weekly", question="What is BM25?", cron="0 7 * * MON", next_run_at=now + timedelta(days=1))
    )
    path = str(tmp_path / "reports" / "weekly" / "2026-12-01T07-00-00Z-a-rather-long-report-name.md")
    for status, detail in (
        ("completed", {"report_md": path}),
        ("interrupted", {"error": "the scheduler stopped"}),
    ):
        run = JobRun(
            run_id=f"weekly-{status}", job="weekly", trigger="schedule", started_at=now, status="running"
        )
        store.run_started(run)
        store.run_finished(run.run_id, now + timedelta(minutes=3), status, **detail)
    shown = runner.invoke(app, ["schedule", "history", "weekly"], env={"COLUMNS": "80"}, terminal_width=80)
    assert shown.exit_code == 0, shown.output
    assert max(len(line) for line in shown.stdout.splitlines()) <= 80
    assert "…" not in shown.stdout and "interrupted" in shown.stdout and "completed" in shown.stdout
    cells = "".join(line.split("│")[-2].strip() for line in shown.stdout.splitlines() if line.count("│") >= 2)
    assert path in cells  # folded over lines, whole
