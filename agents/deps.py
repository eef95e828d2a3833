"""What the research nodes depend on, injected by the graph builder: a chat model (an LLM or the
offline engine), a search backend over the local corpus, optionally the web tools, the run limits and
the per-run budget ledgers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sleuth.agents.budget import Ledger, LedgerBook, ResearchLimits
from sleuth.agents.common import turn_usage
from sleuth.tools.llm import ChatModel
from sleuth.tools.protocols import Reranker, SearchBackend
from sleuth.tools.web import WebGatherer, WebSearchBackend

WebMode = Literal["auto", "always"]


@dataclass
class WebAccess:
    """The web as a retrieval source. ``mode``: "auto" goes to the web only for sub-questions the local
    corpus cannot answer, "always" for every sub-question that retrieves. ``mixed`` ranks local and web
    passages in one list. The fetch list comes only from ``search``'s results, never from page text."""

    search: WebSearchBackend
    gatherer: WebGatherer
    mixed: SearchBackend
    mode: WebMode = "auto"
    results_per_query: int = 8
    max_pages: int = 8  # pages fetched per sub-question
    # Parallel branches gather one at a time: indexing rebuilds the web BM25 snapshot and bumps a counter.
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # run key -> why the search backend is down for the rest of that run (a new run asks again). Branches
    # search one at a time (search_lock), so a backend found down is not asked again by a parallel branch;
    # search APIs are rate-limited anyway.
    down: dict[str, str] = field(default_factory=dict)
    search_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def close(self) -> None:
        self.gatherer.fetcher.close()
        close_search = getattr(self.search, "close", None)
        if close_search is not None:
            close_search()


class RunRecorder(Protocol):
    """Keeps the record of runs the graph makes on its own (under LangGraph Server); the CLI, chat and
    web app record their runs themselves and leave ``ResearchDeps.recorder`` None."""

    def started(self, run_id: str, question: str, engine: str) -> None: ...

    def finished(self, run_id: str, report: Mapping[str, Any]) -> None: ...


@dataclass
class ResearchDeps:
    model: ChatModel
    search: SearchBackend  # the local corpus
    limits: ResearchLimits
    ledgers: LedgerBook | None = None
    web: WebAccess | None = None  # None: local only
    recorder: RunRecorder | None = None
    reranker: Reranker | None = None  # a service reranker (limits.reranker "endpoint"); "llm" uses ``model``
    # the report as the text of the assistant's message in ``messages`` (LangGraph chat clients show it)
    render_answer: Callable[[Mapping[str, Any]], str] | None = None

    def __post_init__(self) -> None:
        if self.ledgers is None:
            self.ledgers = LedgerBook(self.limits)

    def ledger(self, state: Mapping[str, Any]) -> Ledger:
        """The budget ledger of the run ``state`` belongs to, caught up with its recorded usage."""
        assert self.ledgers is not None
        key = f"{state.get('run_id', '')}#{int(state.get('turn', 1))}"  # each turn of a thread has its own
        return self.ledgers.for_run(key, turn_usage(state))

    def branch_ledger(self, branch: Mapping[str, Any]) -> Ledger:
        """The same ledger seen from a sub-question branch, which carries its turn's usage so far."""
        usage = branch.get("usage_so_far", [])
        return self.ledger({"run_id": branch["run_id"], "turn": branch.get("turn", 1), "llm_usage": usage})

    def close(self) -> None:
        if self.web is not None:
            self.web.close()
