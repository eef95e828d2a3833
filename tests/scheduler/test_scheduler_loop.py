"""The daemon's timing rules on a fake clock, with a recording job function: a job fires at its cron
time, slots missed while the daemon was down run once, failures are retried per policy and never stop
the daemon, a paused job does not run, and a second daemon on one data directory is refused."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sleuth.scheduler import KILLED, Scheduler, SchedulerAborted
from sleuth.settings import Settings, load_settings
from sleuth.tools.db.locks import scheduler_lock
from sleuth.tools.db.schedules import Job, JobRun, ScheduleStore, next_fire_time
from sleuth.tools.errors import ConfigError, ModelError
from tests.scheduler.conftest import FakeClock

MONDAY_0659 = datetime(2026, 11, 30, 6, 59, tzinfo=UTC)  # a Monday


class RecordingJobs:
    """Stands in for the research run: records when each job ran; ``fail`` names jobs that raise."""

    def __init__(self, fail: dict[str, Exception] | None = None) -> None:
        self.calls: list[tuple[str, datetime]] = []
        self.fail = fail or {}

    def __call__(self, settings: Settings, job: Job, run_id: str, started_at: datetime, store: Any) -> dict:
        self.calls.append((job.name, started_at))
        if job.name in self.fail:
            raise self.fail[job.name]
        return {"status": "completed", "engine": "offline", "llm_calls": 0}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


def add_job(settings: Settings, name: str, cron: str, now: datetime, **fields: Any) -> ScheduleStore:
    store = ScheduleStore(settings.duckdb_path)
    store.add(
        Job(name=name, question=f"q {name}", cron=cron, next_run_at=next_fire_time(cron, now), **fields)
    )
    return store


def test_a_job_fires_at_its_cron_time_and_moves_to_the_next_slot(settings: Settings) -> None:
    store = add_job(settings, "weekly", "0 7 * * MON", MONDAY_0659)
    jobs = RecordingJobs()
    clock = FakeClock(MONDAY_0659, stop_at=MONDAY_0659 + timedelta(minutes=5))
    Scheduler(settings, clock=clock, run_job=jobs, poll_s=30).serve()
    assert jobs.calls == [("weekly", datetime(2026, 11, 30, 7, 0, tzinfo=UTC))]
    assert store.require("weekly").next_run_at == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    [run] = store.runs("weekly")
    assert (run.status, run.trigger, run.engine, run.ended_at) == (
        "completed",
        "schedule",
        "offline",
        run.started_at,
    )
    assert max(clock.waits) <= 30  # polls for new jobs at least every poll_s


def test_slots_missed_while_the_daemon_was_down_run_once_on_start(settings: Settings) -> None:
    store = add_job(settings, "hourly", "0 * * * *", datetime(2026, 11, 30, 6, 30, tzinfo=UTC))
    jobs = RecordingJobs()
    # the daemon was down from 06:30 to 10:30: the 07:00, 08:00, 09:00 and 10:00 slots were missed
    down_until = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
    Scheduler(
        settings,
        clock=FakeClock(down_until, stop_at=down_until + timedelta(minutes=20)),
        run_job=jobs,
        poll_s=600,
    ).serve()
    assert jobs.calls == [("hourly", down_until)]
    assert store.require("hourly").next_run_at == datetime(2026, 11, 30, 11, 0, tzinfo=UTC)


def test_a_failing_job_is_recorded_retried_per_policy_and_the_next_job_still_runs(settings: Settings) -> None:
    now = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    add_job(settings, "a-broken", "0 * * * *", now, retries=1, retry_after_s=600)
    store = add_job(settings, "b-fine", "0 * * * *", now)
    jobs = RecordingJobs(
        fail={"a-broken": ModelError("the LLM endpoint is unreachable:\nconnection refused")}
    )
    seven = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    clock = FakeClock(seven)
    scheduler = Scheduler(settings, clock=clock, run_job=jobs)
    first = scheduler.run_due(clock.now())
    assert [(r.job, r.status) for r in first] == [("a-broken", "failed"), ("b-fine", "completed")]
    assert first[0].error == "the LLM endpoint is unreachable: connection refused"  # one line
    broken = store.require("a-broken")
    assert (broken.failures, broken.next_run_at) == (1, seven + timedelta(minutes=10))

    clock.t = seven + timedelta(minutes=10)
    retry = scheduler.run_due(clock.now())
    assert [(r.job, r.status, r.trigger, r.attempt) for r in retry] == [("a-broken", "failed", "retry", 2)]
    broken = store.require("a-broken")  # retries used up: back to the cron schedule
    assert (broken.failures, broken.next_run_at) == (0, datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert [r.status for r in store.runs("a-broken")] == ["failed", "failed"]


def test_a_bug_in_a_job_is_recorded_with_its_type_and_does_not_stop_the_daemon(settings: Settings) -> None:
    now = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    add_job(settings, "a-buggy", "0 7 * * *", now, retries=0)
    store = add_job(settings, "b-fine", "0 7 * * *", now)
    jobs = RecordingJobs(fail={"a-buggy": KeyError("sections")})
    clock = FakeClock(now, stop_at=datetime(2026, 11, 30, 7, 5, tzinfo=UTC))
    Scheduler(settings, clock=clock, run_job=jobs, poll_s=600).serve()
    assert [r.error for r in store.runs("a-buggy")] == ["KeyError: 'sections'"]
    assert [r.status for r in store.runs("b-fine")] == ["completed"]


def test_a_paused_job_does_not_run(settings: Settings) -> None:
    now = datetime(2026, 11, 30, 6, 30, tzinfo=UTC)
    store = add_job(settings, "paused", "0 7 * * *", now)
    store.update("paused", paused=True)
    jobs = RecordingJobs()
    assert Scheduler(settings, clock=FakeClock(now), run_job=jobs).run_due(now + timedelta(days=2)) == []
    assert jobs.calls == []


def test_a_run_left_running_by_a_dead_daemon_is_marked_interrupted_and_the_job_runs_again(
    settings: Settings,
) -> None:
    now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    store = add_job(settings, "weekly", "0 7 * * MON", now - timedelta(minutes=1))
    store.run_started(
        JobRun(run_id="weekly-dead", job="weekly", trigger="schedule", started_at=now, status="running")
    )
    jobs = RecordingJobs()
    scheduler = Scheduler(settings, clock=FakeClock(now + timedelta(minutes=3)), run_job=jobs)
    [stale] = scheduler.recover()
    assert stale.run_id == "weekly-dead"
    assert [r.trigger for r in scheduler.run_due(now + timedelta(minutes=3))] == ["retry"]
    runs = store.runs("weekly")
    assert [(r.run_id == "weekly-dead", r.status) for r in runs] == [
        (False, "completed"),
        (True, "interrupted"),
    ]
    assert runs[1].error == KILLED
    assert store.require("weekly").next_run_at == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)


def test_a_second_scheduler_on_the_same_data_directory_is_refused(settings: Settings) -> None:
    with (
        scheduler_lock(settings.data_dir),
        pytest.raises(ConfigError, match="another sleuth scheduler is already running on .* \\(pid \\d+\\)"),
    ):
        Scheduler(settings, clock=FakeClock(MONDAY_0659), run_job=RecordingJobs()).serve()
    with scheduler_lock(settings.data_dir):  # released: the next one may start
        pass


def test_a_stop_signal_lets_the_running_job_finish_and_a_second_one_aborts_it(settings: Settings) -> None:
    now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    add_job(settings, "a-first", "0 7 * * *", now - timedelta(minutes=1))
    store = add_job(settings, "b-second", "0 7 * * *", now - timedelta(minutes=1))
    scheduler = Scheduler(settings, clock=FakeClock(now), run_job=RecordingJobs())

    def stopped_midway(*args: Any) -> dict:
        scheduler.request_stop(signal.SIGTERM)  # what the SIGTERM handler does
        return {"status": "completed", "engine": "offline", "llm_calls": 0}

    scheduler.run_job = stopped_midway
    scheduler.serve()  # returns: stop requested
    assert [r.status for r in store.runs("a-first")] == ["completed"]
    assert store.runs("b-second") == []  # not started after the stop

    def aborted_midway(*args: Any) -> dict:
        scheduler.request_stop(signal.SIGTERM)
        scheduler.request_stop(signal.SIGTERM)  # the second signal raises here
        raise AssertionError("not reached")

    scheduler.stop.clear()
    scheduler.run_job = aborted_midway
    with pytest.raises(SchedulerAborted):
        scheduler.run_due(now)
    [run] = store.runs("b-second")
    assert run.status == "interrupted" and "second SIGTERM" in run.error
