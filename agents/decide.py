"""Retrieval decision ("when to retrieve" and "where"): per sub-question, make do with the evidence
(``none``), search the local corpus (``local``) or the web too (``web``).

With no evidence at all the answer is obvious and costs no model call. Otherwise the model (or the
offline engine's coverage rule) judges whether the passages already answer the sub-question and the
facts still marked missing. With no budget left the branch stops searching and keeps what it has.
Where to search is decided local first (agents/web.py: ``choose_source``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.common import RefTable, event, stopped_by
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.schemas import DecisionOutput
from sleuth.agents.structured import call_structured
from sleuth.agents.web import choose_source
from sleuth.tools.errors import BudgetExceeded


def _decision(sq_id: str, round_: int, retrieval: str, reason: str, **extra: Any) -> dict[str, Any]:
    """``retrieval``: "none", "local" or "web"."""
    retrieve = retrieval != "none"
    status = {
        "status": "researched",
        "round": round_,
        "decision": "retrieve" if retrieve else "skip",
        "decision_reason": reason,
        "retrieval": retrieval,
    }
    return {
        "retrieve": retrieve,
        "retrieval": retrieval,
        "status": {sq_id: status},
        "trace": [
            event(
                "decide",
                sub_question=sq_id,
                retrieve=retrieve,
                retrieval=retrieval,
                reason=reason,
                round=round_,
            )
        ],
        **extra,
    }


def _retrieve_from(state: Mapping[str, Any], deps: ResearchDeps, why: str, **extra: Any) -> dict[str, Any]:
    retrieval, reason = choose_source(state, deps, why)
    return _decision(state["sub_question"]["id"], state["round"], retrieval, reason, **extra)


def decide_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    known = state.get("known_evidence", [])
    if not known:
        return _retrieve_from(state, deps, "no evidence yet")
    inputs = {
        "sub_question": sq["question"],
        "needs": sq.get("needs", ""),
        "missing": state.get("missing", []),
        "evidence": RefTable().items(known),
    }
    ledger = deps.branch_ledger(state)
    try:
        result = call_structured(deps.model, ledger, task="decide", inputs=inputs, schema=DecisionOutput)
    except BudgetExceeded as e:
        return _decision(sq["id"], state["round"], "none", f"budget: {e}", **stopped_by(e))
    if not result.value.retrieve:
        return _decision(sq["id"], state["round"], "none", result.value.reason, llm_usage=result.usage)
    return _retrieve_from(state, deps, result.value.reason, llm_usage=result.usage)
