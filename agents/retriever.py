"""Retriever node: run a sub-question's queries through the search backend, merge and dedupe the
hits, rerank them when a reranker is configured (agents/rerank.py), apply the relevance cut-off and add
what survives to the evidence with full provenance. A reranker that fails leaves the fused order, and
the trace says why.
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
from sleuth.agents.rerank import LLMReranker, rerank_rankings
from sleuth.tools.errors import BudgetExceeded, ModelError
from sleuth.tools.protocols import Reranker
from sleuth.tools.records import Passage


def _rerank(
    state: Mapping[str, Any], deps: ResearchDeps, rankings: list[tuple[str, list[Passage]]]
) -> tuple[list[tuple[str, list[Passage]]], dict[str, Any], dict[str, Any]]:
    """(rankings, state update, trace fields) after the configured reranker, if any."""
    limits = deps.limits
    reranker: Reranker | None = deps.reranker
    if limits.reranker == "llm":
        reranker = LLMReranker(
            deps.model, deps.branch_ledger(state), limits.rerank_window, limits.rerank_step
        )
    if limits.reranker == "none" or reranker is None:
        return rankings, {}, {}
    update: dict[str, Any] = {}
    try:
        reranked, n = rerank_rankings(
            reranker, state["sub_question"]["question"], rankings, limits.rerank_depth
        )
        fields: dict[str, Any] = {"reranked": n, "reranker": reranker.name}
    except BudgetExceeded as e:
        reranked, fields = rankings, {"rerank_skipped": e.reason}
        update = {"stop_reason": e.reason}  # its calls are in the reranker's usage, below
    except ModelError as e:  # an optional step: the fused order serves, and the trace says why
        reranked, fields = rankings, {"rerank_skipped": str(e)}
    if isinstance(reranker, LLMReranker):
        update["llm_usage"] = [*update.get("llm_usage", []), *reranker.usage]
    return reranked, update, fields


def retrieve_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sq = state["sub_question"]
    queries = state["queries"][sq["id"]]
    k = deps.limits.passages_per_query
    backend = deps.web.mixed if deps.web is not None and state.get("retrieval") == "web" else deps.search
    # a reranker sees deeper candidate lists than the writer will: it may pull a passage up from there
    depth = max(k, deps.limits.rerank_depth) if deps.limits.reranker != "none" else k
    rankings = [(query, backend.search(query, k=depth)) for query in queries]
    found = sum(len(ranking) for _, ranking in rankings)
    rankings, update, rerank_fields = _rerank(state, deps, rankings)
    rankings = [(query, passages[:k]) for query, passages in rankings]
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
        **rerank_fields,
    )
    return {**update, "evidence": evidence, "trace": [trace]}
