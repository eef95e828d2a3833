"""Retrieval decision ("when to retrieve"): per sub-question, search again or make do with the evidence.

With no evidence at all the answer is obvious and costs no model call. Otherwise the model (or the
offline engine's coverage rule) judges whether the passages already answer the sub-question and the
facts still marked missing. With no budget left the branch stops searching and keeps what it has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.common import RefTable, event, usage_of
from agents.deps import ResearchDeps
from agents.schemas import DecisionOutput
from agents.structured import call_structured
from tools.errors import BudgetExceeded


def _decision(sq_id: str, round_: int, retrieve: bool, reason: str, **extra: Any) -> dict[str, Any]:
    decision = "retrieve" if retrieve else "skip"
    return {
        "retrieve": retrieve,
        "status": {
            sq_id: {"status": "researched", "round": round_, "decision": decision, "decision_reason": reason}
        },
        "trace": [event("decide", sub_question=sq_id, retrieve=retrieve, reason=reason)],
        **extra,
    }


def decide_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    known = state.get("known_evidence", [])
    if not known:
        return _decision(sq["id"], state["round"], True, "no evidence yet")
    inputs = {
        "sub_question": sq["question"],
        "needs": sq.get("needs", ""),
        "missing": state.get("missing", []),
        "evidence": RefTable().items(known),
        "sufficient_passages": deps.limits.sufficient_passages,
        "sufficient_coverage": deps.limits.sufficient_coverage,
    }
    ledger = deps.ledger({"run_id": state["run_id"], "llm_usage": state.get("usage_so_far", [])})
    try:
        result = call_structured(deps.model, ledger, task="decide", inputs=inputs, schema=DecisionOutput)
    except BudgetExceeded as e:
        return _decision(
            sq["id"], state["round"], False, f"budget: {e}", llm_usage=usage_of(e), stop_reason=str(e)
        )
    return _decision(
        sq["id"], state["round"], result.value.retrieve, result.value.reason, llm_usage=result.usage
    )
