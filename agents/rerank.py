"""Reranking between first-stage retrieval and the relevance cut-off.

``LLMReranker`` is listwise reranking with the configured chat model over sliding windows (RankGPT,
Sun et al. 2023): windows of ``window`` passages, moved from the bottom of the candidate list to the
top by ``step``, so a good passage can climb the whole list in one pass. Each window is one budgeted
call, counted in the run's usage:
- where the endpoint returns log-probabilities, first-token scoring (FIRST, Reddy et al. 2024): the
  passages are labelled A, B, C...; the model is asked for the best label, and the window is ordered
  by the log-probability of each label as the answer's first token (one output token per call);
- otherwise a generated permutation (``call_structured``, JSON); passages it leaves out keep their old
  order after the ranked ones. An endpoint found without logprobs is not asked for them again.

``rerank_rankings`` applies any ``Reranker`` to a sub-question's per-query rankings at once: their
candidates are pooled (one reranking per sub-question, not per query) and each query's list is put in
the pooled order. A passage takes over the fused score of the place it moves to, so the relevance
cut-off (agents/relevance.py), which compares scores with the best hit's, keeps working unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sleuth.agents.budget import Ledger
from sleuth.agents.common import usage_of
from sleuth.agents.schemas import RankingOutput
from sleuth.agents.structured import call_first_token, call_structured
from sleuth.tools.errors import BudgetExceeded, LogprobsUnsupported, OutputInvalid
from sleuth.tools.llm import ChatModel
from sleuth.tools.protocols import Reranker
from sleuth.tools.records import Passage

# of each candidate shown to the model: its first sentences are enough to judge, and a window of 10 is
# ~900 prompt tokens (~30 s of prompt on a 1.5B model on 2 CPU cores)
PASSAGE_CHARS = 400
LABELS = [chr(ord("A") + n) for n in range(20)]  # one token each; APIs give at most 20 top logprobs


@dataclass
class LLMReranker:
    model: ChatModel
    ledger: Ledger
    window: int = 10
    step: int = 5
    usage: list[dict[str, Any]] = field(default_factory=list)  # one record per call, for the run record
    first_token: bool | None = None  # None until the endpoint showed whether it returns logprobs

    @property
    def name(self) -> str:
        return f"llm:{self.model.name}"

    def score(self, query: str, texts: list[str]) -> list[float]:
        order = list(range(len(texts)))
        end = len(order)
        while end > 0:
            start = max(0, end - self.window)
            stop = min(len(order), start + self.window)  # the top window is full size too
            order[start:stop] = self._rank_window(query, texts, order[start:stop])
            if start == 0:
                break
            end -= self.step
        return [float(len(order) - order.index(i)) for i in range(len(texts))]

    def _rank_window(self, query: str, texts: list[str], members: list[int]) -> list[int]:
        if len(members) < 2:
            return members
        if self.first_token is not False and len(members) <= len(LABELS):
            try:
                ranked = self._first_token_window(query, texts, members)
                self.first_token = True
                return ranked
            except LogprobsUnsupported:
                self.first_token = False
        return self._permutation_window(query, texts, members)

    def _first_token_window(self, query: str, texts: list[str], members: list[int]) -> list[int]:
        labels = dict(zip(LABELS, members, strict=False))
        inputs = {
            "query": query,
            "passages": [{"ref": label, "text": texts[i][:PASSAGE_CHARS]} for label, i in labels.items()],
        }
        try:
            logprobs, usage = call_first_token(
                self.model,
                self.ledger,
                task="reranker",
                inputs=inputs,
                prompt="reranker_first",
                top=len(labels),
            )
        except BudgetExceeded as e:
            self.usage += usage_of(e)
            raise
        self.usage += usage
        if logprobs is None:  # an answer without them (the offline engine, a server that ignores them)
            raise LogprobsUnsupported(f"{self.model.name} gave no log-probabilities")
        order = sorted(labels, key=lambda label: (-logprobs.get(label, float("-inf")), label))
        return [labels[label] for label in order]

    def _permutation_window(self, query: str, texts: list[str], members: list[int]) -> list[int]:
        refs = {str(n): i for n, i in enumerate(members, start=1)}
        inputs = {
            "query": query,
            "passages": [{"ref": ref, "text": texts[i][:PASSAGE_CHARS]} for ref, i in refs.items()],
        }
        try:
            result = call_structured(
                self.model, self.ledger, task="reranker", inputs=inputs, schema=RankingOutput
            )
        except (BudgetExceeded, OutputInvalid) as e:  # the calls made still count in the run record
            self.usage += usage_of(e)
            raise
        self.usage += result.usage
        ranked = list(
            dict.fromkeys(
                refs[r.strip().strip("[]")] for r in result.value.ranking if r.strip().strip("[]") in refs
            )
        )
        return ranked + [i for i in members if i not in ranked]


def passage_text(passage: Passage) -> str:
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


def rerank_passages(reranker: Reranker, query: str, passages: Sequence[Passage], depth: int) -> list[Passage]:
    """The top ``depth`` passages in the reranker's order (the rest after them, as they were), each
    carrying its ``rerank_score`` and the fused score of the place it moved to."""
    head, tail = list(passages[:depth]), list(passages[depth:])
    if len(head) < 2:
        return list(passages)
    scores = reranker.score(query, [passage_text(p) for p in head])
    order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
    places = [p.score for p in head]
    return [
        replace(head[i], score=places[place], rerank_score=scores[i]) for place, i in enumerate(order)
    ] + tail


def rerank_rankings(
    reranker: Reranker, topic: str, rankings: list[tuple[str, list[Passage]]], depth: int
) -> tuple[list[tuple[str, list[Passage]]], int]:
    """Each query's ranking in the order the reranker gives their pooled candidates for ``topic``;
    also how many candidates were reranked."""
    pool: dict[str, Passage] = {}
    for _, passages in rankings:
        for p in passages:
            if p.chunk_id not in pool or p.score > pool[p.chunk_id].score:
                pool[p.chunk_id] = p
    best = sorted(pool.values(), key=lambda p: (-p.score, p.chunk_id))[:depth]
    reranked = rerank_passages(reranker, topic, best, depth)
    position = {p.chunk_id: n for n, p in enumerate(reranked)}
    rerank_score = {p.chunk_id: p.rerank_score for p in reranked}
    out = []
    for query, passages in rankings:
        inside = sorted((p for p in passages if p.chunk_id in position), key=lambda p: position[p.chunk_id])
        places = sorted((p.score for p in passages if p.chunk_id in position), reverse=True)
        moved = [
            replace(p, score=s, rerank_score=rerank_score[p.chunk_id])
            for p, s in zip(inside, places, strict=True)
        ]
        rest = [p for p in passages if p.chunk_id not in position]
        out.append((query, sorted(moved + rest, key=lambda p: -p.score)))
    return out, len(best)
