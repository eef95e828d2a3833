"""One run of a scheduled job: optional re-ingest, the research run, the "what changed since the last
run" section, and the report archived as <out dir>/<UTC timestamp>.md and .json."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from sleuth.reports.changes import diff_snapshots, render_changes_markdown, snapshot, text_hash
from sleuth.reports.render import render_json, render_markdown
from sleuth.research_app import run_research
from sleuth.settings import Settings
from sleuth.tools.db.schedules import Job, JobRun, ScheduleStore
from sleuth.tools.errors import ConfigError
from sleuth.wiring import ingest_paths

log = structlog.get_logger(__name__)


def job_settings(settings: Settings, job: Job) -> Settings:
    """The daemon's settings with the job's own choices (web mode, LLM) on top."""
    updates = {"web": job.web, "llm_model": job.llm_model, "llm_base_url": job.llm_base_url}
    return settings.model_copy(update={k: v for k, v in updates.items() if v is not None})


def job_out_dir(settings: Settings, job: Job) -> Path:
    return Path(job.out_dir).expanduser() if job.out_dir else settings.data_dir / "schedules" / job.name


def archive_paths(out_dir: Path, started_at: datetime) -> tuple[Path, Path]:
    """<out>/<timestamp>.md/.json, with -2, -3... when two runs start within the same second."""
    stem = started_at.strftime("%Y%m%dT%H%M%SZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    n, name = 1, stem
    while (out_dir / f"{name}.md").exists() or (out_dir / f"{name}.json").exists():
        n += 1
        name = f"{stem}-{n}"
    return out_dir / f"{name}.md", out_dir / f"{name}.json"


def _previous_snapshot(previous: JobRun | None) -> dict[str, Any] | None:
    if previous is None or not previous.report_json or not Path(previous.report_json).is_file():
        return None
    data = json.loads(Path(previous.report_json).read_text(encoding="utf-8"))
    return (data.get("schedule") or {}).get("snapshot")


def changes_since(store: ScheduleStore, job: Job, report: dict[str, Any]) -> dict[str, Any]:
    """This run's snapshot and its differences from the job's previous successful run."""
    current = snapshot(report, store.chunk_texts([s["chunk_id"] for s in report.get("sources", [])]))
    previous_run = store.last_successful(job.name)
    previous = _previous_snapshot(previous_run)
    if previous is None:
        return {"snapshot": current, "changes": None, "compared_with": None, "since": None}
    sources = sorted({p["source"] for p in previous["passages"]})
    corpus_now = {src: {text_hash(t) for t in texts} for src, texts in store.corpus_texts(sources).items()}
    since = f"{previous_run.started_at:%Y-%m-%d %H:%M} UTC ({previous_run.report_md})"
    return {
        "snapshot": current,
        "changes": diff_snapshots(previous, current, corpus_now),
        "compared_with": previous_run.run_id,
        "since": since,
    }


def execute_job(
    settings: Settings, job: Job, run_id: str, started_at: datetime, store: ScheduleStore
) -> dict[str, Any]:
    """Run ``job`` once; returns the run's outcome fields for ``ScheduleStore.run_finished``."""
    settings = job_settings(settings, job)
    if job.ingest_dir:
        folder = Path(job.ingest_dir).expanduser()
        if not folder.exists():
            raise ConfigError(f"the job's ingest folder {folder} does not exist")
        # prune: files deleted from the folder must stop being cited
        ingested = ingest_paths(settings, [folder], prune=True)
        log.info("schedule.ingested", job=job.name, added=ingested.added, updated=ingested.updated)
    md_path, json_path = archive_paths(job_out_dir(settings, job), started_at)
    result = run_research(settings, job.question, thread_id=run_id, out=md_path, fmt="md")
    report = result.report
    diff = changes_since(store, job, report)
    md_path.write_text(
        render_markdown(report) + "\n" + render_changes_markdown(diff["changes"], diff["since"]),
        encoding="utf-8",
    )
    schedule = {"job": job.name, "run_id": run_id, "compared_with": diff["compared_with"]}
    full = {
        **report,
        "changes_since_last_run": diff["changes"],
        "schedule": {**schedule, "snapshot": diff["snapshot"]},
    }
    json_path.write_text(render_json(full), encoding="utf-8")
    return {
        "status": "completed" if report["complete"] else "partial",
        "report_md": str(md_path),
        "report_json": str(json_path),
        "engine": report["engine"],
        "llm_calls": report["usage"]["llm_calls"],
    }
