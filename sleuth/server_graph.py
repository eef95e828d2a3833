"""The research graph for LangGraph Server (`langgraph dev`, `langgraph up`; see langgraph.json).

The server calls ``make_graph(config)`` on its event loop for every run and every read of a thread, so
the factory builds nothing there: settings (a file read) and dependencies (the corpus, the embedding
model) are made in a worker thread, once per distinct configuration, and kept. ``configurable`` keys of
the run or the assistant (graphs.state.ResearchConfig: model, endpoint, web mode, budgets) override the
settings for that run. Runs the server makes are recorded like CLI runs: the thread id is the run id,
the report is saved in the data dir and the run gets its `research_runs` row (``RunLogRecorder``).
``server_checkpointer`` gives the server the ``checkpointer`` setting's store."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver

from sleuth.agents.deps import ResearchDeps
from sleuth.graphs.checkpoint import open_async_checkpointer
from sleuth.graphs.research import build_graph
from sleuth.graphs.state import ResearchConfig
from sleuth.research_app import default_deps, save_turn_report
from sleuth.settings import Settings, load_settings
from sleuth.tools.db.runs import RunLog

log = structlog.get_logger(__name__)
CONFIG_KEYS = tuple(ResearchConfig.__annotations__)

_graphs: dict[str, Any] = {}  # per configuration: the compiled graph over its dependencies
_building = threading.Lock()  # a plain lock: the server runs several event loops, one per thread


class RunLogRecorder:
    """Records the graph's own runs in `research_runs` and saves each turn's report (JSON) in the data
    dir, as `sleuth research` does for its runs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runs = RunLog(settings.duckdb_path)

    def started(self, run_id: str, question: str, engine: str) -> None:
        self.runs.started(run_id, question, engine)

    def finished(self, run_id: str, report: Mapping[str, Any]) -> None:
        save_turn_report(self.settings, self.runs, run_id, report)


def run_overrides(config: RunnableConfig | None) -> dict[str, Any]:
    """The settings a run's ``configurable`` changes (unknown keys, such as thread_id, are not settings)."""
    configurable = (config or {}).get("configurable") or {}
    return {key: configurable[key] for key in CONFIG_KEYS if configurable.get(key) not in (None, "")}


def server_deps(overrides: Mapping[str, Any]) -> ResearchDeps:
    """Blocking: reads the settings and opens the corpus; call it off the event loop."""
    settings = load_settings(**overrides)
    deps = default_deps(settings)
    deps.recorder = RunLogRecorder(settings)
    return deps


@asynccontextmanager
async def server_checkpointer() -> AsyncIterator[BaseCheckpointSaver]:
    """langgraph.json's ``checkpointer``: the ``checkpointer`` setting's store (the data dir's SQLite file
    or PostgreSQL), so threads the server runs are the CLI's, chat's and the web app's threads too."""
    settings = await asyncio.to_thread(load_settings)
    async with open_async_checkpointer(settings.checkpoint_location) as saver:
        yield saver


def cached_graph(overrides: Mapping[str, Any]) -> Any:
    """The graph for this configuration, built once; the server gives each run its own checkpointer
    through a copy, so one compiled graph serves every run and read of the configuration."""
    key = json.dumps(overrides, sort_keys=True)
    with _building:
        if key not in _graphs:
            deps = server_deps(overrides)
            _graphs[key] = build_graph(deps)
            log.info("server.graph_built", overrides=sorted(overrides), engine=deps.model.name)
        return _graphs[key]


async def make_graph(config: RunnableConfig) -> Any:
    """The factory langgraph.json names: builds (or reuses) this configuration's dependencies and graph
    in a worker thread, never on the server's event loop."""
    return await asyncio.to_thread(cached_graph, run_overrides(config))
