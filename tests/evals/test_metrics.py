"""Metrics against hand-computed cases (trec_eval definitions)."""

import math

import pytest

from evals.metrics import evaluate, hits_at, map_at, mrr_at, ndcg_at, recall_at

QRELS = {"a": 1, "c": 1, "x": 0}  # two relevant docs; "x" judged not relevant
RANKED = ["b", "a", "x", "c", "d"]  # relevant at ranks 2 and 4


def test_ndcg_hand_computed() -> None:
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(RANKED, QRELS, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(RANKED, QRELS, 3) == pytest.approx((1 / math.log2(3)) / idcg)
    assert ndcg_at(["a", "c"], QRELS, 10) == pytest.approx(1.0)


def test_ndcg_graded_uses_linear_gain() -> None:
    qrels = {"a": 2, "b": 1}
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at(["b", "a"], qrels, 10) == pytest.approx(expected)


def test_recall_mrr_hits() -> None:
    assert recall_at(RANKED, QRELS, 3) == 0.5
    assert recall_at(RANKED, QRELS, 100) == 1.0
    assert mrr_at(RANKED, QRELS, 10) == 0.5
    assert mrr_at(RANKED, QRELS, 1) == 0.0
    assert hits_at(RANKED, QRELS, 1) == 0.0
    assert hits_at(RANKED, QRELS, 2) == 1.0


def test_map_divides_by_all_relevant() -> None:
    assert map_at(RANKED, QRELS, 10) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert map_at(RANKED, QRELS, 3) == pytest.approx((1 / 2) / 2)  # "c" is cut off but still counted


def test_no_relevant_docs_scores_zero() -> None:
    for fn in (ndcg_at, recall_at, mrr_at, hits_at, map_at):
        assert fn(["a"], {"a": 0}, 10) == 0.0


def test_evaluate_means_over_judged_queries_missing_run_scores_zero() -> None:
    result = evaluate({"q1": ["a"]}, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert result["ndcg@10"] == 0.5
    assert result["hits@1"] == 0.5
    assert result["recall@100"] == 0.5
