"""Retriever node: run a sub-question's queries through the search backend, merge and dedupe the
hits, apply the relevance cut-off and add what survives to the evidence with full provenance.
After a web step the backend is the mixed one: local and web passages compete in one ranked list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.common import event
from agents.deps import ResearchDeps
from agents.relevance import relevant_hits


def retrieve_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    queries = state["queries"][sq["id"]]
    k = deps.limits.passages_per_query
    backend = deps.web.mixed if deps.web is not None and state.get("retrieval") == "web" else deps.search
    rankings = [(query, backend.search(query, k=k)) for query in queries]
    found = sum(len(ranking) for _, ranking in rankings)
    kept = relevant_hits(rankings, sq["question"], deps.limits)
    best = sorted(kept.values(), key=lambda hit: (-hit[0].score, hit[0].chunk_id))
    best = best[: deps.limits.max_evidence_per_section]
    evidence = {
        passage.chunk_id: {
            **passage.to_dict(),
            "sub_questions": [sq["id"]],
            "sq_scores": {sq["id"]: passage.score},
            "round": state["round"],
            "query": query,
        }
        for passage, query in best
    }
    known = {p["chunk_id"] for p in state.get("known_evidence", [])}
    new = sum(1 for chunk_id in evidence if chunk_id not in known)
    from_web = sum(1 for passage, _ in best if passage.origin == "web")
    trace = event("retriever", sub_question=sq["id"], hits=found, kept=len(evidence), new=new, web=from_web)
    return {"evidence": evidence, "trace": [trace]}
