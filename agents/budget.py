"""Run budgets: limits (configurable) and a per-run ledger that reserves model calls before they are made.

The ledger is the in-process source of truth while a run executes, so parallel sub-question branches
cannot overshoot the call budget together. It is rebuilt from the checkpointed ``llm_usage`` records
when a run resumes in a new process (``sync``). Wall time is measured from the ledger's creation, i.e.
per process: a resumed run gets the wall-time budget afresh.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sleuth.tools.errors import BudgetExceeded

# Models whose calls cost nothing and are not counted against the LLM budgets.
FREE_MODELS = frozenset({"offline"})


@dataclass(frozen=True)
class ResearchLimits:
    """Budgets and retrieval knobs of one research run. Their defaults and meanings live in one place,
    ``sleuth.settings.Settings`` (same field names); the shell builds this from the settings."""

    max_iterations: int
    max_llm_calls: int
    max_tokens: int
    max_wall_s: float
    max_sub_questions: int
    passages_per_query: int
    max_evidence_per_section: int
    max_bridge_passages: int
    sufficient_passages: int
    sufficient_coverage: float
    relevance_min_cosine: float
    relevance_min_score_ratio: float
    support_threshold: float
    grounding_min_coverage: float
    llm_context_tokens: int
    llm_max_output_tokens: int
    reranker: str = "none"  # "none" | "llm" | "endpoint"
    rerank_depth: int = 20
    rerank_window: int = 10
    rerank_step: int = 5


def usage_totals(records: list[Mapping[str, Any]]) -> tuple[int, int]:
    """(LLM calls, tokens) in a list of usage records, free models excluded."""
    paid = [r for r in records if r.get("model") not in FREE_MODELS]
    return len(paid), sum(int(r.get("prompt_tokens", 0)) + int(r.get("completion_tokens", 0)) for r in paid)


@dataclass
class Ledger:
    limits: ResearchLimits
    clock: Callable[[], float] = time.monotonic
    calls: int = 0
    tokens: int = 0
    started: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def sync(self, records: list[Mapping[str, Any]]) -> None:
        """Catch up with usage recorded in the checkpointed state (after a resume)."""
        calls, tokens = usage_totals(records)
        with self._lock:
            self.calls, self.tokens = max(self.calls, calls), max(self.tokens, tokens)

    def seconds_left(self) -> float:
        """Wall time left in the budget (never negative)."""
        return max(0.0, self.limits.max_wall_s - (self.clock() - self.started))

    def exhausted(self) -> str | None:
        """Why the run must stop now, or None while every budget has room."""
        if self.calls >= self.limits.max_llm_calls:
            return f"the LLM call budget ({self.limits.max_llm_calls} calls) was used up"
        if self.tokens >= self.limits.max_tokens:
            return f"the token budget ({self.limits.max_tokens} tokens) was used up"
        if self.clock() - self.started >= self.limits.max_wall_s:
            return f"the wall-time budget ({self.limits.max_wall_s:g} s) ran out"
        return None

    def reserve(self, model_name: str) -> None:
        """Claim one model call, or raise BudgetExceeded with the reason."""
        with self._lock:
            reason = self.exhausted()
            if model_name in FREE_MODELS:
                if reason and "wall-time" in reason:
                    raise BudgetExceeded(reason)
                return
            if reason:
                raise BudgetExceeded(reason)
            self.calls += 1

    def record(self, model_name: str, prompt_tokens: int, completion_tokens: int) -> None:
        if model_name not in FREE_MODELS:
            with self._lock:
                self.tokens += prompt_tokens + completion_tokens


@dataclass
class LedgerBook:
    """One ledger per run id, created on first use in this process."""

    limits: ResearchLimits
    clock: Callable[[], float] = time.monotonic
    _ledgers: dict[str, Ledger] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def for_run(self, run_id: str, records: list[Mapping[str, Any]] = ()) -> Ledger:  # type: ignore[assignment]
        with self._lock:
            ledger = self._ledgers.setdefault(run_id, Ledger(self.limits, self.clock))
        ledger.sync(list(records))
        return ledger
