"""Reciprocal rank fusion against hand-computed cases."""

from __future__ import annotations

import pytest

from sleuth.tools.corpus.hybrid import rrf_fuse, score_fuse


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


def test_score_fusion_matches_hand_computation() -> None:
    # lexical 12, 9 -> 1.0, 0.0; dense 0.8, 0.7, 0.1 -> 1.0, 6/7, 0.0; weights 0.5 each
    hits = score_fuse([("lexical", [(7, 12.0), (3, 9.0)]), ("dense", [(3, 0.8), (5, 0.7), (7, 0.1)])])
    fused = {h.key: h.fused for h in hits}
    assert fused[7] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert fused[3] == pytest.approx(0.5 * 0.0 + 0.5 * 1.0)
    assert fused[5] == pytest.approx(0.5 * 6 / 7)
    assert [h.key for h in hits] == [3, 7, 5]  # the tie between 3 and 7 breaks by key
    assert (hits[0].lexical_rank, hits[0].dense_rank, hits[0].dense_score) == (2, 1, 0.8)


def test_score_fusion_keeps_score_gaps_that_rank_fusion_forgets() -> None:
    # "a" is far ahead in BM25 and only a hair behind in cosine: RRF sees ranks 1 and 3 and puts "b"
    # (ranks 2 and 1) first; score fusion sees the margins and puts "a" first.
    lexical = [("a", 20.0), ("b", 2.0), ("c", 1.9), ("d", 1.0)]
    dense = [("b", 0.62), ("c", 0.61), ("a", 0.60), ("d", 0.10)]
    assert rrf_fuse([("lexical", lexical), ("dense", dense)])[0].key == "b"
    assert score_fuse([("lexical", lexical), ("dense", dense)])[0].key == "a"


def test_score_fusion_normalises_each_list_on_its_own_and_handles_one_item_lists() -> None:
    hits = score_fuse(
        [
            ("lexical", [(("local", 0), 3.0)]),
            ("lexical", [(("web", 0), 90.0)]),
            ("dense", [(("web", 0), 0.9)]),
        ]
    )
    fused = {h.key: h.fused for h in hits}
    assert fused == {("web", 0): pytest.approx(1.0), ("local", 0): pytest.approx(0.5)}
    assert score_fuse([("lexical", []), ("dense", [])]) == []
