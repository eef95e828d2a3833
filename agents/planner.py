"""Planner node: the question becomes a short plan of sub-questions (one for a simple question).

A follow-up question on a thread is a new turn: its sub-questions get ids after every id the thread has
used (sq3, sq4 after sq1, sq2) and the evidence already gathered is recalled for them first, so the
retrieval decision can make do with it and the retriever only adds what is new."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sleuth.agents.common import NEW_TURN, event, usage_of
from sleuth.agents.deps import ResearchDeps
from sleuth.agents.offline.engine import question_parts
from sleuth.agents.schemas import PlannedSubQuestion, PlanOutput
from sleuth.agents.structured import call_structured
from sleuth.agents.textmatch import content_terms, coverage
from sleuth.tools.errors import BudgetExceeded, SleuthError

MAX_QUESTION_CHARS = 2000
RECALL_MIN_COVERAGE = 0.5  # share of a new sub-question's terms a gathered passage must mention
NEAR_DUPLICATE_JACCARD = 0.75  # sub-questions sharing this share of their terms ask the same thing


def near_duplicate(a: str, b: str) -> bool:
    """Do two sub-questions ask the same thing in other words: the same question word, and most of their
    terms shared or one's terms all in the other, which adds at most one ("What is BM25?", "What is the
    BM25 ranking?")?"""
    if a.lower().split()[:1] != b.lower().split()[:1]:
        return False  # "What is X?" and "When does X help?" ask different things of one subject
    terms_a = set(content_terms(a, drop_question_words=True))
    terms_b = set(content_terms(b, drop_question_words=True))
    if not terms_a or not terms_b:
        return a.lower().rstrip("?") == b.lower().rstrip("?")
    small, large = sorted((terms_a, terms_b), key=len)
    if small <= large and len(large - small) <= 1:
        return True
    return len(terms_a & terms_b) / len(terms_a | terms_b) >= NEAR_DUPLICATE_JACCARD


def plan_size(question: str, limit: int) -> int:
    """How many sub-questions a question warrants: its parts (clauses, compared items and their
    comparison), plus one for a step the parts do not show (a multi-hop bridge), within ``limit``."""
    return min(limit, len(question_parts(question)) + 1)


def build_plan(planned: list[PlannedSubQuestion], limit: int, first: int = 1) -> list[dict[str, Any]]:
    """Number the sub-questions sq<first>.., dropping repeats and near-duplicates."""
    plan: list[dict[str, Any]] = []
    for item in planned:
        text = " ".join(item.question.split())
        if text and len(plan) < limit and not any(near_duplicate(text, sq["question"]) for sq in plan):
            plan.append({"id": f"sq{first + len(plan)}", "question": text, "needs": item.needs.strip()})
    return plan


def revise_plan(
    plan: list[dict[str, Any]], questions: list[str], used_ids: int, limit: int
) -> list[dict[str, Any]]:
    """The plan as the user edited it: sub-questions kept by their text keep their ids, new ones get ids
    after the ``used_ids`` the thread has given out."""
    by_text = {sq["question"].lower().rstrip("?"): sq for sq in plan}
    revised: list[dict[str, Any]] = []
    for text in dict.fromkeys(" ".join(q.split()) for q in questions if q.strip()):
        kept = by_text.get(text.lower().rstrip("?"))
        if len(revised) < limit:
            revised.append(kept or {"id": f"sq{used_ids + 1}", "question": text, "needs": ""})
            used_ids += 0 if kept else 1
    return revised


def recall_evidence(
    evidence: Mapping[str, Mapping[str, Any]], plan: list[dict[str, Any]], limit: int
) -> dict[str, dict[str, Any]]:
    """Passages gathered in earlier turns that speak to the new sub-questions, tagged with them."""
    tagged: dict[str, dict[str, Any]] = {}
    for sq in plan:
        scored = [
            (coverage(sq["question"], f"{p.get('title', '')}\n{p['text']}"), cid)
            for cid, p in evidence.items()
        ]
        scored.sort(key=lambda item: (-item[0], item[1]))
        for share, chunk_id in scored[:limit]:
            if share < RECALL_MIN_COVERAGE:
                break
            passage = evidence[chunk_id]
            entry = tagged.setdefault(chunk_id, {**passage, "sub_questions": [], "sq_scores": {}})
            entry["sub_questions"].append(sq["id"])
            entry["sq_scores"][sq["id"]] = float(passage.get("score", 0.0))
    return tagged


def plan_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    question = " ".join(str(state.get("question") or "").split())[:MAX_QUESTION_CHARS]
    if len(question) < 3:
        raise SleuthError(
            'the research question is empty; ask something, e.g. sleuth research "What is BM25?"'
        )
    run_id = state.get("run_id") or uuid.uuid4().hex[:12]
    follow_up = bool(state.get("plan"))
    turn = int(state.get("turn", 1)) + (1 if follow_up else 0)
    usage_start = len(state.get("llm_usage", [])) if follow_up else 0  # a new turn, a new budget
    ledger = deps.ledger({"run_id": run_id, "turn": turn, "llm_usage": []})
    inputs = {"question": question, "max_sub_questions": deps.limits.max_sub_questions}
    stop_reason = None
    try:
        result = call_structured(deps.model, ledger, task="planner", inputs=inputs, schema=PlanOutput)
        planned, usage = result.value.sub_questions, result.usage
        assumption = " ".join(result.value.assumption.split())[:300]
    except BudgetExceeded as e:
        planned, usage, stop_reason = [PlannedSubQuestion(question=question)], usage_of(e), e.reason
        assumption = ""
    first = len(state.get("status", {})) + 1
    plan = build_plan(planned, plan_size(question, deps.limits.max_sub_questions), first) or build_plan(
        [PlannedSubQuestion(question=question)], 1, first
    )
    update = {
        "question": question,
        "run_id": run_id,
        "engine": deps.model.name,
        "plan": plan,
        "assumption": assumption,  # how an ambiguous question was read; shown at plan approval and in the report
        "status": {sq["id"]: {"status": "open", "round": 0, "missing": []} for sq in plan},
        "iteration": 1,
        "llm_usage": usage,
        "usage_start": usage_start,
        "stop_reason": stop_reason,
        "trace": [event("planner", sub_questions=[sq["question"] for sq in plan])],
    }
    if follow_up:
        recalled = recall_evidence(state.get("evidence", {}), plan, deps.limits.max_evidence_per_section)
        update.update(turn=turn, cancelled=False, evidence=recalled)
        update["stop_reason"] = stop_reason or NEW_TURN
        update["trace"][0]["recalled"] = len(recalled)
    return update
