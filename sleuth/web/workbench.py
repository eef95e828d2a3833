"""What the web app works with: the settings, the research dependencies, the checkpointer, one
ChatSession per thread (the same plan approval, follow-ups and run records as `sleuth chat`) and the job
runner. Reading a thread's state or a cited document never starts work."""

from __future__ import annotations

import contextlib
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sleuth.agents.deps import ResearchDeps
from sleuth.chat import ChatSession
from sleuth.graphs.checkpoint import open_checkpointer, thread_config
from sleuth.graphs.research import build_graph
from sleuth.research_app import default_deps
from sleuth.settings import Settings
from sleuth.tools.corpus.ingest import IngestReport
from sleuth.tools.corpus.local_corpus import LocalCorpus
from sleuth.tools.db.runs import RunLog
from sleuth.tools.errors import ConfigError
from sleuth.web.jobs import Job, JobRunner, finish_turn, progress_events
from sleuth.wiring import ingest_paths

VIEW_CONTEXT_CHARS = 20_000  # document text shown either side of a cited span (whole books stay light)
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ThreadView:
    thread_id: str
    question: str
    report: dict[str, Any] | None
    plan: list[str] | None  # a plan waiting for approval
    assumption: str
    running: Job | None


@dataclass(frozen=True)
class SourceView:
    source: dict[str, Any]
    before: str
    span: str
    after: str
    skipped_before: int
    skipped_after: int
    claims: list[dict[str, Any]]  # the claims that cite this source, with verdict and reason


class Workbench:
    def __init__(self, settings: Settings, deps: ResearchDeps | None = None) -> None:
        self.settings = settings
        self.deps = deps or default_deps(settings)
        if not isinstance(self.deps.search, LocalCorpus):  # the viewer and the corpus page read its store
            raise ConfigError("the web app needs the local corpus as its search backend")
        self.corpus: LocalCorpus = self.deps.search
        self._saver_cm = open_checkpointer(settings.checkpoint_location)
        self.saver = self._saver_cm.__enter__()
        self.graph = build_graph(self.deps, checkpointer=self.saver)  # for reads only
        self.runs = RunLog(settings.duckdb_path)
        self.jobs = JobRunner()
        self._sessions: dict[str, ChatSession] = {}
        self._on_event = progress_events(lambda: self.jobs.current)

    def close(self) -> None:
        self.deps.close()
        self._saver_cm.__exit__(None, None, None)

    # -- research --------------------------------------------------------------------------------------
    def _session(self, thread_id: str) -> ChatSession:
        session = self._sessions.get(thread_id)
        if session is None:
            session = ChatSession(
                self.settings, self.deps, self.saver, thread_id=thread_id, on_event=self._on_event
            )
            if self.graph.get_state(thread_config(thread_id)).interrupts:
                session.continue_thread()  # picks up the plan waiting for approval; runs nothing
            self._sessions[thread_id] = session
        return session

    def ask(self, question: str, thread_id: str | None = None) -> Job:
        if not question.strip():
            raise ConfigError("type a question first")
        thread_id = thread_id or uuid.uuid4().hex[:12]
        session = self._session(thread_id)
        if session.awaiting_plan:
            raise ConfigError(
                "this thread's plan is waiting for your answer: accept, edit or cancel it first"
            )
        return self.jobs.start(
            Job(thread_id, "ask"), lambda job: finish_turn(job, session, session.ask(question))
        )

    def answer_plan(self, thread_id: str, plan: list[str] | None) -> Job:
        session = self._session(thread_id)
        if not session.awaiting_plan:
            raise ConfigError("no plan is waiting for approval on this thread")
        if plan is not None:
            plan = [" ".join(q.split()) for q in plan if q.strip()]
            if not plan:
                raise ConfigError("a plan keeps at least one sub-question")
        return self.jobs.start(
            Job(thread_id, "plan"), lambda job: finish_turn(job, session, session.resolve_plan(plan))
        )

    def cancel(self, thread_id: str) -> bool:
        job = self.jobs.running(thread_id)
        if job is None:
            return False
        job.cancel_requested = True
        job.emit({"kind": "progress", "node": "cancel", "line": "cancelling after the current step..."})
        return True

    def thread(self, thread_id: str) -> ThreadView | None:
        snapshot = self.graph.get_state(thread_config(thread_id))
        if not snapshot.values:
            return None
        plan, assumption = None, ""
        if snapshot.interrupts:
            value = snapshot.interrupts[0].value
            session = self._sessions.get(thread_id)
            plan = (
                session.draft_plan
                if session and session.awaiting_plan
                else [q["question"] for q in value.get("plan", [])]
            )
            assumption = value.get("assumption", "")
        return ThreadView(
            thread_id=thread_id,
            question=str(snapshot.values.get("question", "")),
            report=snapshot.values.get("report") if not snapshot.interrupts else None,
            plan=plan,
            assumption=assumption,
            running=self.jobs.running(thread_id),
        )

    def source(self, thread_id: str, n: int) -> SourceView | None:
        """The document behind [n] of the thread's report, its cited span cut out for highlighting. Only
        documents the report cites, looked up by number: nothing in the request names a file."""
        view = self.thread(thread_id)
        source = (
            next((s for s in (view.report or {}).get("sources", []) if s["n"] == n), None) if view else None
        )
        if source is None:
            return None
        text = self.corpus.document_text(source["doc_id"])
        if text is None:  # removed from the corpus since: the report still quotes the passage
            text = source.get("text") or ""
            start, end = 0, len(text)
        else:
            start, end = int(source["start"]), int(source["end"])
        lo, hi = max(0, start - VIEW_CONTEXT_CHARS), min(len(text), end + VIEW_CONTEXT_CHARS)
        report = view.report or {}
        claims = [
            c
            for section in report.get("sections", [])
            for c in section["claims"]
            if n in c["citations"] or n in c.get("conflicts", [])
        ] + [c for c in report.get("dropped_claims", []) if n in c["citations"]]
        return SourceView(source, text[lo:start], text[start:end], text[end:hi], lo, len(text) - hi, claims)

    def past_runs(self, limit: int = 30) -> list[dict[str, Any]]:
        with contextlib.suppress(Exception):  # a database busy with an ingest elsewhere: show none
            return self.runs.recent(limit)
        return []

    # -- corpus ----------------------------------------------------------------------------------------
    def save_upload(self, name: str, data: bytes) -> Path:
        """An uploaded file, kept under the data dir (its name made safe) so the corpus can cite it."""
        folder = self.settings.data_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        safe = _UNSAFE_NAME.sub("_", Path(name).name).strip("._") or "upload"
        path = folder / safe
        path.write_bytes(data)
        return path

    def ingest(self, paths: list[Path]) -> Job:
        for path in paths:
            if not path.exists():
                raise ConfigError(f"{path} does not exist")

        def work(job: Job) -> None:
            def progress(event: str, fields: dict[str, Any]) -> None:
                job.emit({"kind": "progress", "node": "ingest", "line": f"{event}: {fields}"})

            report: IngestReport = ingest_paths(self.settings, paths, progress=progress)
            job.finish(
                {
                    "kind": "ingested",
                    **report.counts(),
                    "skipped_files": report.skipped,
                    "notes": report.notes,
                }
            )

        return self.jobs.start(Job("corpus", "ingest"), work)

    def corpus_status(self) -> dict[str, Any]:
        corpus = self.corpus
        stats = corpus.store.stats()
        return {
            "data_dir": str(self.settings.data_dir),
            "documents": stats["documents"],
            "chunks": stats["chunks"],
            "embeddings": f"{corpus.embedder.name} ({corpus.embedder.dim}-d)",
            "engine": self.deps.model.name,
            "skips": corpus.store.recent_skips(),
        }
