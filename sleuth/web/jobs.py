"""The web app's work: one research turn (or plan answer) at a time on a worker thread, driving the same
ChatSession as `sleuth chat`, with every progress event kept in order for the page's event stream.

One job at a time, because a run holds the model (most local servers answer one request at a time) and
the wall-time budget counts per turn; a second ask while one runs is refused with a reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from sleuth.chat import ChatSession, Reply, RunCancelled
from sleuth.reports.progress import progress_line

log = structlog.get_logger(__name__)


@dataclass
class Job:
    """One unit of work on a thread and everything it reported, for the page's event stream."""

    thread_id: str
    kind: str  # "ask" | "plan" | "ingest"
    started: float = field(default_factory=time.monotonic)
    events: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    cancel_requested: bool = False
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def emit(self, event: dict[str, Any]) -> None:
        with self._changed:
            self.events.append(
                {**event, "seq": len(self.events), "t": round(time.monotonic() - self.started, 3)}
            )
            self._changed.notify_all()

    def finish(self, event: dict[str, Any]) -> None:
        self.emit(event)
        with self._changed:
            self.done = True
            self._changed.notify_all()

    def wait_events(self, since: int, timeout: float) -> tuple[list[dict[str, Any]], bool]:
        """Events from ``since`` on (waiting up to ``timeout`` for one), and whether the job is done."""
        with self._changed:
            if len(self.events) <= since and not self.done:
                self._changed.wait(timeout)
            return self.events[since:], self.done


class BusyError(Exception):
    """Another job is running."""


class JobRunner:
    """Starts jobs on a worker thread, one at a time, and keeps each thread's jobs of its latest turn."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current: Job | None = None
        self._turns: dict[str, list[Job]] = {}  # the jobs of each thread's current turn: ask, then plan

    def start(self, job: Job, work: Callable[[Job], None]) -> Job:
        with self._lock:
            if self.current is not None and not self.current.done:
                raise BusyError(
                    f"a {self.current.kind} is running on thread {self.current.thread_id}; "
                    "wait for it or cancel it"
                )
            self.current = job
            turn = [] if job.kind == "ask" else self._turns.get(job.thread_id, [])
            self._turns[job.thread_id] = [*turn, job]
        threading.Thread(
            target=self._guarded, args=(job, work), daemon=True, name=f"job-{job.thread_id}"
        ).start()
        return job

    @staticmethod
    def _guarded(job: Job, work: Callable[[Job], None]) -> None:
        try:
            work(job)
        except Exception as e:  # the page must hear of it; the server stays up
            log.exception("web.job_failed", thread_id=job.thread_id, kind=job.kind)
            job.finish({"kind": "error", "message": f"{type(e).__name__}: {e}"})

    def turn_progress(self, thread_id: str) -> list[str]:
        """The progress lines of the thread's latest turn (kept while this server runs)."""
        jobs = self._turns.get(thread_id, [])
        return [e["line"] for job in jobs for e in job.events if e["kind"] == "progress"]

    def last(self, thread_id: str) -> Job | None:
        """The thread's most recent job, running or done."""
        jobs = self._turns.get(thread_id)
        return jobs[-1] if jobs else None

    def running(self, thread_id: str) -> Job | None:
        job = self.last(thread_id)
        return job if job is not None and not job.done else None


def progress_events(job_of: Callable[[], Job | None]) -> Callable[[dict[str, Any]], None]:
    """The ChatSession's ``on_event``: forwards each trace event as a progress line to the current job,
    and stops the run (RunCancelled) at the next step once the user asked to cancel."""

    def on_event(event: dict[str, Any]) -> None:
        job = job_of()
        if job is None:
            return
        if job.cancel_requested:
            raise RunCancelled
        line = progress_line(event)
        if line:
            job.emit({"kind": "progress", "node": event.get("node"), "line": line})

    return on_event


def finish_turn(job: Job, session: ChatSession, reply: Reply) -> None:
    """Tell the page how the turn ended: a plan to approve, a report, a cancel or an error."""
    if reply.outcome == "plan":
        job.finish({"kind": "plan", "plan": session.draft_plan, "assumption": session.assumption})
    else:
        job.finish(
            {"kind": reply.outcome or "error", "message": reply.text if reply.outcome != "report" else ""}
        )
