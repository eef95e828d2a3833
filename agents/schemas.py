"""The structured output each node asks its ChatModel for. Both engines answer in these shapes: the
OpenAI-compatible model is told the JSON schema, the offline engine answers in it by rules.
Validation happens in agents/structured.py; these models are the edge where model output is trusted."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["supported", "unsupported", "contradicted"]


class PlannedSubQuestion(BaseModel):
    question: str = Field(min_length=3, description="one self-contained research question")
    needs: str = Field(default="", description="what evidence would answer it")


class PlanOutput(BaseModel):
    sub_questions: list[PlannedSubQuestion] = Field(min_length=1)  # the node keeps max_sub_questions
    assumption: str = Field(
        default="", description="for an ambiguous question, the reading the plan follows; else empty"
    )


class DecisionOutput(BaseModel):
    retrieve: bool = Field(description="true when more evidence must be searched for")
    reason: str = ""


class QueriesOutput(BaseModel):
    queries: list[str] = Field(min_length=1, max_length=8)
    bridge_entities: list[str] = Field(  # no max: a long list is cut (agents/bridge.py), not re-asked
        default_factory=list,
        description="names quoted verbatim from the feedback passages that the sub-question depends on "
        "but does not name (the bridge of a multi-hop question), most useful first",
    )


class DraftClaim(BaseModel):
    text: str = Field(min_length=3, description="one factual statement, taken from the evidence")
    citations: list[str] = Field(min_length=1, description='evidence refs such as "E3"')


class DraftSection(BaseModel):
    id: str = Field(description="the sub-question id this section answers")
    claims: list[DraftClaim] = Field(default_factory=list)


class DraftOutput(BaseModel):
    sections: list[DraftSection]


class ClaimVerdict(BaseModel):
    claim_id: str
    verdict: Verdict
    reason: str = ""
    conflicting_refs: list[str] = Field(
        default_factory=list, description="other evidence refs that say otherwise"
    )


class VerdictsOutput(BaseModel):
    verdicts: list[ClaimVerdict]


class RankingOutput(BaseModel):
    ranking: list[str] = Field(
        min_length=1, description="the passage refs, most relevant to the query first, each once"
    )
