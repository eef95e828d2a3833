"""Verifier node: a verdict for every new claim against the passages it cites.

Whatever the model says, a claim its cited passages do not contain is unsupported (agents/grounding.py).
A claim that quotes its passage (agents/anchoring.py) is supported by what it is, without a model call.
Sections with unsupported claims (or with no claim at all) become gaps that get another research round
while iterations and budget remain, and the round brought the section new evidence: a round that found
nothing new ends that section's loop. Contradicted claims are kept for the report's conflicts section
instead of being hidden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sleuth.agents.common import RefTable, event, section_evidence, stopped_by
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.grounding import grounding_gap
from sleuth.agents.injection import looks_like_instructions
from sleuth.agents.schemas import ClaimVerdict, VerdictsOutput
from sleuth.agents.structured import call_structured
from sleuth.tools.errors import BudgetExceeded


def verifier_inputs(
    state: Mapping[str, Any], pending: list[dict[str, Any]], limit: int
) -> tuple[dict, RefTable]:
    refs, evidence = RefTable(), state.get("evidence", {})
    passages: dict[str, Mapping[str, Any]] = {}
    for sq_id in dict.fromkeys(c["sub_question_id"] for c in pending):
        passages.update({p["chunk_id"]: p for p in section_evidence(evidence, sq_id, limit)})
    passages.update({cid: evidence[cid] for c in pending for cid in c["citations"] if cid in evidence})
    items = refs.items(passages.values())
    claims = [
        {"claim_id": c["id"], "text": c["text"], "citations": [refs.ref(cid) for cid in c["citations"]]}
        for c in pending
    ]
    return {"claims": claims, "evidence": items}, refs


def instruction_refusal(claim: dict[str, Any]) -> dict[str, Any]:
    """Whatever its source or verdict, a claim that reads as an instruction is not part of the answer."""
    reason = "it reads as an instruction to the reader or an AI, not as a fact"
    return {**claim, "verdict": "unsupported", "reason": reason, "conflicts": []}


def apply_verdict(
    claim: dict[str, Any],
    verdict: ClaimVerdict | None,
    refs: RefTable,
    evidence: Mapping[str, Mapping[str, Any]],
    min_coverage: float,
) -> dict[str, Any]:
    if verdict is None:
        return {
            **claim,
            "verdict": "unsupported",
            "reason": "the verifier returned no verdict for this claim",
        }
    own = set(claim["citations"])  # a claim does not conflict with its own source
    conflicts = [
        refs.chunk_of[r] for r in verdict.conflicting_refs if refs.chunk_of.get(r) not in (None, *own)
    ]
    if looks_like_instructions(claim["text"]):
        return instruction_refusal(claim)
    if verdict.verdict == "supported":
        gap = grounding_gap(
            claim["text"], [evidence[c]["text"] for c in claim["citations"] if c in evidence], min_coverage
        )
        if gap is not None:
            return {**claim, "verdict": "unsupported", "reason": f"not grounded: {gap}", "conflicts": []}
    return {**claim, "verdict": verdict.verdict, "reason": verdict.reason, "conflicts": conflicts}


def quote_verdict(claim: dict[str, Any]) -> dict[str, Any]:
    """A claim the writer replaced by its source's own words (agents/anchoring.py) is what its passage
    states: no model is asked, and the reason says so."""
    if looks_like_instructions(claim["text"]):
        return instruction_refusal(claim)
    return {**claim, "verdict": "supported", "reason": "quoted from the cited passage", "conflicts": []}


def found_new_evidence(evidence: Mapping[str, Mapping[str, Any]], sq_id: str, round_: int) -> bool:
    """Did round ``round_`` add a passage to this section (the first round always counts)?"""
    return round_ <= 1 or any(
        p.get("round") == round_ and sq_id in p.get("sub_questions", ()) for p in evidence.values()
    )


def next_status(
    sq: Mapping[str, Any], claims: list[dict[str, Any]], may_retry: bool, new_evidence: bool = True
) -> dict[str, Any]:
    unsupported = [c["text"] for c in claims if c["verdict"] == "unsupported"]
    if may_retry and new_evidence and (unsupported or not claims):
        return {"status": "gap", "missing": unsupported or [sq["question"]]}
    return {"status": "verified"}


def verify_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    sections = {sq_id: list(items) for sq_id, items in state.get("claims", {}).items()}
    pending = [c for items in sections.values() for c in items if c["verdict"] is None]
    evidence = state.get("evidence", {})
    ledger, usage = deps.ledger(state), []
    sections = {
        sq_id: [quote_verdict(c) if c["verdict"] is None and c.get("quoted") else c for c in items]
        for sq_id, items in sections.items()
    }
    to_check = [c for items in sections.values() for c in items if c["verdict"] is None]
    if to_check:
        inputs, refs = verifier_inputs(state, to_check, deps.limits.max_evidence_per_section)
        try:
            result = call_structured(
                deps.model, ledger, task="verifier", inputs=inputs, schema=VerdictsOutput
            )
        except BudgetExceeded as e:
            trace = [event("verifier", checked=0, pending=len(to_check), reason=str(e))]
            return {**stopped_by(e), "claims": sections, "trace": trace}
        usage, verdicts = result.usage, {v.claim_id: v for v in result.value.verdicts}
        sections = {
            sq_id: [
                apply_verdict(c, verdicts.get(c["id"]), refs, evidence, deps.limits.grounding_min_coverage)
                if c["verdict"] is None
                else c
                for c in items
            ]
            for sq_id, items in sections.items()
        }
    iteration = int(state.get("iteration", 1))
    may_retry = iteration < deps.limits.max_iterations and ledger.exhausted() is None
    written = [
        sq
        for sq in state.get("plan", [])
        if state.get("status", {}).get(sq["id"], {}).get("status") == "written"
    ]
    status = {
        sq["id"]: next_status(
            sq, sections.get(sq["id"], []), may_retry, found_new_evidence(evidence, sq["id"], iteration)
        )
        for sq in written
    }
    gaps = sorted(sq_id for sq_id, s in status.items() if s["status"] == "gap")
    verdict_counts: dict[str, int] = {}
    for claim in pending:
        verdict = next(c for c in sections[claim["sub_question_id"]] if c["id"] == claim["id"])["verdict"]
        verdict_counts[verdict] = verdict_counts.get(verdict, 0) + 1
    return {
        "claims": sections,
        "status": status,
        "iteration": iteration + 1 if gaps else iteration,
        "llm_usage": usage,
        "trace": [
            event(
                "verifier",
                checked=len(pending),
                quoted=len(pending) - len(to_check),
                verdicts=verdict_counts,
                gaps=gaps,
            )
        ],
    }
