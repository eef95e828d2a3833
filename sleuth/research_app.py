"""Running research: picks the engine, the corpus and the web tools from settings, runs (or resumes) the
graph on the on-disk checkpointer, writes the report and records the run in DuckDB. Used by `sleuth
research`, the scheduler, the MCP server and the benchmarks; sleuth/server_graph.py serves the same graph
to LangGraph Server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleuth.agents.deps import ResearchDeps, WebAccess
from sleuth.graphs.checkpoint import open_checkpointer, thread_config
from sleuth.graphs.research import build_graph
from sleuth.reports.formats import check_format, render_report
from sleuth.reports.render import render_markdown
from sleuth.settings import Settings, load_settings
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.db.runs import INTERRUPTED, RunLog, RunOutcome
from sleuth.tools.errors import ConfigError, SleuthError
from sleuth.tools.web import (
    FetchConfig,
    MixedSearch,
    PageCache,
    WebCorpus,
    WebFetcher,
    WebGatherer,
    make_web_search,
)
from sleuth.wiring import chunk_size, limits_from_settings, make_chat_model, make_reranker, open_corpus

EventFn = Callable[[dict[str, Any]], None]

NO_WEB_SEARCH = (
    "no web search configured (set web_search_backend and web_search_url in sleuth.toml or "
    "SLEUTH_WEB_SEARCH_*); researching the local corpus only"
)
# Settings accept the short names; the tools know backends by versioned name.
_BACKEND_NAMES = {"searxng": "searxng.v1", "tavily": "tavily.v1", "brave": "brave.v1"}


def web_backend_name(settings: Settings) -> str | None:
    name = settings.web_search_backend
    return None if not name or name == "none" else _BACKEND_NAMES.get(name, name)


def web_notice(settings: Settings) -> str | None:
    """A line for the user when the web was asked for (``web = "always"``) but cannot be used."""
    if settings.web == "always" and web_backend_name(settings) is None:
        return NO_WEB_SEARCH
    return None


def fetch_config(settings: Settings) -> FetchConfig:
    timeout = settings.web_timeout_s
    return FetchConfig(
        deadline_s=timeout,
        connect_timeout_s=min(5.0, timeout),
        read_timeout_s=min(10.0, timeout),
        max_bytes=settings.web_max_bytes,
        max_redirects=settings.web_max_redirects,
        concurrency=settings.web_concurrency,
        per_host_concurrency=settings.web_per_host_concurrency,
        politeness_s=settings.web_politeness_s,
        respect_robots=settings.web_respect_robots,
        allow_private=settings.web_allow_private,
        allowed_networks=tuple(settings.web_allowed_networks),
    )


def make_web_access(settings: Settings, corpus: LocalCorpus) -> WebAccess | None:
    """The web tools over ``corpus``, or None when the web is off or no search backend is configured."""
    name = web_backend_name(settings)
    if settings.web == "off" or name is None:
        return None
    api_key = settings.web_search_api_key.get_secret_value() if settings.web_search_api_key else None
    search = make_web_search(name, settings.web_search_url, api_key, timeout_s=settings.web_timeout_s)
    web_corpus = WebCorpus(
        corpus,
        **chunk_size(settings),
        max_chunks_per_page=settings.web_max_chunks_per_page,
    )
    gatherer = WebGatherer(
        WebFetcher(fetch_config(settings)),
        PageCache(settings.duckdb_path),
        web_corpus,
        cache_ttl_s=settings.web_cache_ttl_s,
        failure_ttl_s=settings.web_failure_ttl_s,
    )
    return WebAccess(
        search=search,
        gatherer=gatherer,
        mixed=MixedSearch(corpus, web_corpus),
        mode=settings.web,
        results_per_query=settings.web_results_per_query,
        max_pages=settings.web_max_pages,
    )


def default_deps(settings: Settings | None = None) -> ResearchDeps:
    settings = settings or load_settings()
    # without the web, research only reads the corpus: read-only, so it works beside other readers
    corpus = open_corpus(settings, read_only=web_backend_name(settings) is None or settings.web == "off")
    corpus.vectors.preload()  # loads while the planner runs
    return ResearchDeps(
        model=make_chat_model(settings),
        search=corpus,
        limits=limits_from_settings(settings),
        web=make_web_access(settings, corpus),
        render_answer=render_markdown,
        reranker=make_reranker(settings) if settings.reranker == "endpoint" else None,
    )


@dataclass(frozen=True)
class RunResult:
    run_id: str
    report: dict[str, Any]
    report_path: Path
    resumed: bool
    notice: str | None = None  # e.g. the report could not be written where asked, and where it is instead


def default_report_path(settings: Settings, run_id: str, fmt: str) -> Path:
    return settings.data_dir / "reports" / f"{run_id}.{fmt}"


def _start_input(
    graph: Any, config: dict, question: str | None, thread_id: str, engine: str
) -> tuple[Any, str]:
    """The graph input for a new run, or None to resume the thread's checkpoint; plus the question."""
    saved = graph.get_state(config).values
    if not saved:
        if not question:
            raise ConfigError(
                f"no research run with thread {thread_id!r} to resume; give a question to start one"
            )
        return {"question": question, "run_id": thread_id}, question
    if question and " ".join(question.split()) != saved.get("question"):
        raise ConfigError(
            f"thread {thread_id!r} belongs to the question {saved.get('question')!r}; use a new thread"
        )
    if saved.get("engine") and saved["engine"] != engine:
        raise ConfigError(
            f"thread {thread_id!r} was started with the {saved['engine']} engine; resume it with the same one"
        )
    return None, str(saved.get("question", ""))


def run_outcome(report: Mapping[str, Any], path: Path | None = None, fmt: str | None = None) -> RunOutcome:
    """What the run log records about a finished report (and where it was written, if it was)."""
    counts = report["verification"]
    return RunOutcome(
        status=("completed" if report.get("answered", True) else "unanswered")
        if report["complete"]
        else "partial",
        llm_calls=report["usage"]["llm_calls"],
        tokens=report["usage"]["tokens"],
        claims_total=counts["total"],
        claims_supported=counts["supported"],
        report_path=str(path) if path else None,
        report_format=fmt,
        stop_reason=report["stop_reason"],
    )


def run_research(
    settings: Settings,
    question: str | None,
    *,
    thread_id: str | None = None,
    out: Path | None = None,
    fmt: str = "md",
    on_event: EventFn | None = None,
    deps: ResearchDeps | None = None,
) -> RunResult:
    """Run a new research thread, or resume ``thread_id`` from its last checkpoint, and write the report."""
    if not thread_id and not (question or "").strip():
        raise ConfigError('no question given: sleuth research "your question" (or --thread RUN_ID to resume)')
    check_format(fmt)
    if out is not None:
        check_report_path(out)  # before any work: a bad path must not cost the whole run
    owned = deps is None
    deps = deps or default_deps(settings)
    try:
        return _run(settings, deps, question, thread_id, out, fmt, on_event)
    finally:
        if owned:
            deps.close()  # the fetcher's loop thread and connection pools


def _run(
    settings: Settings,
    deps: ResearchDeps,
    question: str | None,
    thread_id: str | None,
    out: Path | None,
    fmt: str,
    on_event: EventFn | None,
) -> RunResult:
    thread_id = thread_id or uuid.uuid4().hex[:12]
    config = thread_config(thread_id)
    runs = RunLog(settings.duckdb_path)
    with open_checkpointer(settings.checkpoint_location) as saver:
        graph = build_graph(deps, checkpointer=saver)
        graph_input, question = _start_input(graph, config, question, thread_id, deps.model.name)
        runs.started(thread_id, question, deps.model.name)
        if on_event is not None:
            on_event({"event": "run", "node": "run", "run_id": thread_id, "resumed": graph_input is None})
        try:
            # durability="sync": each step's checkpoint is on disk before the next step starts, so a kill -9
            # loses at most the step in flight.
            stream = graph.stream(
                graph_input, config, stream_mode=["custom"], subgraphs=True, durability="sync"
            )
            for _namespace, _mode, chunk in stream:
                if on_event is not None:
                    on_event(chunk)
            report = graph.get_state(config).values["report"]
        except SleuthError as e:
            runs.finished(thread_id, RunOutcome(status="failed", error=str(e)))
            raise
        except KeyboardInterrupt:
            runs.finished(thread_id, RunOutcome(status="interrupted", error=INTERRUPTED))
            raise
    path, note = write_report(render_report(report, fmt), out, default_report_path(settings, thread_id, fmt))
    runs.finished(thread_id, run_outcome(report, path, fmt))
    return RunResult(
        run_id=thread_id, report=report, report_path=path, resumed=graph_input is None, notice=note
    )


def save_turn_report(settings: Settings, runs: RunLog, run_id: str, report: Mapping[str, Any]) -> Path:
    """Keep a turn's report as JSON in the data dir and close its run record with it, for the turns
    that write no report file of their own (chat, the web app, LangGraph Server)."""
    path, _ = write_report(render_report(report, "json"), None, default_report_path(settings, run_id, "json"))
    runs.finished(run_id, run_outcome(report, path, "json"))
    return path


def check_report_path(out: Path) -> None:
    """Refuse, in one line, a report path that cannot be written: its folder is missing or not a folder,
    it is a folder itself, or it is not writable."""
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name, e.g. {out / 'report.md'}")
    if not parent.is_dir():
        what = "is not a folder" if parent.exists() else "does not exist"
        raise ConfigError(f"cannot write the report to {out}: {parent} {what}")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ConfigError(f"cannot write the report to {out}: permission denied")


def write_report(data: bytes, out: Path | None, fallback: Path) -> tuple[Path, str | None]:
    """Write the report to ``out`` (or ``fallback``); when ``out`` fails after all, keep it at
    ``fallback`` in the data dir and say so, so the run's work is never lost."""
    if out is not None:
        try:
            out.write_bytes(data)
            return out, None
        except OSError as e:
            note = f"could not write {out} ({e.strerror or e}); the report is kept at {fallback}"
    else:
        note = None
    fallback.parent.mkdir(parents=True, exist_ok=True)
    fallback.write_bytes(data)
    return fallback, note
