"""Which retrieved passages are relevant enough to reach the writer.

A fixed top-k lets the tail of every ranking through. A passage is kept when:
- its fused score is within ``relevance_min_score_ratio`` of the query's best hit, and
- the dense retriever finds it similar (cosine >= ``relevance_min_cosine``) or it is a top-3 BM25 hit, and
- it mentions at least one topical term of the sub-question (or is strongly similar: cosine >= 0.5).
"""

from __future__ import annotations

from collections.abc import Iterable

from sleuth.agents.budget import ResearchLimits
from sleuth.agents.textmatch import coverage
from sleuth.tools.records import Passage

STRONG_COSINE = 0.5
TOP_LEXICAL_RANK = 3


def is_relevant(passage: Passage, best_score: float, topic: str, limits: ResearchLimits) -> bool:
    if best_score > 0 and passage.score < limits.relevance_min_score_ratio * best_score:
        return False
    dense = passage.dense_score if passage.dense_score is not None else -1.0
    lexical_top = passage.lexical_rank is not None and passage.lexical_rank <= TOP_LEXICAL_RANK
    if dense < limits.relevance_min_cosine and not lexical_top:
        return False
    return dense >= STRONG_COSINE or coverage(topic, f"{passage.title}\n{passage.text}") > 0


def relevant_hits(
    rankings: Iterable[tuple[str, list[Passage]]], topic: str, limits: ResearchLimits
) -> dict[str, tuple[Passage, str]]:
    """Per-query rankings merged into chunk_id -> (best passage, query that found it), cut-off applied."""
    kept: dict[str, tuple[Passage, str]] = {}
    for query, passages in rankings:
        best = max((p.score for p in passages), default=0.0)
        for passage in passages:
            if not is_relevant(passage, best, topic, limits):
                continue
            current = kept.get(passage.chunk_id)
            if current is None or passage.score > current[0].score:
                kept[passage.chunk_id] = (passage, query)
    return kept
