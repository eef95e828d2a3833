"""Query-rewriter node: an ensemble of search queries for one sub-question.

Pseudo-relevance feedback needs passages: the branch's known local evidence when it has some, otherwise
a quick probe search of the local corpus with the sub-question itself (a search, not a model call).
Web passages never feed the queries: page text must not be able to steer what is searched or fetched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.common import RefTable, event, usage_of
from agents.deps import ResearchDeps
from agents.relevance import relevant_hits
from agents.schemas import QueriesOutput
from agents.structured import call_structured
from tools.errors import BudgetExceeded

FEEDBACK_PASSAGES = 3
MAX_QUERIES = 6


def feedback_passages(state: Mapping[str, Any], deps: ResearchDeps) -> list[dict[str, Any]]:
    known = [p for p in state.get("known_evidence", []) if p.get("origin", "local") == "local"]
    if known:
        return list(known)[:FEEDBACK_PASSAGES]
    question = state["sub_question"]["question"]
    probe = deps.search.search(question, k=FEEDBACK_PASSAGES * 2)
    kept = relevant_hits([(question, probe)], question, deps.limits)
    return [p.to_dict() for p in probe if p.chunk_id in kept][:FEEDBACK_PASSAGES]


def clean_queries(queries: list[str], known: list[str], fallback: str) -> list[str]:
    """Distinct, non-empty queries not issued before; the sub-question itself if nothing is left."""
    seen = {q.lower() for q in known}
    out: list[str] = []
    for query in queries:
        text = " ".join(query.split())
        if text and text.lower() not in seen:
            seen.add(text.lower())
            out.append(text)
    return out[:MAX_QUERIES] or [fallback]


def rewrite_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    known_queries = list(state.get("known_queries", []))
    inputs = {
        "sub_question": sq["question"],
        "needs": sq.get("needs", ""),
        "missing": state.get("missing", []),
        "known_queries": known_queries,
        "feedback": RefTable().items(feedback_passages(state, deps)),
    }
    ledger = deps.ledger({"run_id": state["run_id"], "llm_usage": state.get("usage_so_far", [])})
    extra: dict[str, Any] = {}
    try:
        result = call_structured(deps.model, ledger, task="rewriter", inputs=inputs, schema=QueriesOutput)
        proposed, extra["llm_usage"] = result.value.queries, result.usage
    except BudgetExceeded as e:
        proposed, extra["llm_usage"], extra["stop_reason"] = [sq["question"]], usage_of(e), str(e)
    queries = clean_queries(proposed, known_queries, sq["question"])
    return {
        "queries": {sq["id"]: queries},
        "trace": [event("rewriter", sub_question=sq["id"], queries=queries)],
        **extra,
    }
