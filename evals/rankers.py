"""Document rankers built from the corpus's real pieces, and the retrieval variants we measure.

Every eval corpus stores one document per eval doc, chunked; a document's score under a retriever is
the best score of its chunks (``max`` aggregation), so its rank is where its first chunk appears.
The variants here are candidates for tools/ (see evals/README.md): they compose ``LexicalIndex``,
``VectorIndex``, the embedder and ``rrf_fuse`` without changing them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np

from sleuth.tools.corpus.hybrid import HybridSearch, rrf_fuse
from sleuth.tools.corpus.lexical import BM25_B, BM25_K1, LexicalIndex, index_text, tokenize
from sleuth.tools.corpus.local_corpus import LocalCorpus

DocRanking = list[tuple[str, float]]  # (doc_id, score), best first


def docs_from_rows(index: LexicalIndex, ranking: Iterable[tuple[int, float]]) -> DocRanking:
    """Chunk rows (best first) to documents, keeping each document's best chunk (max aggregation)."""
    seen: dict[str, float] = {}
    for row, score in ranking:
        doc_id = index.row(row).doc_id
        seen.setdefault(doc_id, score)
    return list(seen.items())


TermScores = Callable[[str], "np.ndarray | None"]  # one token's BM25 score per row, None if unknown


def bm25s_term_scores(bm25: bm25s.BM25) -> TermScores:
    return lambda token: bm25.get_scores([token]) if token in bm25.vocab_dict else None


def weighted_lexical(
    term_scores: TermScores, weights: dict[str, float], depth: int
) -> list[tuple[int, float]]:
    """BM25 with a weight per query token (RM3-style expanded queries); rows best first."""
    scores: np.ndarray | None = None
    for token, weight in weights.items():
        token_scores = term_scores(token)
        if token_scores is not None:
            part = weight * token_scores.astype(np.float64)
            scores = part if scores is None else scores + part
    if scores is None:
        return []
    top = np.argpartition(-scores, min(depth, len(scores)) - 1)[:depth]
    top = top[scores[top] > 0]
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(r), float(scores[r])) for r in top]


def title_boosted_bm25(index: LexicalIndex, title_repeats: int) -> bm25s.BM25:
    """A BM25 over the same chunk rows with the document title repeated: title weighting in one field."""
    rows = [index.row(i) for i in range(len(index))]
    texts = ["\n".join([r.title] * title_repeats + [r.text]) for r in rows]
    bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
    bm25.index(tokenize(texts), show_progress=False)
    return bm25


@dataclass(frozen=True)
class PRF:
    """Pseudo-relevance feedback for BM25 (RM3-like): expand with frequent terms of the top documents."""

    fb_docs: int = 5
    fb_terms: int = 10
    original_weight: float = 0.7

    def expand(
        self, index: LexicalIndex, query: str, first_pass: Sequence[tuple[int, float]]
    ) -> dict[str, float]:
        query_tokens = Counter(tokenize([query])[0])
        top_rows = [row for row, _ in first_pass[: self.fb_docs]]
        top_scores = np.array([s for _, s in first_pass[: self.fb_docs]], np.float64)
        if not top_rows:
            return dict(query_tokens)
        doc_weights = np.exp(top_scores - top_scores.max())  # soft, query-likelihood-like document weights
        expansion: Counter[str] = Counter()
        for row, weight in zip(top_rows, doc_weights / doc_weights.sum(), strict=True):
            chunk = index.row(row)
            tokens = tokenize([index_text(chunk.title, chunk.text)])[0]
            for token, count in Counter(tokens).items():
                expansion[token] += weight * count / len(tokens)
        best = dict(expansion.most_common(self.fb_terms))
        norm_q = sum(query_tokens.values())
        norm_e = sum(best.values()) or 1.0
        weights = {t: self.original_weight * c / norm_q for t, c in query_tokens.items()}
        for token, value in best.items():
            weights[token] = weights.get(token, 0.0) + (1 - self.original_weight) * value / norm_e
        return weights


class CandidateRanker:
    """Per query: BM25 (optionally PRF-expanded) and dense document rankings, from the real indexes."""

    def __init__(self, corpus: LocalCorpus, depth: int = 300, bm25: bm25s.BM25 | None = None) -> None:
        self.corpus = corpus
        self.index = corpus.lexical()
        self.depth = depth
        # the snapshot's own BM25 unless a variant (title weighting) is given
        self.term_scores = bm25s_term_scores(bm25) if bm25 is not None else self.index.term_scores

    def lexical(self, query: str, prf: PRF | None = None) -> DocRanking:
        weights = dict(Counter(tokenize([query])[0]))
        rows = weighted_lexical(self.term_scores, weights, self.depth)
        if prf is not None:
            rows = weighted_lexical(self.term_scores, prf.expand(self.index, query, rows), self.depth)
        return docs_from_rows(self.index, rows)

    def dense_rows_many(self, queries: list[str]) -> list[list[tuple[int, float]]]:
        """Chunk rows by cosine similarity (Chroma), best first, one list per query."""
        ranked = []
        for vector in self.corpus.embedder.embed(queries):
            nearest = self.corpus.vectors.query(vector, self.depth)
            rows = self.index.row_indices([c for c, _ in nearest])
            ranked.append([(r, s) for r, (_, s) in zip(rows, nearest, strict=True) if r is not None])
        return ranked

    def dense_many(self, queries: list[str]) -> list[DocRanking]:
        return [docs_from_rows(self.index, rows) for rows in self.dense_rows_many(queries)]

    def chunk_rrf(
        self, query: str, dense_rows: list[tuple[int, float]], rrf_k: int, depth: int = 100
    ) -> DocRanking:
        """``HybridSearch`` with another RRF constant (chunk level, depth 100 each)."""
        fused = rrf_fuse([("lexical", self.index.search(query, depth)), ("dense", dense_rows[:depth])], rrf_k)
        return docs_from_rows(self.index, ((h.key, h.fused) for h in fused))

    def production_hybrid(self, query: str, k: int = 100) -> DocRanking:
        """Exactly what ``LocalCorpus.search`` does (``HybridSearch``: chunk-level fusion, depth 100)."""
        hybrid = HybridSearch(self.index, self.corpus.vectors, self.corpus.embedder)
        return docs_from_rows(
            self.index, ((self.index.row_index(p.chunk_id), p.score) for p in hybrid.search(query, k))
        )


def rrf_docs(
    lexical: DocRanking, dense: DocRanking, *, rrf_k: int = 60, w_lexical: float = 1.0, depth: int = 100
) -> list[str]:
    """Document-level (weighted) RRF; ``w_lexical`` scales BM25's share, dense gets ``2 - w_lexical``."""
    if w_lexical == 1.0:
        return [h.key for h in rrf_fuse([("lexical", lexical[:depth]), ("dense", dense[:depth])], rrf_k)]
    fused: dict[str, float] = {}
    for weight, ranking in ((w_lexical, lexical[:depth]), (2.0 - w_lexical, dense[:depth])):
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (rrf_k + rank)
    return sorted(fused, key=lambda d: (-fused[d], d))


def convex_docs(lexical: DocRanking, dense: DocRanking, *, alpha: float = 0.5, depth: int = 100) -> list[str]:
    """Min-max normalised score combination: ``alpha * bm25 + (1 - alpha) * cosine`` over the union."""

    def normalised(ranking: DocRanking) -> dict[str, float]:
        if not ranking:
            return {}
        scores = [s for _, s in ranking[:depth]]
        low, high = min(scores), max(scores)
        return {d: (s - low) / (high - low) if high > low else 1.0 for d, s in ranking[:depth]}

    lex, den = normalised(lexical), normalised(dense)
    fused = {d: alpha * lex.get(d, 0.0) + (1 - alpha) * den.get(d, 0.0) for d in lex.keys() | den.keys()}
    return sorted(fused, key=lambda d: (-fused[d], d))
