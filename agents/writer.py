"""Writer node: drafts the claims of every section whose research just finished, from evidence only.

Citations are enforced here, not trusted: a claim may cite only refs of its own section's evidence
(chunks retrieved in this run); other refs are removed, and a claim left with no citation is dropped.
Each kept claim is anchored to the sentence of its source that carries it (agents/anchoring.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.anchoring import anchor_claim
from sleuth.agents.common import RefTable, event, section_evidence, stopped_by
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.schemas import DraftOutput
from sleuth.agents.structured import call_structured
from sleuth.tools.errors import BudgetExceeded
from sleuth.tools.records import short_id


def sections_to_write(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    status = state.get("status", {})
    return [sq for sq in state.get("plan", []) if status.get(sq["id"], {}).get("status") == "researched"]


def assemble_claims(
    draft: DraftOutput,
    allowed: Mapping[str, set[str]],
    refs: RefTable,
    iteration: int,
    evidence: Mapping[str, Mapping[str, Any]],
    min_share: float,
) -> tuple[dict[str, list[dict[str, Any]]], int]:
    """Claims per section with citations mapped to chunk ids and anchored to the words of their source
    (agents/anchoring.py); also how many claims were dropped."""
    claims: dict[str, list[dict[str, Any]]] = {sq_id: [] for sq_id in allowed}
    dropped = 0
    for section in draft.sections:
        if section.id not in allowed:
            dropped += len(section.claims)
            continue
        for claim in section.claims:
            cited = [
                refs.chunk_of[r]
                for r in dict.fromkeys(c.strip() for c in claim.citations)
                if r in allowed[section.id]
            ]
            text = " ".join(claim.text.split())
            if not cited or not text:
                dropped += 1
                continue
            drafted = {"text": text, "citations": cited, "sub_question_id": section.id}
            anchored = anchor_claim(drafted, evidence, min_share)
            claim_id = short_id(section.id, anchored["text"], str(iteration))
            if any(c["id"] == claim_id for c in claims[section.id]):
                dropped += 1  # two drafts anchored to the same words are one claim
                continue
            claims[section.id].append(
                {
                    "id": claim_id,
                    **anchored,
                    "verdict": None,
                    "reason": "",
                    "conflicts": [],
                    "round": iteration,
                }
            )
    return claims, dropped


def write_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    todo = sections_to_write(state)
    refs, allowed, sections = RefTable(), {}, []
    for sq in todo:
        items = refs.items(
            section_evidence(state.get("evidence", {}), sq["id"], deps.limits.max_evidence_per_section)
        )
        allowed[sq["id"]] = {item["ref"] for item in items}
        if items:
            rejected = [
                {"text": c["text"], "reason": c.get("reason", "")}
                for c in state.get("claims", {}).get(sq["id"], [])
                if c.get("verdict") == "unsupported"
            ]  # a gap round: rewrite these from the evidence, or leave them out
            sections.append(
                {"id": sq["id"], "question": sq["question"], "evidence": items, "rejected": rejected}
            )
    update: dict[str, Any] = {"status": {sq["id"]: {"status": "written"} for sq in todo}}
    draft, usage = DraftOutput(sections=[]), []
    if sections:
        inputs = {"question": state["question"], "sections": sections}
        try:
            result = call_structured(
                deps.model, deps.ledger(state), task="writer", inputs=inputs, schema=DraftOutput
            )
            draft, usage = result.value, result.usage
        except BudgetExceeded as e:
            trace = [event("writer", sections=[sq["id"] for sq in todo], written=False, reason=str(e))]
            return {**stopped_by(e), "trace": trace}
    claims, dropped = assemble_claims(
        draft,
        allowed,
        refs,
        int(state.get("iteration", 1)),
        state.get("evidence", {}),
        deps.limits.grounding_min_coverage,
    )
    counts = {sq_id: len(items) for sq_id, items in claims.items()}
    removed = sum(len(c.get("citations_removed", ())) for items in claims.values() for c in items)
    written = event("writer", claims=counts, dropped_uncited=dropped, citations_removed=removed)
    update.update(claims=claims, llm_usage=usage, trace=[written])
    return update
