"""Query-rewriter node: an ensemble of search queries for one sub-question.

Pseudo-relevance feedback needs passages: the branch's known local evidence when it has some, otherwise
a quick probe search of the local corpus with the sub-question itself (a search, not a model call).
Web passages never feed the queries: page text must not be able to steer what is searched or fetched.
The model may also name bridge entities for a second hop (agents/bridge.py); only names found verbatim
in the local feedback passages are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.bridge import local_bridges
from sleuth.agents.common import RefTable, event, stopped_by
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.relevance import relevant_hits
from sleuth.agents.schemas import QueriesOutput
from sleuth.agents.structured import call_structured
from sleuth.tools.errors import BudgetExceeded

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
    feedback = feedback_passages(state, deps)
    inputs = {
        "sub_question": sq["question"],
        "needs": sq.get("needs", ""),
        "missing": state.get("missing", []),
        "known_queries": known_queries,
        "feedback": RefTable().items(feedback),
    }
    ledger = deps.branch_ledger(state)
    extra: dict[str, Any] = {}
    proposed_bridges: list[str] = []
    try:
        result = call_structured(deps.model, ledger, task="rewriter", inputs=inputs, schema=QueriesOutput)
        proposed, extra["llm_usage"] = result.value.queries, result.usage
        proposed_bridges = result.value.bridge_entities
    except BudgetExceeded as e:
        proposed = [sq["question"]]
        extra.update(stopped_by(e))
    queries = clean_queries(proposed, known_queries, sq["question"])
    bridges = local_bridges(proposed_bridges, feedback, sq["question"])
    return {
        "queries": {sq["id"]: queries},
        "bridges": bridges,
        "trace": [event("rewriter", sub_question=sq["id"], queries=queries, bridges=bridges)],
        **extra,
    }
