"""Retriever node: run a sub-question's queries through the search backend, merge and dedupe the
hits, apply the relevance cut-off and add what survives to the evidence with full provenance.
After a web step the backend is the mixed one: local and web passages compete in one ranked list.
Bridge entities from the rewriter add a second hop (agents/bridge.py): their passages take up to
``max_bridge_passages`` of the section's places; the best first-hop passages keep the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.bridge import bridge_passages
from sleuth.agents.common import event
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.relevance import relevant_hits


def retrieve_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    queries = state["queries"][sq["id"]]
    k = deps.limits.passages_per_query
    backend = deps.web.mixed if deps.web is not None and state.get("retrieval") == "web" else deps.search
    rankings = [(query, backend.search(query, k=k)) for query in queries]
    found = sum(len(ranking) for _, ranking in rankings)
    kept = relevant_hits(rankings, sq["question"], deps.limits)
    best = sorted(kept.values(), key=lambda hit: (-hit[0].score, hit[0].chunk_id))
    cap, bridge_cap = deps.limits.max_evidence_per_section, deps.limits.max_bridge_passages
    bridged = bridge_passages(
        deps.search,
        sq["question"],
        state.get("bridges", []),
        exclude_docs={p.doc_id for p, _ in best[: cap - bridge_cap]},
        k=k,
        limit=bridge_cap,
    )
    best = best[: cap - len(bridged)] + bridged
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
    trace = event(
        "retriever",
        sub_question=sq["id"],
        hits=found,
        kept=len(evidence),
        new=new,
        web=from_web,
        bridged=len(bridged),
    )
    return {"evidence": evidence, "trace": [trace]}
