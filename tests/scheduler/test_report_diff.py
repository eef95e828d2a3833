"""The pure "what changed" functions: sources by path/URL, passages by text hash, claims by normalised text."""

from __future__ import annotations

from sleuth.reports.changes import (
    diff_snapshots,
    normalise_claim,
    render_changes_markdown,
    snapshot,
    text_hash,
)


def report(sources: list[tuple[str, str]], claims: list[str], dropped: list[str] = ()) -> dict:
    return {
        "sources": [
            {"n": i, "source": s, "title": s.upper(), "chunk_id": c} for i, (s, c) in enumerate(sources, 1)
        ],
        "sections": [{"claims": [{"text": t} for t in claims]}],
        "dropped_claims": [{"text": t} for t in dropped],
        "conflicts": [],
    }


TEXTS = {"a1": "alpha text", "b1": "beta text", "b2": "beta text, edited", "c1": "gamma", "d1": "delta"}


def test_new_disappeared_changed_sources_and_claims() -> None:
    before = snapshot(
        report([("a", "a1"), ("b", "b1"), ("c", "c1"), ("e", "a1")], ["BM25 ranks [1].", "Old claim."]), TEXTS
    )
    after = snapshot(
        report([("a", "a1"), ("b", "b2"), ("d", "d1")], ["bm25 ranks", "New claim."], dropped=["Old claim."]),
        TEXTS,
    )
    corpus_now = {
        "a": {text_hash("alpha text")},
        "b": {text_hash("beta text, edited")},
        "e": {text_hash("alpha text")},
    }
    changes = diff_snapshots(before, after, corpus_now)
    assert changes["new_sources"] == [{"source": "d", "title": "D"}]
    assert changes["disappeared_sources"] == [
        {"source": "c", "title": "C", "why": "removed from the corpus"},
        {"source": "e", "title": "E", "why": "no longer cited"},
    ]
    assert changes["changed_sources"] == [{"source": "b", "title": "B"}]
    assert changes["new_claims"] == [{"text": "New claim."}]  # "bm25 ranks" is the same claim
    assert changes["unsupported_claims"] == [{"text": "Old claim.", "why": "now judged unsupported"}]


def test_no_changes_and_first_run_render_one_line() -> None:
    snap = snapshot(report([("a", "a1")], ["A claim."]), TEXTS)
    same = diff_snapshots(snap, snap, {"a": {text_hash("alpha text")}})
    assert not any(same.values())
    assert "_Nothing changed" in render_changes_markdown(same, "2026-11-30 07:00 UTC")
    assert "_First run of this job" in render_changes_markdown(None, None)


def test_claims_compare_without_case_punctuation_or_citation_marks() -> None:
    assert normalise_claim("BM25 is  lexical [1][2].") == normalise_claim("bm25 is lexical")
