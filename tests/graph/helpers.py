"""Test doubles for the research graph: a tiny in-memory SearchBackend (it implements the real
Protocol; scores are simple term overlap) and a scripted ChatModel for the agent unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sleuth.agents.schemas import DecisionOutput, DraftOutput, PlanOutput, QueriesOutput, VerdictsOutput
from sleuth.agents.structured import read_inputs
from sleuth.agents.textmatch import content_terms
from sleuth.tools.llm import ChatRequest, ChatResponse, Usage
from sleuth.tools.records import Passage, short_id

# the output schema of each research task, as the nodes ask for it
SCHEMAS = {
    "planner": PlanOutput,
    "decide": DecisionOutput,
    "rewriter": QueriesOutput,
    "writer": DraftOutput,
    "verifier": VerdictsOutput,
}

NOTES = {
    "bm25": (
        "BM25",
        "BM25 is a lexical ranking function that scores documents by query term frequency and inverse "
        "document frequency. Its k1 parameter controls term-frequency saturation and b controls length "
        "normalisation. BM25 excels at exact matches on rare tokens such as product codes and error "
        "messages.",
    ),
    "dense": (
        "Dense retrieval",
        "Dense retrieval encodes queries and passages as embedding vectors and ranks passages by cosine "
        "similarity. Dense retrieval matches meaning across different wording, which addresses vocabulary "
        "mismatch. Dense retrievers struggle with rare tokens that the encoder never saw in training.",
    ),
    "rrf": (
        "Reciprocal rank fusion",
        "Reciprocal rank fusion combines several rankings by summing one over sixty plus the rank of each "
        "document. Reciprocal rank fusion needs no score normalisation because it uses only ranks.",
    ),
    "hyde": (
        "HyDE",
        "HyDE asks a language model to write a hypothetical answer document and embeds that document "
        "instead of the query. HyDE helps zero-shot dense retrieval when no relevance labels exist.",
    ),
    "bread": (
        "Sourdough bread",
        "Sourdough bread rises because wild yeast and lactic acid bacteria ferment the dough. Bakers feed "
        "the starter with flour and water every day.",
    ),
}


def note_passage(doc_id: str) -> Passage:
    title, text = NOTES[doc_id]
    return Passage(
        chunk_id=short_id(doc_id, "0"),
        doc_id=doc_id,
        title=title,
        source=f"/notes/{doc_id}.md",
        start=0,
        end=len(text),
        text=text,
        score=0.0,
    )


class TinyCorpus:
    """``SearchBackend`` over NOTES: term-overlap ranking, with overlap standing in for cosine."""

    def __init__(self) -> None:
        self.passages = [note_passage(doc_id) for doc_id in NOTES]
        self.queries: list[str] = []

    def search(self, query: str, k: int = 10) -> list[Passage]:
        self.queries.append(query)
        asked = set(content_terms(query, drop_question_words=True))
        scored = []
        for p in self.passages:
            terms = set(content_terms(f"{p.title} {p.text}"))
            overlap = len(asked & terms) / (len(asked) or 1)
            scored.append((overlap, p))
        scored.sort(key=lambda item: (-item[0], item[1].chunk_id))
        return [
            Passage(
                **{
                    **p.to_dict(),
                    "score": 1 / (60 + rank),
                    "dense_score": overlap,
                    "lexical_score": overlap,
                    "lexical_rank": rank if overlap > 0 else None,
                    "dense_rank": rank,
                }
            )
            for rank, (overlap, p) in enumerate(scored[:k], start=1)
        ]

    def get(self, chunk_id: str) -> Passage:
        return next(p for p in self.passages if p.chunk_id == chunk_id)


Responder = Callable[[ChatRequest], str | dict[str, Any]]


def inputs_of(request: ChatRequest) -> dict[str, Any]:
    """What the request's rendered messages say, read back the way a server would see them."""
    return read_inputs(request.messages)


class ScriptedModel:
    """A ChatModel that answers from a per-task responder and records every request."""

    def __init__(self, responders: dict[str, Responder], name: str = "scripted") -> None:
        self.responders = responders
        self.name = name
        self.requests: list[ChatRequest] = []

    def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        answer = self.responders[request.task](request)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return ChatResponse(text=text, usage=Usage(10, 5), model=self.name)


def plan_of(*questions: str) -> Responder:
    return lambda request: {"sub_questions": [{"question": q, "needs": ""} for q in questions]}


def queries_from_question(request: ChatRequest) -> dict[str, Any]:
    return {"queries": [inputs_of(request)["sub_question"]]}


def first_sentence_writer(request: ChatRequest) -> dict[str, Any]:
    """Writes one claim per section: the first sentence of its best passage, citing it."""
    sections = []
    for section in inputs_of(request)["sections"]:
        best = section["evidence"][0]
        sections.append(
            {
                "id": section["id"],
                "claims": [{"text": best["text"].split(". ")[0] + ".", "citations": [best["ref"]]}],
            }
        )
    return {"sections": sections}


def verdict_for_all(verdict: str) -> Responder:
    return lambda request: {
        "verdicts": [
            {"claim_id": c["claim_id"], "verdict": verdict, "reason": "scripted"}
            for c in inputs_of(request)["claims"]
        ]
    }
