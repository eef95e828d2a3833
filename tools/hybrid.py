"""Hybrid retrieval: BM25 and dense results fused with reciprocal rank fusion (Cormack et al. 2009).

RRF needs no score calibration between the two retrievers, which matters here: BM25 scores are
unbounded and corpus-dependent while cosine similarities sit in a narrow band.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.lexical import LexicalIndex
from tools.protocols import Embedder
from tools.records import Passage
from tools.vectors import VectorIndex

RRF_K = 60


@dataclass
class _Hit:
    row: int
    fused: float = 0.0
    lexical_score: float | None = None
    lexical_rank: int | None = None
    dense_score: float | None = None
    dense_rank: int | None = None


def rrf_fuse(rankings: dict[str, list[tuple[int, float]]], rrf_k: int = RRF_K) -> list[_Hit]:
    """Fuse ranked lists {"lexical": [(row, score)...], "dense": [...]} into hits, best first."""
    hits: dict[int, _Hit] = {}
    for name, ranking in rankings.items():
        for rank, (row, score) in enumerate(ranking, start=1):
            hit = hits.setdefault(row, _Hit(row))
            hit.fused += 1.0 / (rrf_k + rank)
            setattr(hit, f"{name}_score", score)
            setattr(hit, f"{name}_rank", rank)
    return sorted(hits.values(), key=lambda h: (-h.fused, h.row))


class HybridSearch:
    """``SearchBackend`` over the local corpus. ``depth`` is how many candidates each retriever gives."""

    def __init__(
        self, lexical: LexicalIndex, vectors: VectorIndex, embedder: Embedder, *, depth: int = 100
    ) -> None:
        self.lexical = lexical
        self.vectors = vectors
        self.embedder = embedder
        self.depth = depth

    def search(self, query: str, k: int = 10) -> list[Passage]:
        if not query.strip() or k <= 0 or not len(self.lexical):
            return []
        depth = max(self.depth, k)
        lexical = self.lexical.search(query, depth)
        vector = self.embedder.embed([query])[0]
        row_of = self.lexical.row_of
        dense = [(row_of[cid], sim) for cid, sim in self.vectors.query(vector, depth) if cid in row_of]
        return [self._passage(h) for h in rrf_fuse({"lexical": lexical, "dense": dense})[:k]]

    def _passage(self, hit: _Hit) -> Passage:
        row = self.lexical.row(hit.row)
        return Passage(
            chunk_id=row.chunk_id,
            doc_id=row.doc_id,
            title=row.title,
            source=row.source,
            start=row.start,
            end=row.end,
            text=row.text,
            score=hit.fused,
            origin=row.origin,  # type: ignore[arg-type]
            lexical_score=hit.lexical_score,
            dense_score=hit.dense_score,
            lexical_rank=hit.lexical_rank,
            dense_rank=hit.dense_rank,
        )
