"""`sleuth scheduler` as a real process: killed with SIGKILL in the middle of a run, the next daemon marks
the run interrupted and runs the job again (nothing lost); while one daemon runs, a second is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from sleuth.cli.main import app
from sleuth.scheduler import KILLED, Scheduler
from sleuth.settings import Settings
from sleuth.tools.db.schedules import ORPHANED, Job, ScheduleStore
from tests.fakes.openai_server import ScriptedOpenAIServer, responder_by_task
from tests.graph.llm_script import all_supported, plan, queries, quote_first_sentences
from tests.scheduler.conftest import FakeClock

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is BM25 and what is HyDE?"


def hanging_script(planner) -> object:  # type: ignore[no-untyped-def]
    """A scripted LLM whose planner is ``planner`` (made to hang) and the rest answer at once."""
    return responder_by_task(
        {"planner": planner, "rewriter": queries, "writer": quote_first_sentences, "verifier": all_supported}
    )


def weekly_job(server: ScriptedOpenAIServer, next_run_at: datetime) -> Job:
    return Job(
        name="weekly",
        question=QUESTION,
        cron="0 7 * * MON",
        llm_model="scripted-model",
        llm_base_url=server.base_url,
        next_run_at=next_run_at,
    )


def sleuth_process(*args: str) -> subprocess.Popen:
    """``python -m sleuth ARGS`` as a real child process, output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "sleuth", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll an observable condition (a DuckDB row) with a bound; never a fixed sleep."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_kill_9_mid_run_then_restart_records_interrupted_and_the_schedule_continues(
    tiny_settings: Settings,
) -> None:
    planner_called, release = threading.Event(), threading.Event()
    planner_calls = {"n": 0}

    def planner(request):  # type: ignore[no-untyped-def]
        planner_calls["n"] += 1
        if planner_calls["n"] == 1:  # the first run hangs here until its daemon is dead
            planner_called.set()
            release.wait(60)
        return plan("What is BM25?", "What is HyDE?")(request)

    store = ScheduleStore(tiny_settings.duckdb_path)
    data_dir = tiny_settings.data_dir
    with ScriptedOpenAIServer(hanging_script(planner)) as server:
        missed = datetime.now(UTC) - timedelta(minutes=1)  # due: it was missed while no daemon ran
        store.add(weekly_job(server, missed))
        proc = sleuth_process("scheduler", "--data-dir", str(data_dir), "--poll", "0.2")
        try:
            assert planner_called.wait(60), proc.communicate(timeout=5)[0].decode()[-2000:]
            assert [r.status for r in store.runs("weekly")] == ["running"]

            second = CliRunner().invoke(app, ["scheduler", "--data-dir", str(data_dir)])
            assert second.exit_code == 1
            assert "another sleuth scheduler is already running on" in second.stderr
            assert f"(pid {proc.pid})" in second.stderr

            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            release.set()
            proc.kill()

        restarted_at = datetime.now(UTC)
        clock = FakeClock(restarted_at, stop_at=restarted_at + timedelta(seconds=1))
        Scheduler(tiny_settings, clock=clock, poll_s=600).serve()  # the lock of the dead daemon is free

    (interrupted,) = [r for r in store.runs("weekly") if r.status == "interrupted"]
    assert interrupted.error == KILLED and interrupted.trigger == "schedule"
    (rerun,) = [r for r in store.runs("weekly") if r.status != "interrupted"]
    assert (rerun.status, rerun.trigger, rerun.attempt, rerun.engine) == (
        "completed",
        "retry",
        2,
        "openai:scripted-model",
    )
    assert rerun.llm_calls and Path(rerun.report_md).is_file() and Path(rerun.report_json).is_file()
    job = store.require("weekly")
    assert job.failures == 0 and job.next_run_at > restarted_at  # back on its weekly schedule
    assert planner_calls["n"] == 2


def test_a_manual_run_killed_with_9_is_closed_as_interrupted_by_the_next_schedule_command(
    tiny_settings: Settings,
) -> None:
    planner_called, release = threading.Event(), threading.Event()

    def planner(request):  # type: ignore[no-untyped-def]
        planner_called.set()
        release.wait(60)  # hangs until the process running it is dead
        return plan("What is BM25?")(request)

    store = ScheduleStore(tiny_settings.duckdb_path)
    data_dir = tiny_settings.data_dir
    with ScriptedOpenAIServer(hanging_script(planner)) as server:
        store.add(weekly_job(server, next_run_at=datetime.now(UTC) + timedelta(days=1)))
        proc = sleuth_process("schedule", "run", "weekly", "--data-dir", str(data_dir))
        try:
            assert planner_called.wait(60), proc.communicate(timeout=5)[0].decode()[-2000:]
            (running,) = store.runs("weekly")
            assert (running.status, running.trigger, running.pid) == ("running", "manual", proc.pid)
            listed = CliRunner().invoke(app, ["schedule", "history", "weekly", "--data-dir", str(data_dir)])
            assert listed.exit_code == 0 and "running" in listed.stdout  # alive: left alone
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(10) == -signal.SIGKILL
        finally:
            release.set()
            proc.kill()

    shown = CliRunner().invoke(app, ["schedule", "history", "weekly", "--data-dir", str(data_dir)])
    assert shown.exit_code == 0, shown.output
    (closed,) = store.runs("weekly")
    assert (closed.status, closed.error) == ("interrupted", ORPHANED) and closed.ended_at is not None
    assert "(killed" in shown.stdout and store.require("weekly").failures == 0  # not a failed attempt


def test_removing_a_job_while_the_daemon_runs_it_is_refused_and_the_daemon_goes_on(
    tiny_settings: Settings,
) -> None:
    planner_called, release = threading.Event(), threading.Event()

    def planner(request):  # type: ignore[no-untyped-def]
        planner_called.set()
        release.wait(60)  # the run is in flight while we try to remove its job
        return plan("What is BM25?")(request)

    store = ScheduleStore(tiny_settings.duckdb_path)
    data_dir = tiny_settings.data_dir
    with ScriptedOpenAIServer(hanging_script(planner)) as server:
        store.add(weekly_job(server, datetime.now(UTC) - timedelta(minutes=1)))
        proc = sleuth_process("scheduler", "--data-dir", str(data_dir), "--poll", "0.2")
        try:
            assert planner_called.wait(60), proc.communicate(timeout=5)[0].decode()[-2000:]
            removed = CliRunner().invoke(app, ["schedule", "remove", "weekly", "--data-dir", str(data_dir)])
            assert removed.exit_code == 1 and "Traceback" not in removed.output
            assert "job 'weekly' is running now" in removed.stderr
            release.set()
            done = wait_for(lambda: [r.status for r in store.runs("weekly")] == ["completed"])
            assert done, [(r.status, r.error) for r in store.runs("weekly")]
            assert proc.poll() is None  # the daemon is still serving
            later = CliRunner().invoke(app, ["schedule", "remove", "weekly", "--data-dir", str(data_dir)])
            assert later.exit_code == 0 and store.get("weekly") is None
        finally:
            release.set()
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
