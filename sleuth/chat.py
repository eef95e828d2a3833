"""The chat session behind `sleuth chat`, without a terminal: ``ChatSession.handle(line)`` takes one input
line (a question, a /command or an answer to the plan prompt) and returns what to show.

A question starts a research turn on the session's thread (a new thread for the first question, a
follow-up turn on the same thread afterwards: the graph recalls the evidence gathered so far and keeps
citation numbers). Unless ``auto_approve``, the graph pauses after the planner (a LangGraph interrupt) and
the session shows the plan; the next lines accept, edit (``+ sub-question``, ``-N``) or cancel it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from langgraph.types import Command

from sleuth.agents.budget import LedgerBook
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.planner import MAX_QUESTION_CHARS
from sleuth.graphs.checkpoint import thread_config
from sleuth.graphs.research import build_graph
from sleuth.reports.formats import FORMAT_NAMES, format_for_path, write_report_file
from sleuth.reports.render import render_markdown
from sleuth.research_app import (
    NO_WEB_SEARCH,
    make_web_access,
    save_turn_report,
    web_backend_name,
)
from sleuth.settings import Settings
from sleuth.tools.db.runs import RunLog, RunOutcome
from sleuth.tools.errors import SleuthError

log = structlog.get_logger(__name__)
EventFn = Callable[[dict[str, Any]], None]

HELP = """Ask a question to research it; ask another to follow up on the same thread.
/sources          the sources cited in the last report
/plan             the current plan
/report           show the last report again
/save PATH        save the last report (.md .json .html .pdf .docx)
/web on|off       search the web too (needs a configured search backend) or not
/new              start a new thread
/threads          recent threads (continue one with `sleuth chat --thread ID`)
/help             this help
/quit             leave (Ctrl-D too); Ctrl-C during a run cancels the run, the thread keeps what was done"""
PLAN_HELP = "Enter y to accept, '+ question' to add a sub-question, '-N' to remove one, n to cancel."
ACCEPT, CANCEL = {"y", "yes", "a", "accept", "ok"}, {"n", "no", "c", "cancel"}


class RunCancelled(Exception):
    """Raised by an ``on_event`` callback to stop the run at the next step (the web app's Cancel)."""


@dataclass(frozen=True)
class Reply:
    text: str = ""
    markdown: bool = False  # render ``text`` as Markdown
    quit: bool = False
    outcome: str = ""  # how a research turn ended: "plan", "report", "cancelled" or "error"


class ChatSession:
    def __init__(
        self,
        settings: Settings,
        deps: ResearchDeps,
        checkpointer: Any,
        *,
        thread_id: str | None = None,
        auto_approve: bool = False,
        on_event: EventFn | None = None,
    ) -> None:
        self.settings, self.deps, self.on_event = settings, deps, on_event
        self.graph = build_graph(deps, checkpointer=checkpointer)
        self.runs = RunLog(settings.duckdb_path)
        self.auto_approve = auto_approve
        self.thread_id = thread_id
        self.draft_plan: list[str] | None = None  # while the plan prompt is open
        self.assumption = ""  # the planner's reading of an ambiguous question, shown with the plan
        self._original_plan: list[str] = []

    # -- state -----------------------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        return thread_config(self.thread_id or "")

    def values(self) -> dict[str, Any]:
        return dict(self.graph.get_state(self.config).values) if self.thread_id else {}

    @property
    def awaiting_plan(self) -> bool:
        return self.draft_plan is not None

    def last_report(self) -> dict[str, Any] | None:
        return self.values().get("report")

    def continue_thread(self) -> Reply | None:
        """Pick up ``thread_id`` where it was: an open plan prompt, an unfinished run (finished now), or
        the last report's question. None when the thread does not exist."""
        snapshot = self.graph.get_state(self.config)
        if not snapshot.values:
            return None
        if snapshot.interrupts:
            self.draft_plan = [sq["question"] for sq in snapshot.interrupts[0].value.get("plan", [])]
            self.assumption = snapshot.interrupts[0].value.get("assumption", "")
            self._original_plan = list(self.draft_plan)
            return Reply(f"Thread {self.thread_id}: {snapshot.values.get('question')}\n{self._plan_text()}")
        if snapshot.next:
            return self._run(None)
        return Reply(
            f"Continuing thread {self.thread_id}: {snapshot.values.get('question')} "
            "(/report shows the last report; ask a follow-up)"
        )

    # -- input -----------------------------------------------------------------------------------------
    def handle(self, line: str) -> Reply:
        text = line.strip()
        if not text:
            return Reply()
        if text.startswith("/"):
            return self._command(text)
        if self.awaiting_plan:
            return self._plan_answer(text)
        return self.ask(text)

    def ask(self, question: str) -> Reply:
        note = ""
        question = " ".join(question.split())
        if len(question) > MAX_QUESTION_CHARS:
            note = f"(question truncated from {len(question)} to {MAX_QUESTION_CHARS} characters)\n"
            question = question[:MAX_QUESTION_CHARS]
        saved = self.values()
        if saved.get("engine") and saved["engine"] != self.deps.model.name:
            return Reply(f"thread {self.thread_id} was started with the {saved['engine']} engine; use /new")
        self.thread_id = self.thread_id or uuid.uuid4().hex[:12]
        self.deps.ledgers = LedgerBook(self.deps.limits)  # the wall-time budget counts per turn
        graph_input = {"question": question, "run_id": self.thread_id, "approve_plan": not self.auto_approve}
        self.runs.started(self.thread_id, question, self.deps.model.name)
        log.info("chat.turn_started", thread_id=self.thread_id, follow_up=bool(saved))
        reply = self._run(graph_input)
        return Reply(note + reply.text, reply.markdown, outcome=reply.outcome) if note else reply

    def _run(self, graph_input: Any) -> Reply:
        try:
            stream = self.graph.stream(
                graph_input, self.config, stream_mode=["custom"], subgraphs=True, durability="sync"
            )
            for _namespace, _mode, chunk in stream:
                if self.on_event is not None:
                    self.on_event(chunk)
        except (KeyboardInterrupt, RunCancelled):
            self._close_cancelled_run()
            return Reply(
                f"Run cancelled; thread {self.thread_id} keeps what was done. Ask again or /new.",
                outcome="cancelled",
            )
        except SleuthError as e:
            self.runs.finished(self.thread_id or "", RunOutcome(status="failed", error=str(e)))
            return Reply(f"error: {e}", outcome="error")
        snapshot = self.graph.get_state(self.config)
        if snapshot.interrupts:
            plan = snapshot.interrupts[0].value.get("plan", [])
            self.draft_plan = [sq["question"] for sq in plan]
            self._original_plan = list(self.draft_plan)
            self.assumption = snapshot.interrupts[0].value.get("assumption", "")
            return Reply(self._plan_text(), outcome="plan")
        if snapshot.values.get("cancelled"):
            self.runs.finished(self.thread_id or "", RunOutcome(status="cancelled"))
            return Reply("Plan cancelled. Ask another question.", outcome="cancelled")
        report = snapshot.values["report"]
        save_turn_report(self.settings, self.runs, self.thread_id or "", report)
        return Reply(render_markdown(report), markdown=True, outcome="report")

    def _close_cancelled_run(self) -> None:
        """Mark the interrupted turn as ended (as if finalized) so the next question starts a clean turn;
        the evidence and everything else checkpointed so far stay in the thread."""
        self.draft_plan = None
        log.info("chat.run_cancelled", thread_id=self.thread_id)
        self.graph.update_state(self.config, {"stop_reason": "cancelled by the user"}, as_node="finalize")
        self.runs.finished(self.thread_id or "", RunOutcome(status="cancelled", stop_reason="cancelled"))

    # -- plan approval ---------------------------------------------------------------------------------
    def _plan_text(self) -> str:
        lines = ["Plan:"] + [f"  [{i}] {q}" for i, q in enumerate(self.draft_plan or [], 1)]
        if self.assumption:  # the one clarifying point: accept it, or edit the plan to the other reading
            lines.append(f"{self.assumption} Not what you meant? Edit the plan.")
        return "\n".join([*lines, PLAN_HELP])

    def resolve_plan(self, plan: list[str] | None) -> Reply:
        """Run the plan as accepted or edited (``plan``), or cancel the run (None)."""
        self.draft_plan = None
        if plan is None:
            return self._run(Command(resume={"action": "cancel"}))
        changed = plan != self._original_plan
        return self._run(Command(resume={"action": "edit" if changed else "accept", "plan": plan}))

    def _plan_answer(self, text: str) -> Reply:
        draft = self.draft_plan or []
        word = text.lower()
        if word in ACCEPT:
            return self.resolve_plan(draft)
        if word in CANCEL:
            return self.resolve_plan(None)
        if text.startswith("+") and text[1:].strip():
            draft.append(" ".join(text[1:].split()))
            return Reply(self._plan_text())
        if text.startswith("-") and text[1:].strip().isdigit():
            index = int(text[1:].strip())
            if 1 <= index <= len(draft) and len(draft) > 1:
                draft.pop(index - 1)
                return Reply(self._plan_text())
            return Reply(f"no sub-question {index} to remove (a plan keeps at least one)")
        return Reply(PLAN_HELP)

    # -- commands --------------------------------------------------------------------------------------
    def _command(self, text: str) -> Reply:
        name, _, arg = text.partition(" ")
        handler = {
            "/help": lambda: Reply(HELP),
            "/quit": lambda: Reply(quit=True),
            "/exit": lambda: Reply(quit=True),
            "/sources": self._sources,
            "/plan": self._plan,
            "/report": self._report,
            "/save": lambda: self._save(arg.strip()),
            "/web": lambda: self._web(arg.strip().lower()),
            "/new": self._new,
            "/threads": self._threads,
        }.get(name.lower())
        if handler is None:
            return Reply(f"unknown command {name}; /help lists the commands")
        return handler()

    def _sources(self) -> Reply:
        report = self.last_report()
        if not report or not report.get("sources"):
            return Reply("no sources yet: ask a question first")
        return Reply("\n".join(f"[{s['n']}] {s['title']} — {s['source']}" for s in report["sources"]))

    def _plan(self) -> Reply:
        if self.awaiting_plan:
            return Reply(self._plan_text())
        plan = self.values().get("plan")
        if not plan:
            return Reply("no plan yet: ask a question first")
        return Reply("\n".join(f"[{i}] {sq['question']}" for i, sq in enumerate(plan, 1)))

    def _report(self) -> Reply:
        report = self.last_report()
        return Reply(render_markdown(report), markdown=True) if report else Reply("no report yet")

    def _save(self, arg: str) -> Reply:
        report = self.last_report()
        if not report:
            return Reply("no report to save yet")
        if not arg:
            return Reply(f"usage: /save PATH (the file name says the format: {FORMAT_NAMES})")
        path = Path(arg).expanduser()
        fmt = format_for_path(path)
        if fmt is None:
            return Reply(f"save as one of {FORMAT_NAMES}, e.g. /save report.pdf")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_report_file(report, path, fmt)
        except SleuthError as e:  # e.g. PDF export without the Pango library
            return Reply(f"cannot save to {path}: {e}")
        except OSError as e:  # a parent that is a file, no permission, a full disk: say so and go on
            return Reply(
                f"cannot save to {path}: {e.strerror or e}; the report is unchanged, try another path"
            )
        return Reply(f"saved to {path}")

    def _web(self, arg: str) -> Reply:
        if arg not in ("on", "off"):
            return Reply(f"usage: /web on|off (now {'on' if self.deps.web else 'off'})")
        if arg == "on" and web_backend_name(self.settings) is None:
            return Reply(NO_WEB_SEARCH)
        if self.deps.web is not None:
            self.deps.web.close()
        self.settings = self.settings.model_copy(update={"web": "always" if arg == "on" else "off"})
        self.deps.web = make_web_access(self.settings, self.deps.search)  # type: ignore[arg-type]
        return Reply(f"web search {arg}")

    def _new(self) -> Reply:
        self.thread_id, self.draft_plan = None, None
        return Reply("New thread: ask a question.")

    def _threads(self) -> Reply:
        rows = self.runs.recent(10)
        if not rows:
            return Reply("no threads yet")
        return Reply("\n".join(f"{r['run_id']}  {r['status']:<9}  {r['question'][:70]}" for r in rows))
