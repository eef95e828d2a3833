"""What the research nodes depend on, injected by the graph builder: a chat model (an LLM or the
offline engine), a search backend, the run limits and the per-run budget ledgers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.budget import Ledger, LedgerBook, ResearchLimits
from tools.llm import ChatModel
from tools.protocols import SearchBackend


@dataclass
class ResearchDeps:
    model: ChatModel
    search: SearchBackend
    limits: ResearchLimits = field(default_factory=ResearchLimits)
    ledgers: LedgerBook | None = None

    def __post_init__(self) -> None:
        if self.ledgers is None:
            self.ledgers = LedgerBook(self.limits)

    def ledger(self, state: Mapping[str, Any]) -> Ledger:
        """The budget ledger of the run ``state`` belongs to, caught up with its recorded usage."""
        assert self.ledgers is not None
        return self.ledgers.for_run(str(state.get("run_id", "")), state.get("llm_usage", []))
