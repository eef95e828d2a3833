"""Ranking metrics with trec_eval's definitions (what BEIR reports through pytrec_eval).

Each per-query function takes the ranked doc ids (best first, no duplicates) and the query's
judgments ``{doc_id: grade}``; a grade <= 0 counts as not relevant. Gains are linear in the grade
(trec_eval's ``ndcg_cut``), which equals the 2^g - 1 form for SciFact's binary judgments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

Ranking = Sequence[str]
Judgments = Mapping[str, int]


def _relevant(qrels: Judgments) -> set[str]:
    return {d for d, g in qrels.items() if g > 0}


def ndcg_at(ranked: Ranking, qrels: Judgments, k: int) -> float:
    dcg = sum(max(qrels.get(d, 0), 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in qrels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: Ranking, qrels: Judgments, k: int) -> float:
    relevant = _relevant(qrels)
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Ranking, qrels: Judgments, k: int) -> float:
    relevant = _relevant(qrels)
    return next((1.0 / (i + 1) for i, d in enumerate(ranked[:k]) if d in relevant), 0.0)


def hits_at(ranked: Ranking, qrels: Judgments, k: int) -> float:
    return 1.0 if _relevant(qrels).intersection(ranked[:k]) else 0.0


def map_at(ranked: Ranking, qrels: Judgments, k: int) -> float:
    """Average precision cut at k, divided by all relevant docs (trec_eval ``map_cut``)."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    found, total = 0, 0.0
    for i, d in enumerate(ranked[:k]):
        if d in relevant:
            found += 1
            total += found / (i + 1)
    return total / len(relevant)


MetricFn = Callable[[Ranking, Judgments, int], float]
STANDARD: dict[str, tuple[MetricFn, int]] = {
    "ndcg@10": (ndcg_at, 10),
    "recall@100": (recall_at, 100),
    "mrr@10": (mrr_at, 10),
    "map@10": (map_at, 10),
    "hits@1": (hits_at, 1),
    "hits@10": (hits_at, 10),
}


def per_query(
    ranked: Ranking, qrels: Judgments, metrics: Mapping[str, tuple[MetricFn, int]] = STANDARD
) -> dict[str, float]:
    return {name: fn(ranked, qrels, k) for name, (fn, k) in metrics.items()}


def evaluate(
    runs: Mapping[str, Ranking],
    qrels: Mapping[str, Judgments],
    metrics: Mapping[str, tuple[MetricFn, int]] = STANDARD,
) -> dict[str, float]:
    """Mean of each metric over every judged query; a query missing from ``runs`` scores 0."""
    if not qrels:
        return {name: 0.0 for name in metrics}
    totals = dict.fromkeys(metrics, 0.0)
    for qid, judgments in qrels.items():
        for name, value in per_query(runs.get(qid, []), judgments, metrics).items():
            totals[name] += value
    return {name: round(total / len(qrels), 4) for name, total in totals.items()}
