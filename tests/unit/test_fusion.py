"""Reciprocal rank fusion against hand-computed cases."""

from __future__ import annotations

import pytest

from tools.hybrid import rrf_fuse


def test_rrf_scores_match_hand_computation() -> None:
    hits = rrf_fuse([("lexical", [(7, 12.0), (3, 9.0)]), ("dense", [(3, 0.8), (5, 0.7), (7, 0.1)])], rrf_k=60)
    fused = {h.key: h.fused for h in hits}
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[7] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[5] == pytest.approx(1 / 62)
    assert [h.key for h in hits] == [3, 7, 5]


def test_rrf_keeps_each_retrievers_score_and_rank() -> None:
    hits = {h.key: h for h in rrf_fuse([("lexical", [(1, 4.0)]), ("dense", [(2, 0.5), (1, 0.4)])])}
    assert (hits[1].lexical_rank, hits[1].lexical_score, hits[1].dense_rank, hits[1].dense_score) == (
        1,
        4.0,
        2,
        0.4,
    )
    assert hits[2].lexical_rank is None and hits[2].dense_rank == 1


def test_rrf_ties_break_deterministically() -> None:
    hits = rrf_fuse([("lexical", [(9, 1.0)]), ("dense", [(4, 1.0)])])
    assert [h.key for h in hits] == [4, 9]


def test_rrf_of_nothing_is_empty() -> None:
    assert rrf_fuse([("lexical", []), ("dense", [])]) == []


def test_rrf_accepts_several_lexical_rankings_over_disjoint_keys() -> None:
    hits = rrf_fuse(
        [("lexical", [(("local", 0), 3.0)]), ("lexical", [(("web", 0), 9.0)]), ("dense", [(("web", 0), 0.9)])]
    )
    assert [h.key for h in hits] == [("web", 0), ("local", 0)]
    assert hits[1].fused == pytest.approx(1 / 61)
