"""`sleuth schedule ...` (manage scheduled report jobs) and `sleuth scheduler` (the daemon)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sleuth.cli.console import err, fail, out, run_guarded
from sleuth.cli.options import BaseUrlOpt, DataDirOpt, LlmOpt, WebOpt

schedule_app = typer.Typer(
    help="Scheduled report jobs: research a question on a cron schedule and see what changed since last time. "
    "Jobs run while `sleuth scheduler` is running.",
    no_args_is_help=True,
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

NameArg = Annotated[str, typer.Argument(help="The job's name.")]


def _store(data_dir: Path | None):  # type: ignore[no-untyped-def]
    from sleuth.settings import load_settings
    from sleuth.tools.db.schedules import ScheduleStore

    settings = run_guarded(load_settings, data_dir=data_dir)
    store = run_guarded(ScheduleStore, settings.duckdb_path)
    run_guarded(store.close_orphaned_runs, datetime.now(UTC))  # e.g. a `schedule run` killed with -9
    return settings, store


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M %Z")


@schedule_app.command("add")
def add(
    name: NameArg,
    question: Annotated[str, typer.Argument(help="What to research on each run.")],
    cron: Annotated[
        str, typer.Option("--cron", help='When, as a cron expression in local time: "0 7 * * MON".')
    ],
    web: WebOpt = None,
    llm: LlmOpt = None,
    base_url: BaseUrlOpt = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Archive reports here (default: data dir/schedules/NAME).")
    ] = None,
    ingest: Annotated[
        Path | None, typer.Option("--ingest", help="Re-scan this folder into the corpus before each run.")
    ] = None,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Retries after a failed run.")] = 2,
    retry_after: Annotated[
        float, typer.Option("--retry-after", min=0, help="Minutes between a failure and its retry.")
    ] = 5.0,
    data_dir: DataDirOpt = None,
) -> None:
    """Add a job. Example: `sleuth schedule add weekly-rag "What is new in RAG?" --cron "0 7 * * MON"`."""
    from sleuth.tools.db.schedules import Job, next_fire_time, validate_cron

    if not _NAME.match(name):
        fail(f"invalid job name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    if not question.strip():
        fail("the question is empty")
    expression = run_guarded(validate_cron, cron)
    settings, store = _store(data_dir)
    now = datetime.now(UTC)
    job = Job(
        name=name,
        question=" ".join(question.split()),
        cron=expression,
        web=None if web is None else ("always" if web else "off"),
        llm_model=llm,
        llm_base_url=base_url,
        out_dir=str(out_dir.expanduser().resolve()) if out_dir else None,
        ingest_dir=str(ingest.expanduser().resolve()) if ingest else None,
        retries=retries,
        retry_after_s=retry_after * 60,
        next_run_at=next_fire_time(expression, now),
        created_at=now,
    )
    run_guarded(store.add, job)
    out.print(
        f"Added job {name}: next run {_when(job.next_run_at)} (runs while `sleuth scheduler` is running)."
    )


@schedule_app.command("list")
def list_jobs(data_dir: DataDirOpt = None) -> None:
    """List jobs with their schedule, next run and last run."""

    _, store = _store(data_dir)
    jobs = run_guarded(store.jobs)
    if not jobs:
        out.print(
            'No scheduled jobs. Add one with `sleuth schedule add NAME "question" --cron "0 7 * * MON"`.'
        )
        return
    table = Table("name", "cron", "next run", "last run", "question")
    for job in jobs:
        last = next(iter(store.runs(job.name, limit=1)), None)
        table.add_row(
            job.name,
            job.cron,
            "paused" if job.paused else _when(job.next_run_at),
            f"{last.status} {_when(last.started_at)}" if last else "-",
            escape(job.question),
        )
    out.print(table)


@schedule_app.command("remove")
def remove(name: NameArg, data_dir: DataDirOpt = None) -> None:
    """Remove a job and its run history (archived reports stay on disk)."""

    _, store = _store(data_dir)
    run_guarded(store.remove, name)
    out.print(f"Removed job {name}.")


@schedule_app.command("pause")
def pause(name: NameArg, data_dir: DataDirOpt = None) -> None:
    """Stop running a job until `resume`."""

    _, store = _store(data_dir)
    run_guarded(store.require, name)
    store.update(name, paused=True)
    out.print(f"Paused job {name}.")


@schedule_app.command("resume")
def resume(name: NameArg, data_dir: DataDirOpt = None) -> None:
    """Run a paused job again from its next cron slot (slots missed while paused are skipped)."""
    from sleuth.tools.db.schedules import next_fire_time

    _, store = _store(data_dir)
    job = run_guarded(store.require, name)
    next_run = next_fire_time(job.cron, datetime.now(UTC))
    store.update(name, paused=False, failures=0, next_run_at=next_run)
    out.print(f"Resumed job {name}: next run {_when(next_run)}.")


@schedule_app.command("run")
def run(name: NameArg, data_dir: DataDirOpt = None) -> None:
    """Run a job now, in the foreground (its schedule is unchanged)."""
    from sleuth.scheduler import Scheduler

    settings, store = _store(data_dir)
    job = run_guarded(store.require, name)
    scheduler = Scheduler(settings)
    try:
        done = scheduler.run_now(job, trigger="manual")
    except KeyboardInterrupt:
        store.mark_interrupted(datetime.now(UTC), "interrupted by the user", manual=True)
        fail("interrupted; the run is recorded as interrupted", code=130)
    _print_run(done)
    if done.status == "failed":
        raise typer.Exit(1)


@schedule_app.command("history")
def history(
    name: NameArg,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs, newest first.")] = 20,
    data_dir: DataDirOpt = None,
) -> None:
    """Show a job's runs: start, end, status, engine, LLM calls, error and report paths."""

    _, store = _store(data_dir)
    run_guarded(store.require, name)
    runs = store.runs(name, limit=limit)
    if not runs:
        out.print(f"Job {name} has not run yet.")
        return
    # in 80 columns nothing is cut: a status stays whole and a path or error wraps (fold), never "…"
    table = Table()
    for name in ("started", "ended"):
        table.add_column(name, overflow="fold")
    table.add_column("status", no_wrap=True, min_width=len("interrupted"))
    table.add_column("trigger", overflow="fold")
    table.add_column("engine", overflow="fold")
    table.add_column("calls", no_wrap=True)
    table.add_column("report / error", overflow="fold", ratio=1)
    for r in runs:
        detail = r.error if r.error else (r.report_md or "")
        table.add_row(
            _when(r.started_at),
            _when(r.ended_at),
            r.status,
            r.trigger,
            r.engine or "-",
            "-" if r.llm_calls is None else str(r.llm_calls),
            escape(detail),
        )
    out.print(table)


def _print_run(run) -> None:  # type: ignore[no-untyped-def]
    line = f"{run.job}: {run.status}"
    if run.error:
        line += f": {run.error}"
    elif run.report_md:
        line += f"; report {run.report_md} (+ .json)"
    err.print(escape(line))


def scheduler(
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, help="Seconds between looks for new or changed jobs.")
    ] = 30.0,
    data_dir: DataDirOpt = None,
) -> None:
    """Run scheduled jobs in the foreground until SIGTERM/Ctrl-C.

    Missed runs (while it was down) run once on start. One scheduler per data directory. The first
    SIGTERM/Ctrl-C finishes the running job and exits; a second one aborts it (recorded as interrupted).
    """
    from sleuth.scheduler import Scheduler, SchedulerAborted
    from sleuth.settings import load_settings

    settings = run_guarded(load_settings, data_dir=data_dir)
    daemon = run_guarded(Scheduler, settings, poll_s=poll, on_run=_print_run)
    err.print(f"sleuth scheduler on {escape(str(settings.data_dir))}: {len(daemon.store.jobs())} job(s)")
    try:
        run_guarded(daemon.serve)
    except SchedulerAborted:
        err.print("stopped; the running job was recorded as interrupted")
        raise typer.Exit(130) from None
    err.print("scheduler stopped")


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")
    app.command("scheduler")(scheduler)
