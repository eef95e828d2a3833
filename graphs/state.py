"""The research graph's state: JSON-serialisable values only (so checkpoints need no custom types),
with named reducers for the keys that parallel sub-question branches write together."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from sleuth.agents.common import NEW_TURN
from sleuth.agents.state import Claim, EvidenceItem, Retrieval, SectionStatus, SubQuestion, WebSource


def merge_evidence(left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None) -> dict:
    """Union by chunk id. A chunk found for several sub-questions lists them all, keeps its best score
    for each of them (``sq_scores``) and overall (``score``), and the round it was first found in."""
    merged = dict(left or {})
    for chunk_id, passage in (right or {}).items():
        old = merged.get(chunk_id)
        if old is None:
            merged[chunk_id] = passage
            continue
        best = passage if float(passage.get("score", 0)) > float(old.get("score", 0)) else old
        sq_scores = dict(old.get("sq_scores", {}))
        for sq_id, score in passage.get("sq_scores", {}).items():
            sq_scores[sq_id] = max(score, sq_scores.get(sq_id, score))
        merged[chunk_id] = {
            **best,
            "sub_questions": list(
                dict.fromkeys([*old.get("sub_questions", []), *passage.get("sub_questions", [])])
            ),
            "sq_scores": sq_scores,
            "round": min(old.get("round", 0), passage.get("round", 0)),
        }
    return merged


def merge_status(left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None) -> dict:
    """Per sub-question, later fields overwrite earlier ones; other fields are kept."""
    merged = {k: dict(v) for k, v in (left or {}).items()}
    for sq_id, fields in (right or {}).items():
        merged[sq_id] = {**merged.get(sq_id, {}), **fields}
    return merged


def merge_queries(left: dict[str, list[str]] | None, right: dict[str, list[str]] | None) -> dict:
    """Every query issued per sub-question, in order, without repeats."""
    merged = {k: list(v) for k, v in (left or {}).items()}
    for sq_id, queries in (right or {}).items():
        merged[sq_id] = list(dict.fromkeys([*merged.get(sq_id, []), *queries]))
    return merged


def merge_web_sources(
    left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None
) -> dict:
    """Per URL, the latest record wins; the sub-questions that asked for it accumulate."""
    merged = {k: dict(v) for k, v in (left or {}).items()}
    for url, record in (right or {}).items():
        asked = [*merged.get(url, {}).get("sub_questions", []), *record.get("sub_questions", [])]
        merged[url] = {**merged.get(url, {}), **record, "sub_questions": list(dict.fromkeys(asked))}
    return merged


def replace_sections(left: dict[str, list] | None, right: dict[str, list] | None) -> dict:
    """Claims per section: a node that writes a section replaces its whole claim list."""
    return {**(left or {}), **(right or {})}


def first_reason(left: str | None, right: str | None) -> str | None:
    """The first reason a run had to stop wins; later ones do not overwrite it. A follow-up question on
    the thread starts a new turn (``NEW_TURN``) with no stop reason."""
    if right == NEW_TURN:
        return None
    return left or right or None


def keep_numbers(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Citation numbers per chunk id: a number once given within the thread is kept."""
    merged = dict(left or {})
    for chunk_id, n in (right or {}).items():
        merged.setdefault(chunk_id, n)
    return merged


class ResearchInput(TypedDict, total=False):
    question: str  # or, as LangGraph chat clients send it, the last user message in ``messages``
    run_id: str  # default: the thread id
    # pause after the planner (an interrupt) until the plan is accepted, edited or cancelled; this turn only
    approve_plan: bool
    messages: Annotated[list[AnyMessage], add_messages]


class ResearchConfig(TypedDict, total=False):
    """Per-run configuration (``configurable``), published as the graph's config schema and honoured by
    the LangGraph Server factory (sleuth/server_graph.py); unset keys keep the configured settings."""

    llm_model: str  # a model on the OpenAI-compatible endpoint, or "offline" for the offline engine
    llm_base_url: str
    web: Literal["auto", "always", "off"]
    max_iterations: int
    max_llm_calls: int
    max_tokens: int
    max_wall_s: float


class ResearchState(TypedDict, total=False):
    question: str
    run_id: str
    engine: str
    approve_plan: bool
    cancelled: bool  # the user cancelled this turn's plan
    turn: int  # 1 for the thread's first question, +1 for each follow-up
    plan: list[SubQuestion]
    assumption: str  # the planner's reading of an ambiguous question ("" when it was not ambiguous)
    status: Annotated[dict[str, SectionStatus], merge_status]  # sq id -> its research status
    queries: Annotated[dict[str, list[str]], merge_queries]
    evidence: Annotated[dict[str, EvidenceItem], merge_evidence]  # chunk id -> passage + sub_questions
    claims: Annotated[dict[str, list[Claim]], replace_sections]  # sq id -> claims with verdicts
    web_sources: Annotated[dict[str, WebSource], merge_web_sources]  # url -> page or skip record
    iteration: int
    llm_usage: Annotated[list[dict[str, Any]], operator.add]  # one record per model call
    usage_start: int  # where this turn's records begin in llm_usage (budgets are per turn)
    stop_reason: Annotated[str | None, first_reason]
    trace: Annotated[list[dict[str, Any]], operator.add]
    report: dict[str, Any]
    source_numbers: Annotated[dict[str, int], keep_numbers]  # chunk id -> citation number in this thread
    messages: Annotated[list[AnyMessage], add_messages]  # each turn's question and its report, as chat
    question_message_id: str  # the user message the current turn answers


class BranchState(TypedDict, total=False):
    """One sub-question's research branch (decide -> rewrite -> [web] -> retrieve), started with ``Send``."""

    run_id: str
    usage_so_far: list[dict[str, Any]]  # this turn's model-call records so far
    turn: int
    question: str
    sub_question: SubQuestion
    round: int
    missing: list[str]
    known_evidence: list[EvidenceItem]
    known_queries: list[str]
    retrieve: bool
    retrieval: Retrieval
    bridges: list[str]  # names to follow for a second hop (agents/bridge.py); stays in the branch
    # What flows back into ResearchState:
    status: Annotated[dict[str, SectionStatus], merge_status]
    queries: Annotated[dict[str, list[str]], merge_queries]
    evidence: Annotated[dict[str, EvidenceItem], merge_evidence]
    web_sources: Annotated[dict[str, WebSource], merge_web_sources]
    llm_usage: Annotated[list[dict[str, Any]], operator.add]
    stop_reason: Annotated[str | None, first_reason]
    trace: Annotated[list[dict[str, Any]], operator.add]


class BranchOutput(TypedDict, total=False):
    status: dict[str, SectionStatus]
    queries: dict[str, list[str]]
    evidence: dict[str, EvidenceItem]
    web_sources: dict[str, WebSource]
    llm_usage: list[dict[str, Any]]
    stop_reason: str | None
    trace: list[dict[str, Any]]
