"""Planner node: the question becomes a short plan of sub-questions (one for a simple question)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from agents.common import event, usage_of
from agents.deps import ResearchDeps
from agents.schemas import PlannedSubQuestion, PlanOutput
from agents.structured import call_structured
from tools.errors import BudgetExceeded, SleuthError

MAX_QUESTION_CHARS = 2000


def build_plan(planned: list[PlannedSubQuestion], limit: int) -> list[dict[str, Any]]:
    """Number the sub-questions sq1..sqN, dropping repeats (case and spacing ignored)."""
    plan: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in planned:
        text = " ".join(item.question.split())
        key = text.lower().rstrip("?")
        if key and key not in seen and len(plan) < limit:
            seen.add(key)
            plan.append({"id": f"sq{len(plan) + 1}", "question": text, "needs": item.needs.strip()})
    return plan


def plan_node(state: Mapping[str, Any], deps: ResearchDeps) -> dict[str, Any]:
    question = " ".join(str(state.get("question") or "").split())[:MAX_QUESTION_CHARS]
    if len(question) < 3:
        raise SleuthError(
            'the research question is empty; ask something, e.g. sleuth research "What is BM25?"'
        )
    run_id = state.get("run_id") or uuid.uuid4().hex[:12]
    ledger = deps.ledger({"run_id": run_id, "llm_usage": state.get("llm_usage", [])})
    inputs = {"question": question, "max_sub_questions": deps.limits.max_sub_questions}
    stop_reason = None
    try:
        result = call_structured(deps.model, ledger, task="planner", inputs=inputs, schema=PlanOutput)
        planned, usage = result.value.sub_questions, result.usage
    except BudgetExceeded as e:
        planned, usage, stop_reason = [PlannedSubQuestion(question=question)], usage_of(e), str(e)
    plan = build_plan(planned, deps.limits.max_sub_questions) or build_plan(
        [PlannedSubQuestion(question=question)], 1
    )
    return {
        "question": question,
        "run_id": run_id,
        "engine": deps.model.name,
        "plan": plan,
        "status": {sq["id"]: {"status": "open", "round": 0, "missing": []} for sq in plan},
        "iteration": 1,
        "llm_usage": usage,
        "stop_reason": stop_reason,
        "trace": [event("planner", sub_questions=[sq["question"] for sq in plan])],
    }
