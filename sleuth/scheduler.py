"""The `sleuth scheduler` daemon: runs scheduled report jobs when they are due.

Everything it knows lives in DuckDB (tools/db/schedules.py), so a restart loses nothing: on start it marks
runs left ``running`` by a dead daemon as ``interrupted`` (counted as a failed attempt, so the job runs
again at once while it has retries left) and then runs every job whose time has passed, once, however
many slots were missed. One daemon per data directory (a file lock). The first SIGTERM/SIGINT lets the
running job finish and then exits; a second one stops the job, records it as interrupted and exits.

The loop is ``run_due(now)`` plus a wait on an injectable clock, so tests drive it with a fake clock.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import structlog

from sleuth.scheduled_run import execute_job, job_settings
from sleuth.settings import Settings
from sleuth.tools.db.locks import scheduler_lock
from sleuth.tools.db.schedules import Job, JobRun, ScheduleStore, next_fire_time
from sleuth.tools.errors import SleuthError
from sleuth.wiring import make_chat_model

log = structlog.get_logger(__name__)

KILLED = "the scheduler stopped during the run (killed or crashed); it was not finished"
ABORTED = "stopped by a second SIGTERM/SIGINT before it finished"

RunJobFn = Callable[[Settings, Job, str, datetime, ScheduleStore], dict[str, Any]]


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC."""

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Wait up to ``seconds`` or until ``stop`` is set; True if it was set."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        return stop.wait(max(0.0, seconds))


class SchedulerAborted(BaseException):
    """Raised in the main thread by a second stop signal; BaseException so no job code swallows it."""


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        run_job: RunJobFn = execute_job,
        poll_s: float = 30.0,
        on_run: Callable[[JobRun], None] | None = None,
    ) -> None:
        self.settings = settings
        self.store = ScheduleStore(settings.duckdb_path)
        self.clock = clock or SystemClock()
        self.run_job = run_job
        self.poll_s = poll_s
        self.on_run = on_run
        self.stop = threading.Event()
        self.running: JobRun | None = None

    # --- one step ------------------------------------------------------------------------------
    def recover(self) -> list[JobRun]:
        """Close runs a dead daemon left ``running``; each counts as a failed attempt of its job."""
        now = self.clock.now()
        self.store.close_orphaned_runs(now)  # manual runs whose process died; not failed attempts
        stale = self.store.mark_interrupted(now, KILLED, manual=False)
        for run in stale:
            job = self.store.get(run.job)
            if job is not None:
                self._after_failure(job, now, retry_at=now)
            log.warning("scheduler.interrupted_run", job=run.job, run_id=run.run_id)
        return stale

    def due_jobs(self, now: datetime) -> list[Job]:
        due = [j for j in self.store.jobs() if not j.paused and j.next_run_at and j.next_run_at <= now]
        return sorted(due, key=lambda j: (j.next_run_at, j.name))

    def run_due(self, now: datetime) -> list[JobRun]:
        """Run each job whose time has come, once (missed slots coalesce), oldest first."""
        finished = []
        for job in self.due_jobs(now):
            if self.stop.is_set():
                break
            finished.append(self.run_now(job, trigger="retry" if job.failures else "schedule"))
        return finished

    def run_now(self, job: Job, *, trigger: str) -> JobRun:
        """Run ``job`` in the foreground, record the run, and (unless manual) move its schedule on."""
        started = self.clock.now()
        run = JobRun(
            run_id=f"{job.name}-{uuid.uuid4().hex[:8]}",
            job=job.name,
            trigger=trigger,
            started_at=started,
            status="running",
            attempt=job.failures + 1 if trigger != "manual" else 1,
            engine=make_chat_model(job_settings(self.settings, job)).name,
            pid=os.getpid(),
        )
        self.store.run_started(run)
        self.running = run
        log.info("scheduler.run_started", job=job.name, run_id=run.run_id, trigger=trigger)
        try:
            outcome, error = self._execute(job, run)
        except SchedulerAborted:
            self.store.run_finished(run.run_id, self.clock.now(), "interrupted", error=ABORTED)
            raise
        finally:
            self.running = None
        ended = self.clock.now()
        if error is None:
            self.store.run_finished(run.run_id, ended, **outcome)
            if trigger != "manual":
                self.store.update(job.name, failures=0, next_run_at=next_fire_time(job.cron, ended))
        else:
            self.store.run_finished(run.run_id, ended, "failed", error=error)
            if trigger != "manual":
                self._after_failure(job, ended)
        # the job may have been removed meanwhile (by another process); the daemon goes on either way
        done = next((r for r in self.store.runs(job.name, limit=5) if r.run_id == run.run_id), run)
        log.info(
            "scheduler.run_finished", job=job.name, run_id=run.run_id, status=done.status, error=done.error
        )
        if self.on_run is not None:
            self.on_run(done)
        return done

    def _execute(self, job: Job, run: JobRun) -> tuple[dict[str, Any], str | None]:
        try:
            return self.run_job(self.settings, job, run.run_id, run.started_at, self.store), None
        except SleuthError as e:
            return {}, _one_line(str(e))
        except Exception as e:  # a bug in one job must not stop the daemon: record it and go on
            log.exception("scheduler.job_crashed", job=job.name, run_id=run.run_id)
            return {}, _one_line(f"{type(e).__name__}: {e}")

    def _after_failure(self, job: Job, now: datetime, retry_at: datetime | None = None) -> None:
        """Retry after ``retry_after_s`` while retries are left, else wait for the next cron slot."""
        failures = job.failures + 1
        next_slot = next_fire_time(job.cron, now)
        if failures <= job.retries:
            retry = retry_at or now + timedelta(seconds=job.retry_after_s)
            self.store.update(job.name, failures=failures, next_run_at=min(retry, next_slot))
        else:
            self.store.update(job.name, failures=0, next_run_at=next_slot)

    # --- the daemon ----------------------------------------------------------------------------
    def seconds_to_next(self, now: datetime) -> float:
        times = [j.next_run_at for j in self.store.jobs() if not j.paused and j.next_run_at]
        soonest = min(times, default=now + timedelta(seconds=self.poll_s))
        return min(self.poll_s, max(0.0, (soonest - now).total_seconds()))

    def serve(self) -> None:
        """Run due jobs until stopped; holds the data directory's scheduler lock throughout."""
        with scheduler_lock(self.settings.data_dir), self._signals():
            self.recover()
            log.info("scheduler.started", data_dir=str(self.settings.data_dir), pid=os.getpid())
            while not self.stop.is_set():
                self.run_due(self.clock.now())
                if self.stop.is_set():
                    break
                self.clock.wait(self.seconds_to_next(self.clock.now()), self.stop)
            log.info("scheduler.stopped")

    def request_stop(self, signum: int | None = None, frame: object = None) -> None:
        if self.stop.is_set() and self.running is not None:
            raise SchedulerAborted()
        self.stop.set()
        if self.running is not None:
            log.warning("scheduler.stopping", finishing=self.running.job, hint="signal again to abort it")

    @contextmanager
    def _signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:500] or "failed without a message"
