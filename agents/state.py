"""The shapes the research nodes read and write, as TypedDicts with Literal statuses. graphs/state.py
composes them into the graph's state; values stay JSON types, so checkpoints need no custom types and
LangGraph Server (pydantic) can derive the graph's input and output schemas from them."""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

# open -> researched (decided) -> written -> verified, or gap (another round) -> researched ...
SectionPhase = Literal["open", "researched", "written", "verified", "gap"]
Retrieval = Literal["none", "local", "web"]
Verdict = Literal["supported", "unsupported", "contradicted"]
WebSourceStatus = Literal["fetched", "cached", "skipped"]


class SubQuestion(TypedDict):
    id: str  # "sq1", "sq2"... unique within a thread
    question: str
    needs: str  # what evidence would answer it (the planner's words; may be empty)


class SectionStatus(TypedDict, total=False):
    status: SectionPhase
    round: int
    missing: list[str]  # claims or questions the next round must find evidence for
    decision: Literal["retrieve", "skip"]
    decision_reason: str
    retrieval: Retrieval


class EvidenceItem(TypedDict):
    """A retrieved passage (``tools.records.Passage`` as a dict) and the sub-questions it serves."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    start: int
    end: int
    text: str
    score: float
    origin: Literal["local", "web"]
    lexical_score: float | None
    dense_score: float | None
    lexical_rank: int | None
    dense_rank: int | None
    fetched_at: str | None
    extra: dict[str, Any]
    sub_questions: NotRequired[list[str]]
    sq_scores: NotRequired[dict[str, float]]  # its best score for each sub-question
    round: NotRequired[int]  # the round it was first found in


class Claim(TypedDict):
    id: str
    sub_question_id: str
    text: str
    citations: list[str]  # chunk ids, all of them retrieved evidence
    verdict: Verdict | None  # None until the verifier has seen it
    reason: str
    conflicts: list[str]  # chunk ids of uncited passages that say otherwise
    round: int


class WebSource(TypedDict, total=False):
    url: str
    status: WebSourceStatus
    sub_questions: list[str]
    fetched_at: str | None
    final_url: str
    title: str
    reason: str  # why it was skipped
    kind: str  # which kind of failure
