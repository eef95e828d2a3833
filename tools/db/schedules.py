"""Scheduled report jobs and their runs, persisted in DuckDB (tables from migration 3 in
tools/corpus/store.py), plus cron arithmetic with croniter.

A job keeps its ``next_run_at``: the daemon runs every job whose time has come, then moves it to the
next cron slot after *now*, so slots missed while the daemon was down collapse into one run. A run row
is written as ``running`` when it starts and closed as completed / partial / failed / interrupted;
a daemon killed mid-run leaves ``running`` rows that the next start marks ``interrupted``.
All times are naive UTC in the database and aware UTC in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import CroniterBadDateError, croniter

from sleuth.tools.db.connection import open_duckdb
from sleuth.tools.db.locks import process_alive
from sleuth.tools.db.migrations import migrate
from sleuth.tools.errors import ConfigError

FINISHED = ("completed", "partial", "failed", "interrupted")
ORPHANED = "its process ended without finishing the run (killed?)"


SUCCESSFUL = ("completed", "partial")


def validate_cron(expression: str) -> str:
    """The expression, normalised; ConfigError with a one-line reason if croniter rejects it."""
    expression = " ".join(expression.split())
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ConfigError(
            f"invalid cron expression {expression!r}: use five fields, minute hour day-of-month month "
            'day-of-week, e.g. "0 7 * * MON"'
        )
    try:
        croniter(expression, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError as e:  # valid fields that never meet, e.g. "0 0 31 2 *" (31 February)
        raise ConfigError(
            f"cron expression {expression!r} never fires (no such date); check the day and month"
        ) from e
    return expression


def next_fire_time(expression: str, after: datetime) -> datetime:
    """The first slot of ``expression`` strictly after ``after``, read in the machine's local time zone
    (so "0 7 * * MON" means 07:00 where the user is); returned as aware UTC."""
    local = after.astimezone()
    return croniter(expression, local).get_next(datetime).astimezone(UTC)


def _db_time(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


def _py_time(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    name: str
    question: str
    cron: str
    web: str | None = None  # "always" | "off" | None (the configured default)
    llm_model: str | None = None
    llm_base_url: str | None = None
    out_dir: str | None = None
    ingest_dir: str | None = None
    retries: int = 2  # extra attempts after a failure, each retry_after_s later
    retry_after_s: float = 300.0
    paused: bool = False
    next_run_at: datetime | None = None
    failures: int = 0  # failed attempts in a row for the current slot
    created_at: datetime | None = None


@dataclass(frozen=True)
class JobRun:
    run_id: str
    job: str
    trigger: str  # "schedule" | "retry" | "manual"
    started_at: datetime
    status: str  # running | completed | partial | failed | interrupted
    ended_at: datetime | None = None
    error: str | None = None
    report_md: str | None = None
    report_json: str | None = None
    engine: str | None = None
    llm_calls: int | None = None
    attempt: int = 1
    pid: int | None = None  # the process running it (same machine: the data dir is local)


_JOB_COLUMNS = tuple(f.name for f in fields(Job))
_RUN_COLUMNS = tuple(f.name for f in fields(JobRun))
_TIME_COLUMNS = {"next_run_at", "created_at", "started_at", "ended_at"}


def _row(names: tuple[str, ...], values: tuple[Any, ...]) -> dict[str, Any]:
    return {n: _py_time(v) if n in _TIME_COLUMNS else v for n, v in zip(names, values, strict=True)}


class ScheduleStore:
    """Jobs and job runs in the Sleuth database; every method opens and closes its own connection."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        migrate(db_path)

    # --- jobs --------------------------------------------------------------------------------
    def add(self, job: Job) -> None:
        if self.get(job.name) is not None:
            raise ConfigError(
                f"a scheduled job named {job.name!r} already exists; remove it first or pick another name"
            )
        values = [
            _db_time(v) if n in _TIME_COLUMNS else v for n, v in zip(_JOB_COLUMNS, _values(job), strict=True)
        ]
        with open_duckdb(self.db_path) as con:
            con.execute(
                f"INSERT INTO schedule_jobs ({', '.join(_JOB_COLUMNS)}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def get(self, name: str) -> Job | None:
        with open_duckdb(self.db_path) as con:
            row = con.execute(
                f"SELECT {', '.join(_JOB_COLUMNS)} FROM schedule_jobs WHERE name = ?", [name]
            ).fetchone()
        return Job(**_row(_JOB_COLUMNS, row)) if row else None

    def require(self, name: str) -> Job:
        job = self.get(name)
        if job is None:
            raise ConfigError(f"no scheduled job named {name!r}; see `sleuth schedule list`")
        return job

    def jobs(self) -> list[Job]:
        with open_duckdb(self.db_path) as con:
            rows = con.execute(
                f"SELECT {', '.join(_JOB_COLUMNS)} FROM schedule_jobs ORDER BY name"
            ).fetchall()
        return [Job(**_row(_JOB_COLUMNS, r)) for r in rows]

    def remove(self, name: str) -> None:
        """Delete the job and its run history (archived report files stay on disk). Refused while a
        live process runs the job: its run and the history its report compares with must not vanish."""
        self.require(name)
        running = [
            r for r in self.runs(name, limit=20) if r.status == "running" and r.pid and process_alive(r.pid)
        ]
        if running:
            raise ConfigError(
                f"job {name!r} is running now (run {running[0].run_id}, pid {running[0].pid}); "
                "remove it when the run has finished"
            )
        with open_duckdb(self.db_path) as con:
            con.execute("DELETE FROM schedule_runs WHERE job = ?", [name])
            con.execute("DELETE FROM schedule_jobs WHERE name = ?", [name])

    def update(self, name: str, **changes: Any) -> None:
        unknown = set(changes) - set(_JOB_COLUMNS)
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in changes)
        values = [_db_time(v) if k in _TIME_COLUMNS else v for k, v in changes.items()]
        with open_duckdb(self.db_path) as con:
            con.execute(f"UPDATE schedule_jobs SET {assignments} WHERE name = ?", [*values, name])

    # --- runs --------------------------------------------------------------------------------
    def run_started(self, run: JobRun) -> None:
        values = [
            _db_time(v) if n in _TIME_COLUMNS else v for n, v in zip(_RUN_COLUMNS, _values(run), strict=True)
        ]
        with open_duckdb(self.db_path) as con:
            con.execute(
                f"INSERT INTO schedule_runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(values))})",
                values,
            )

    def run_finished(self, run_id: str, ended_at: datetime, status: str, **outcome: Any) -> None:
        if status not in FINISHED:
            raise ValueError(f"not a final run status: {status!r}")
        self._update_run(run_id, ended_at=_db_time(ended_at), status=status, **outcome)

    def _update_run(self, run_id: str, **changes: Any) -> None:
        assignments = ", ".join(f"{k} = ?" for k in changes)
        with open_duckdb(self.db_path) as con:
            con.execute(
                f"UPDATE schedule_runs SET {assignments} WHERE run_id = ?", [*changes.values(), run_id]
            )

    def runs(self, job: str | None = None, *, limit: int = 50) -> list[JobRun]:
        """Runs newest first, of one job or of all."""
        with open_duckdb(self.db_path) as con:
            rows = con.execute(
                f"SELECT {', '.join(_RUN_COLUMNS)} FROM schedule_runs WHERE ? IS NULL OR job = ? "
                "ORDER BY started_at DESC, run_id DESC LIMIT ?",
                [job, job, limit],
            ).fetchall()
        return [JobRun(**_row(_RUN_COLUMNS, r)) for r in rows]

    def run(self, run_id: str) -> JobRun | None:
        with open_duckdb(self.db_path) as con:
            row = con.execute(
                f"SELECT {', '.join(_RUN_COLUMNS)} FROM schedule_runs WHERE run_id = ?", [run_id]
            ).fetchone()
        return JobRun(**_row(_RUN_COLUMNS, row)) if row else None

    def last_successful(self, job: str) -> JobRun | None:
        return next((r for r in self.runs(job, limit=1000) if r.status in SUCCESSFUL and r.report_json), None)

    def mark_interrupted(self, ended_at: datetime, reason: str, *, manual: bool = False) -> list[JobRun]:
        """Close runs still marked ``running`` (their process died) as interrupted; returns them.
        Manual runs (`sleuth schedule run`) belong to other processes and are left alone unless asked."""
        stale = [
            r for r in self.runs(limit=10_000) if r.status == "running" and (manual or r.trigger != "manual")
        ]
        for run in stale:
            self.run_finished(run.run_id, ended_at, "interrupted", error=reason)
        return stale

    def close_orphaned_runs(self, ended_at: datetime) -> list[JobRun]:
        """Close as interrupted the manual runs marked ``running`` whose process no longer exists (a
        `sleuth schedule run` killed with SIGKILL, say); returns them. Runs of live processes are left
        alone, and the daemon's own runs are its business (``Scheduler.recover``: a failed attempt)."""
        orphaned = [
            r
            for r in self.runs(limit=10_000)
            if r.status == "running"
            and r.trigger == "manual"
            and r.pid is not None
            and not process_alive(r.pid)
        ]
        for run in orphaned:
            self.run_finished(run.run_id, ended_at, "interrupted", error=ORPHANED)
        return orphaned

    def chunk_texts(self, chunk_ids: list[str]) -> dict[str, str]:
        with open_duckdb(self.db_path) as con:
            rows = con.execute(
                "SELECT chunk_id, text FROM chunks WHERE chunk_id IN (SELECT unnest(?))", [chunk_ids]
            ).fetchall()
        return dict(rows)

    def corpus_texts(self, sources: list[str]) -> dict[str, list[str]]:
        """Every chunk text now in the corpus for each of ``sources`` (paths or URLs)."""
        with open_duckdb(self.db_path) as con:
            rows = con.execute(
                "SELECT d.source, c.text FROM chunks c JOIN documents d USING (doc_id) "
                "WHERE d.source IN (SELECT unnest(?))",
                [sources],
            ).fetchall()
        texts: dict[str, list[str]] = {}
        for source, text in rows:
            texts.setdefault(source, []).append(text)
        return texts


def _values(record: Job | JobRun) -> tuple[Any, ...]:
    return tuple(getattr(record, f.name) for f in fields(record))


def retry_delay(job: Job) -> timedelta:
    return timedelta(seconds=job.retry_after_s)
