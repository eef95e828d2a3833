"""Helpers the nodes share: trace events, evidence views and reference numbering for prompts."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from sleuth.tools.errors import BudgetExceeded, OutputInvalid

# Written as ``stop_reason`` by the planner of a follow-up question: the new turn starts with no stop reason.
NEW_TURN = "<new turn>"


def turn_usage(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """This turn's model-call records: budgets count per question, not per chat thread."""
    return list(state.get("llm_usage", []))[int(state.get("usage_start", 0)) :]


def event(node: str, **fields: Any) -> dict[str, Any]:
    """One trace entry (JSON-serialisable): which node did what."""
    return {"node": node, "at": round(time.time(), 3), **fields}


def section_evidence(
    evidence: Mapping[str, Mapping[str, Any]], sq_id: str, limit: int
) -> list[dict[str, Any]]:
    """Passages gathered for sub-question ``sq_id``, best first (by their score for it), at most ``limit``."""
    mine = [dict(p) for p in evidence.values() if sq_id in p.get("sub_questions", ())]
    mine.sort(key=lambda p: (-float(p.get("sq_scores", {}).get(sq_id, p.get("score", 0.0))), p["chunk_id"]))
    return mine[:limit]


class RefTable:
    """Short evidence refs ("E1", "E2"...) for a prompt, mapped back to chunk ids afterwards."""

    def __init__(self) -> None:
        self.chunk_of: dict[str, str] = {}
        self._ref_of: dict[str, str] = {}

    def ref(self, chunk_id: str) -> str:
        if chunk_id not in self._ref_of:
            ref = f"E{len(self._ref_of) + 1}"
            self._ref_of[chunk_id], self.chunk_of[ref] = ref, chunk_id
        return self._ref_of[chunk_id]

    def items(self, passages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Prompt view of passages: ref, title and text only."""
        return [
            {"ref": self.ref(p["chunk_id"]), "title": p.get("title", ""), "text": p["text"]} for p in passages
        ]


def usage_of(error: BudgetExceeded | OutputInvalid) -> list[dict[str, Any]]:
    """The model-call records a failed structured call made before it gave up."""
    return list(error.usage)


def stopped_by(error: BudgetExceeded) -> dict[str, Any]:
    """The partial update of a node whose budget ran out: the calls it made and why the run stops."""
    return {"llm_usage": usage_of(error), "stop_reason": error.reason}
